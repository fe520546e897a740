// Package httpapi is Riposte's HTTPS API: Wazuh-compatible endpoints
// (POST /security/user/authenticate, PUT /active-response, GET /agents) so
// that tools which drive Wazuh's API work unchanged, Riposte's own /api/v1
// (active responses, audit trail, white list, alerts, dry-run, effective
// configuration, agents), authentication with JWT and role checks, an
// OpenAPI document, the web console and /metrics, on one server.
//
// # Authentication and roles
//
// A client logs in with HTTP basic credentials at
// POST /security/user/authenticate and sends the token it gets as
// "Authorization: Bearer <token>" on every other request. The token lasts
// 900 s; the user's role is read from the users.Store at every request, so
// demoting or removing a user takes effect at once, and a password change
// revokes the user's older tokens. Fifty failed logins from one address
// within 300 s block that address for the rest of the window (Wazuh's
// max_login_attempts and block_time). Exceptions to the header rule:
//   - GET /api/v1/stream also takes the token as ?access_token=, since a
//     browser's EventSource cannot set headers; it ends when the token
//     expires (an "expired" event), and the client reconnects.
//   - GET /metrics needs no token from a loopback client (a local
//     Prometheus cannot renew 900-second tokens); others need a token of
//     any role.
//   - The console (Options.Console) is served without a token for GET
//     requests outside the API's paths: the page logs in itself.
//
// Each route names a users.Action; a role that does not allow it gets 403
// (Wazuh's error 4000). Every change (a response run, lifted, extended or
// made permanent, a white-list entry, a user, an agent removed, alerts
// posted) is recorded through Backend.Record with the user's name.
//
// # Answers
//
// Answers are compact JSON (indented with ?pretty=true). Errors have
// Wazuh's shape, {"title":"Bad Request","detail":"...","error":1650}, as
// application/problem+json, on every endpoint; unknown routes get a JSON
// 404 (405 with Allow for a wrong method). Internal errors are logged with
// a request id and answered 500 without their cause. Bodies are limited to
// MaxBody (413 beyond). /api/v1 bodies refuse unknown fields, and decoding
// errors name the field at fault.
//
// POST /api/v1/responses/permanent calls Backend.Extend with a zero
// deadline: the backend keeps the response until it is undone.
package httpapi
