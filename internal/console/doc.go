// Package console is Riposte's web console: a single-page application,
// embedded in the binary, that an operator opens in a browser to watch
// the agents, the active responses and the recent runs, lift or extend a
// response, edit the white list and run a response by hand.
//
// The page is static (index.html, app.js, app.css; no build step and no
// third-party code) and talks to the HTTPS API of package httpapi on the
// same origin: it logs in with POST /security/user/authenticate, sends
// the token as a bearer token (logging in again with the credentials it
// holds in memory when the token expires), pages active responses on the
// server (GET /api/v1/responses, 50 at a time), and refreshes what is on
// screen when GET /api/v1/stream reports a change, with a 10 s poll as a
// fallback (?poll=N on the page's address sets it in seconds, ?poll=0
// turns it off). [Handler] serves the files; the API server mounts it.
//
// Tests can rely on these elements: #login-user, #login-pass,
// #login-submit, #login-error; the tab buttons button[data-tab=agents|
// active|runs|allowlist|run]; rows #agents-body tr[data-agent-id],
// #active-body tr[data-active-id] with button.undo, button.extend and
// button.permanent, #runs-body tr[data-status] (class failed unless ok or
// aborted), #allow-body tr[data-entry] with button.remove; #active-filter,
// #active-prev, #active-next, #active-count ("1–50 of 100000") and
// #active-total; the run form #run-agents, #run-command, #run-srcip,
// #run-timeout, #run-force, #run-submit, #run-error and
// #run-result-body tr[data-agent]; #live[data-state=live|connecting|
// polling|off]; #message for errors.
package console
