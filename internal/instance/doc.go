// Package instance assembles the all-in-one Riposte process that
// `riposte run` starts: the response engine, the local executor (agent 000),
// the alert inputs (control socket, loopback HTTP, followed alerts.json
// files) and their logs. It is wiring only; the policy lives in respond and
// the execution in execd.
package instance
