package httpapi

import (
	"net/http"

	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/fleet/manager"
	"github.com/riposte/riposte/internal/users"
)

// authKind says how a route authenticates.
type authKind int

const (
	authToken           authKind = iota // Authorization: Bearer
	authNone                            // no authentication
	authQueryToken                      // Bearer, or ?access_token= (EventSource cannot set headers)
	authLoopbackOrToken                 // none from a loopback client, else Bearer
)

// route is one endpoint: what it serves, who may call it, and how the
// OpenAPI document describes it.
type route struct {
	method, path string
	auth         authKind
	action       users.Action
	h            func(http.ResponseWriter, *http.Request) error
	doc          opDoc
}

// opDoc describes an operation for the OpenAPI document.
type opDoc struct {
	summary  string
	tag      string
	query    []param
	body     any    // a value of the request body's type; nil: no body
	bodyType string // default application/json
	resp     any    // a value of the answer's type; nil: no schema
	respType string // default application/json
	status   int    // success status; default 200
}

// param is a query parameter.
type param struct {
	name, typ, desc string // typ: string, integer, boolean
}

func q(name, typ, desc string) param { return param{name, typ, desc} }

var pagingParams = []param{
	q("offset", "integer", "first item to return (default 0)"),
	q("limit", "integer", "items to return (default 500, at most 5000)"),
}

