// Package api is Riposte's HTTP interface: the endpoints that accept alerts
// (on the control socket and on a loopback TCP address) and report what was
// decided and run. It holds no policy: every request is handed to the
// [Backend] the process was assembled with.
package api
