// Package audit is the trail of what a Riposte manager decided and did and
// of what its operators changed: every decision, every command sent, every
// acknowledgement and run result, every expired or undeliverable command,
// and every change made through the API with who made it. Records are kept
// in memory for queries (by kind, agent, address, command, user and time)
// and rebuilt at start from the JetStream stream that holds them durably.
package audit