// routeTable lists every endpoint. The mux and the OpenAPI document are both
// built from it.
func (s *Server) routeTable() []route {
	rs := []route{
		// Wazuh-compatible.
		{method: "POST", path: "/security/user/authenticate", auth: authNone, h: s.authenticate,
			doc: opDoc{tag: "wazuh", summary: "Log in with HTTP basic authentication; returns a token valid 900 s",
				query: []param{q("raw", "boolean", "answer the bare token as text/plain")}, resp: wazuhTokenResult{}}},
		{method: "GET", path: "/security/user/authenticate", auth: authNone, h: s.authenticate,
			doc: opDoc{tag: "wazuh", summary: "Log in (Wazuh's deprecated GET form)",
				query: []param{q("raw", "boolean", "answer the bare token as text/plain")}, resp: wazuhTokenResult{}}},
		{method: "PUT", path: "/active-response", action: users.Respond, h: s.putActiveResponse,
			doc: opDoc{tag: "wazuh", summary: "Run an active response on agents, as Wazuh's API does",
				query: []param{q("agents_list", "string", "comma-separated agent ids; default * (all agents)"),
					q("pretty", "boolean", "indent the answer"), q("wait_for_complete", "boolean", "accepted and ignored")},
				body: arBody{}, resp: wazuhResult[string]{}}},
		{method: "GET", path: "/agents", action: users.Read, h: s.getWazuhAgents,
			doc: opDoc{tag: "wazuh", summary: "List agents in Wazuh's shape",
				query: []param{q("agents_list", "string", "comma-separated agent ids"),
					q("status", "string", "comma-separated: active, disconnected, never_connected"),
					q("offset", "integer", "first item (default 0)"), q("limit", "integer", "items (default 500, at most 100000)"),
					q("select", "string", "comma-separated fields to return (id is always returned)"),
					q("pretty", "boolean", "indent the answer")},
				resp: wazuhResult[wazuhAgent]{}}},

		// Riposte's own.
		{method: "GET", path: "/api/v1/agents", action: users.Read, h: s.getAgents,
			doc: opDoc{tag: "agents", summary: "List agents, the manager (000) first", resp: list[manager.AgentStatus]{}}},
		{method: "DELETE", path: "/api/v1/agents/{id}", action: users.RemoveAgent, h: s.deleteAgent,
			doc: opDoc{tag: "agents", summary: "Revoke an agent at once", resp: removed{}}},
		{method: "GET", path: "/api/v1/responses", action: users.Read, h: s.getResponses,
			doc: opDoc{tag: "responses", summary: "List active responses, soonest to end first",
				query: append([]param{q("agent", "string", "agent id"), q("ip", "string", "address or CIDR"),
					q("command", "string", "command name"), q("q", "string", "substring of id, agent, command or key")}, pagingParams...),
				resp: page[manager.Active]{}}},
		{method: "POST", path: "/api/v1/responses/undo", action: users.Respond, h: s.postUndo,
			doc: opDoc{tag: "responses", summary: "Lift an active response (by id) or every one for an address",
				body: api.UndoRequest{}, resp: list[manager.Active]{}}},
		{method: "POST", path: "/api/v1/responses/extend", action: users.Respond, h: s.postExtend,
			doc: opDoc{tag: "responses", summary: "Move the deadline of active responses (until, or by from now)",
				body: api.ExtendRequest{}, resp: list[manager.Active]{}}},
		{method: "POST", path: "/api/v1/responses/permanent", action: users.Respond, h: s.postPermanent,
			doc: opDoc{tag: "responses", summary: "Make active responses permanent: no deadline until undone",
				body: api.UndoRequest{}, resp: list[manager.Active]{}}},
		{method: "POST", path: "/api/v1/responses/run", action: users.Respond, h: s.postRun,
			doc: opDoc{tag: "responses", summary: "Run a response by hand, as agent_control -b",
				body: api.ManualRun{}, resp: api.ManualReport{}}},
		{method: "GET", path: "/api/v1/audit", action: users.Read, h: s.getAudit,
			doc: opDoc{tag: "audit", summary: "Audit trail, newest first",
				query: append([]param{q("kind", "string", "decision, command, ack, result, expired, undeliverable, change, ..."),
					q("agent", "string", "agent id"), q("ip", "string", "address"), q("command", "string", "command name"),
					q("user", "string", "API user"), q("since", "string", "RFC 3339 time"), q("until", "string", "RFC 3339 time")}, pagingParams...),
				resp: page[AuditRecord]{}}},
		{method: "GET", path: "/api/v1/commands", action: users.Read, h: s.getCommands,
			doc: opDoc{tag: "responses", summary: "Commands sent to agents: pending, accepted, done, failed, expired or undeliverable",
				query: []param{q("agent", "string", "agent id")}, resp: list[manager.CommandRecord]{}}},
		{method: "GET", path: "/api/v1/allowlist", action: users.Read, h: s.getAllowlist,
			doc: opDoc{tag: "allowlist", summary: "The white list: configuration entries and API entries", resp: list[AllowEntry]{}}},
		{method: "POST", path: "/api/v1/allowlist", action: users.Allowlist, h: s.postAllowlist,
			doc: opDoc{tag: "allowlist", summary: "Add a white-list entry; lifts the active responses it covers",
				body: allowRequest{}, resp: allowResult{}, status: http.StatusCreated}},
		{method: "DELETE", path: "/api/v1/allowlist", action: users.Allowlist, h: s.deleteAllowlist,
			doc: opDoc{tag: "allowlist", summary: "Remove a white-list entry added through the API",
				query: []param{q("entry", "string", "the entry (required)")}, resp: removed{}}},
		{method: "POST", path: "/api/v1/alerts", action: users.Ingest, h: s.postAlerts,
			doc: opDoc{tag: "alerts", summary: "Decide and run responses for alerts (one JSON document or JSON lines)",
				query: []param{q("dry_run", "boolean", "decide only"), q("explain", "boolean", "explain every <active-response> block")},
				body:  alertDoc{}, bodyType: "application/json",
				resp: api.IngestResponse{}}},
		{method: "POST", path: "/api/v1/dry-run", action: users.Ingest, h: s.postDryRun,
			doc: opDoc{tag: "alerts", summary: "Decide responses for alerts without running anything",
				query: []param{q("explain", "boolean", "explain every <active-response> block")},
				body:  alertDoc{}, bodyType: "application/json",
				resp: api.IngestResponse{}}},
		{method: "GET", path: "/api/v1/config", action: users.Read, h: s.getConfig,
			doc: opDoc{tag: "system", summary: "Effective configuration, in ossec.conf form", respType: "text/xml"}},
		{method: "GET", path: "/api/v1/runs", action: users.Read, h: s.getRuns,
			doc: opDoc{tag: "system", summary: "Recent runs on this host, newest last", resp: list[execd.Result]{}}},
		{method: "GET", path: "/api/v1/stats", action: users.Read, h: s.getStats,
			doc: opDoc{tag: "system", summary: "Counters of the instance", resp: api.Stats{}}},
		{method: "GET", path: "/api/v1/users", action: users.Read, h: s.getUsers,
			doc: opDoc{tag: "users", summary: "List API users", resp: list[users.User]{}}},
		{method: "POST", path: "/api/v1/users", action: users.ManageUsers, h: s.postUser,
			doc: opDoc{tag: "users", summary: "Add a user", body: newUser{}, resp: users.User{}, status: http.StatusCreated}},
		{method: "DELETE", path: "/api/v1/users/{name}", action: users.ManageUsers, h: s.deleteUser,
			doc: opDoc{tag: "users", summary: "Remove a user (never the last administrator)", resp: removed{}}},
		{method: "PUT", path: "/api/v1/users/{name}/password", action: users.Read, h: s.putPassword,
			doc: opDoc{tag: "users", summary: "Set a password: administrators for anyone, other users their own (with current_password)",
				body: passwordChange{}, resp: users.User{}}},
		{method: "PUT", path: "/api/v1/users/{name}/role", action: users.ManageUsers, h: s.putRole,
			doc: opDoc{tag: "users", summary: "Set a user's role (never demoting the last administrator)",
				body: roleChange{}, resp: users.User{}}},
		{method: "GET", path: "/api/v1/openapi.json", action: users.Read, h: s.getOpenAPI,
			doc: opDoc{tag: "system", summary: "This document (OpenAPI 3.0)"}},
		{method: "GET", path: "/api/v1/stream", auth: authQueryToken, action: users.Read, h: s.getStream,
			doc: opDoc{tag: "system", summary: "Server-sent events: 'change' when agents, active responses or runs change (at most one per 250 ms)",
				query: []param{q("access_token", "string", "the token, for clients that cannot set Authorization (EventSource)")}, respType: "text/event-stream"}},
	}
	if s.metrics != nil {
		rs = append(rs, route{method: "GET", path: "/metrics", auth: authLoopbackOrToken, action: users.Read, h: s.getMetrics,
			doc: opDoc{tag: "system", summary: "Prometheus metrics; loopback clients need no token", respType: "text/plain"}})
	}
	return rs
}

// wazuhTokenResult is the answer of POST /security/user/authenticate.
type wazuhTokenResult struct {
	Data struct {
		Token string `json:"token"`
	} `json:"data"`
	Error int `json:"error"`
}

// list is a whole list.
type list[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

// page is one page of a list, with the total before paging.
type page[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

// removed answers a DELETE.
type removed struct {
	Removed string `json:"removed"`
}

// alertDoc stands for a Wazuh alert document in the OpenAPI document.
type alertDoc struct {
	Rule  map[string]any `json:"rule"`
	Agent map[string]any `json:"agent"`
	Data  map[string]any `json:"data,omitempty"`
}

func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) error {
	s.metrics.ServeHTTP(w, r)
	return nil
}
