// Package pki is the private certificate authority of one Riposte manager.
//
// The manager creates the CA on first start (an ECDSA P-256 key and a
// ten-year self-signed certificate in its data directory), signs its own
// server certificate with it and, at enrollment, signs a client certificate
// for each agent from a certificate signing request the agent made with a
// key that never leaves it. Agents pin the CA (by file or by [CA.Pin]) and
// accept any server certificate it signed, whatever address they reach the
// manager by; the manager reads an agent's id from its client certificate
// ([AgentID]) and matches its key ([KeyFingerprint]) with the registry.
//
// pki imports no other Riposte package.
package pki
