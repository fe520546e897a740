// Package enroll is agent enrollment over TLS, on Wazuh's port 1515.
//
// An agent enrolls with a token the operator copied from the manager
// (<data dir>/enrollment.token). It generates its key locally, sends a
// certificate signing request over HTTPS (POST /enroll) to a manager it
// authenticates by the CA file or the CA's pin, and receives a client
// certificate from the manager's CA, the CA certificate and the NATS URLs
// to connect to. The private key never leaves the agent. The manager's
// registry allocates the agent id and records the key's fingerprint, which
// the broker checks at every connection.
//
// The server side is [Server]; the agent side is [Enroll], which stores an
// [Identity] in the agent's data directory, and [Identity.NATSOptions].
//
// enroll hands out credentials; it does not dispatch: it imports no fleet
// subpackage and not the wiring.
package enroll
