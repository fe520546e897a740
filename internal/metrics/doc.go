// Package metrics is the Prometheus metrics of a Riposte process: one
// registry per [Metrics] (never the global default registry), with the Go
// runtime and process collectors, served by [Metrics.Handler].
//
// Metrics:
//
//	riposte_alerts_total{source}                 alerts accepted, by entry point
//	riposte_alerts_malformed_total{source}       alerts that could not be parsed
//	riposte_decisions_total{outcome}             decisions made (one per triggered block)
//	riposte_dispatch_total{delivery}             commands handed to the fleet, per target agent
//	riposte_runs_total{command,verb,status}      runs of responses reported by the agents
//	riposte_verified_total{command}              blocks read back in place by the built-in actions
//	riposte_active_responses{backend,agent}      stateful responses in force (computed at scrape time)
//	riposte_queue_depth{queue}                   depth of the process's queues (computed at scrape time)
//	riposte_latency_seconds{stage}               histogram, buckets 100µs to 10s, by stage:
//	    decision   alert accepted → decision made
//	    dispatch   decision → command sent (or queued, or refused) to an agent
//	    run_start  command issued → script or built-in action started on the agent
//	    run        how long the run took on the agent
//	    verified   alert accepted → block confirmed in place (read back)
//
// Label values come from a closed set or are capped, so that no input an
// attacker controls can grow the number of series:
//
//   - source: socket, http, api, alerts_json, analysis, other.
//   - outcome: run, dry-run, allowlisted, rejected, duplicate, other (the
//     names of respond's outcomes).
//   - delivery: sent, queued, undeliverable ("not deliverable: ..."),
//     failed ("failed: ..."), other: the reason after the colon is
//     dropped, it is in the audit trail.
//   - verb: add, delete, other. status: ok, aborted, failed, killed,
//     not-found, error, other (execd's statuses).
//   - command: the <command> name as given, if it is 1 to 64 of
//     A-Z a-z 0-9 . _ - and ! and among the first 64 distinct names seen;
//     otherwise other.
//   - agent appears only on riposte_active_responses, a gauge rebuilt at
//     every scrape from the current state, so agents that are gone leave no
//     series behind; beyond 10,000 agent series per scrape (in agent
//     order) the rest are summed under agent="other". Counters carry no
//     agent and no address label: per-agent and per-address detail is in
//     the audit trail. backend and queue: 1 to 64 of the characters above,
//     otherwise other.
//
// The calls on the hot path ([Metrics.Alert], [Metrics.Decision],
// [Metrics.Dispatch], [Metrics.Run], [Metrics.Verified]) take no lock and
// allocate nothing once a label combination has been seen (only commands
// past the cap take a lock every time); a nil *Metrics
// is valid and records nothing, so components can be built without metrics.
//
// metrics is a leaf: it imports no other Riposte package, and the stages
// call it with plain strings.
package metrics
