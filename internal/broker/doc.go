// Package broker runs nats-server in-process, with JetStream on file
// storage, for the Riposte manager.
//
// Agents connect over mutual TLS with the client certificate they received
// at enrollment. Each connection is authorised by the manager's registry
// (the agent id read from the certificate must be known, not revoked, and
// enrolled with that certificate's key) and limited to the agent's own
// subjects: whatever the Permissions function returns, and nothing else,
// not even an inbox or the JetStream API. The manager itself connects in
// process with full permissions, authenticated by a secret only its process
// knows.
//
// broker authorises; it does not dispatch: it imports no fleet subpackage,
// nothing of execution and not the wiring.
package broker
