// Package loadgen drives a running Riposte manager from another process,
// to measure it: the logic of the riposte-load command.
//
// [Put] sends PUT /active-response (Wazuh's API) from a pool of concurrent
// clients, each request with a random TEST-NET source address, and
// [Pages] reads GET /api/v1/responses at random offsets; both
// authenticate as Wazuh's API does (POST /security/user/authenticate with
// basic auth, then a bearer JWT, authenticating again on 401) through a
// [Client], and return a [Report]: requests, failures by HTTP status, by
// Wazuh error code and by transport error, throughput and latency
// percentiles. [Sim] enrolls simulated agents and keeps them connected
// with the real fleet agent and an executor that does nothing.
//
// loadgen is a client: it imports the agent's side of the fleet and
// enrollment, never the manager, the API server or the wiring.
package loadgen
