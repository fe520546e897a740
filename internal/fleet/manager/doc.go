// Package manager is the manager side of the fleet: the registry of
// enrolled agents, durable per-agent commands and their acknowledgements,
// the central state of active responses, and central repeat-offender
// counting.
//
// All state lives in JetStream (the key-value buckets and the audit stream
// named in package fleet), so a manager that restarts, or a second manager
// on the same NATS cluster, sees the same registry, pending commands and
// active responses. Agents never use JetStream: they subscribe to their
// command subject with core NATS and publish acknowledgements, results,
// heartbeats and events on their own subjects. The manager takes an agent's
// identity from the subject a message arrived on, never from its body.
//
// A command is stored before it is sent and stays pending until its agent
// acknowledges it; pending commands are sent again when the agent says hello
// and every retry interval while it is connected, until they expire. Every
// command that expires or cannot be delivered produces an audit record.
//
// The package imports neither execd nor api nor instance: commands for the
// manager host itself (agent 000) go to a function the caller provides.
package manager
