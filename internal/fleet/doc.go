// Package fleet is the wire contract between a Riposte manager and its
// agents: the NATS subjects each side uses, what an agent may publish and
// subscribe to, the names of the JetStream streams and key-value buckets
// that hold the manager's state, and the JSON messages that travel on them
// (commands, acknowledgements and results, heartbeats, log events).
//
// The packages that speak it are fleet/manager (dispatch and the central
// state), fleet/agent (the agent's loop), broker (the embedded NATS server
// and its per-agent authorisation) and enroll (enrollment over TLS). fleet
// itself has no behaviour beyond naming and validation, so that both ends
// and the broker's permissions always agree.
package fleet
