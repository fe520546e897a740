// Package agent is the agent's side of the fleet. It receives the commands
// the manager sends to this agent, runs each valid one exactly once through
// an [Executor], reports acknowledgements and results (kept on disk until
// the manager has them), sends heartbeats and forwards the log events the
// host collects. It keeps enforcing while the manager is away: the executor
// keeps its own timers, and whatever the agent has to say waits in its
// outbox until the connection comes back.
//
// Commands are handled one at a time, in the order they arrive, by one
// goroutine: parsed, checked (valid, for this agent, not expired, not seen
// before), handed to the executor, recorded as seen, acknowledged.
// Acknowledgements and results share one durable outbox (a bbolt file, with
// the seen command ids), published in order whenever the agent is
// connected and removed once the server has them.
//
// Delivery to the manager is at least once: a result published but not yet
// removed from the outbox when the agent stops is published again. Every
// outbox message carries a Nats-Msg-Id header unique to this agent's state
// file, so a JetStream stream drops the repeat.
//
// agent speaks fleet's wire contract and imports no stage after it (execd,
// respond) nor the wiring (instance, api): the wiring adapts execd to
// [Executor].
package agent
