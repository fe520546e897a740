package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
	"github.com/riposte/riposte/internal/users"
)

func TestAgentsV1(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, "GET", "/api/v1/agents", e.tok[users.ReadOnly], "")
	wantStatus(t, w, 200)
	got := decode[list[manager.AgentStatus]](t, w)
	if got.Total != len(e.b.agents) || got.Items[0].ID != "000" {
		t.Errorf("agents %+v", got)
	}

	admin := e.tok[users.Administrator]
	tests := []struct {
		name, id string
		err      error
		status   int
	}{
		{"removes", "002", nil, 200},
		{"manager", "000", nil, 400},
		{"not an id", "abc", nil, 400},
		{"too long", "123456789", nil, 400},
		{"unknown", "999", fmt.Errorf("agent 999: %w", api.ErrNotFound), 404},
		{"backend failure", "001", errors.New("kv down"), 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.b.removed, e.b.err = nil, tc.err
			w := e.do(t, "DELETE", "/api/v1/agents/"+tc.id, admin, "")
			wantStatus(t, w, tc.status)
			switch tc.status {
			case 200:
				if w.Body.String() != `{"removed":"002"}` || len(e.b.removed) != 1 {
					t.Errorf("body %s, removed %v", w.Body, e.b.removed)
				}
				if r := e.b.lastRecord(); r.Kind != "change" || r.User != "boss" || r.Agent != "002" || r.Outcome != "ok" {
					t.Errorf("audit %+v", r)
				}
			case 500:
				if strings.Contains(w.Body.String(), "kv down") || !strings.Contains(w.Body.String(), "request id") {
					t.Errorf("500 body %s", w.Body)
				}
				if r := e.b.lastRecord(); !strings.HasPrefix(r.Outcome, "failed") {
					t.Errorf("audit %+v", r)
				}
			}
		})
	}
}

func TestResponsesList(t *testing.T) {
	e := newEnv(t)
	tok := e.tok[users.ReadOnly]
	tests := []struct {
		query  string
		status int
		want   ActiveQuery
	}{
		{"", 200, ActiveQuery{Limit: 500}},
		{"?agent=001&command=firewall-drop&q=abc&offset=5&limit=5000", 200,
			ActiveQuery{Agent: "001", Command: "firewall-drop", Search: "abc", Offset: 5, Limit: 5000}},
		{"?ip=203.0.113.7", 200, ActiveQuery{IP: netip.MustParsePrefix("203.0.113.7/32"), Limit: 500}},
		{"?ip=203.0.113.7/24", 200, ActiveQuery{IP: netip.MustParsePrefix("203.0.113.0/24"), Limit: 500}},
		{"?ip=2001:db8::1", 200, ActiveQuery{IP: netip.MustParsePrefix("2001:db8::1/128"), Limit: 500}},
		{"?ip=::ffff:192.0.2.1", 200, ActiveQuery{IP: netip.MustParsePrefix("192.0.2.1/32"), Limit: 500}},
		{"?limit=5001", 400, ActiveQuery{}},
		{"?limit=x", 400, ActiveQuery{}},
		{"?offset=-2", 400, ActiveQuery{}},
		{"?ip=nope", 400, ActiveQuery{}},
		{"?ip=10.0.0.0/33", 400, ActiveQuery{}},
		{"?agent=../x", 400, ActiveQuery{}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			e.b.activeQ = nil
			w := e.do(t, "GET", "/api/v1/responses"+tc.query, tok, "")
			wantStatus(t, w, tc.status)
			if tc.status != 200 {
				if len(e.b.activeQ) != 0 {
					t.Error("backend asked on a bad request")
				}
				return
			}
			if d := cmp.Diff(tc.want, e.b.activeQ[0], cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
				t.Errorf("query (-want +got):\n%s", d)
			}
			p := decode[page[manager.Active]](t, w)
			if p.Total != 1 || len(p.Items) != 1 || p.Limit != tc.want.Limit || p.Offset != tc.want.Offset {
				t.Errorf("page %+v", p)
			}
		})
	}
}

func TestResponseChanges(t *testing.T) {
	e := newEnv(t)
	tok := e.tok[users.Operator]
	future := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	tests := []struct {
		name, path, body string
		err              error
		status           int
		undo             string    // the Undo call, "id|ip"
		until            time.Time // the Extend deadline; zero for permanent
		extendBy         time.Duration
	}{
		{name: "undo by id", path: "undo", body: `{"id":"001.abcd"}`, status: 200, undo: "001.abcd|"},
		{name: "undo by ip", path: "undo", body: `{"ip":"203.0.113.7"}`, status: 200, undo: "|203.0.113.7"},
		{name: "undo mapped ip", path: "undo", body: `{"ip":"::ffff:203.0.113.7"}`, status: 200, undo: "|203.0.113.7"},
		{name: "undo both", path: "undo", body: `{"id":"x","ip":"203.0.113.7"}`, status: 400},
		{name: "undo neither", path: "undo", body: `{}`, status: 400},
		{name: "undo bad ip", path: "undo", body: `{"ip":"203.0.113"}`, status: 400},
		{name: "undo unknown field", path: "undo", body: `{"id":"x","force":true}`, status: 400},
		{name: "undo id not a string", path: "undo", body: `{"id":5}`, status: 400},
		{name: "undo not found", path: "undo", body: `{"id":"x"}`, err: api.ErrNotFound, status: 404},
		{name: "undo bad request", path: "undo", body: `{"id":"x"}`, err: fmt.Errorf("nope: %w", api.ErrBadRequest), status: 400},
		{name: "extend until", path: "extend", body: `{"id":"x","until":"` + future.Format(time.RFC3339) + `"}`, status: 200, until: future},
		{name: "extend by", path: "extend", body: `{"ip":"203.0.113.7","by":"1h"}`, status: 200, extendBy: time.Hour},
		{name: "extend by seconds", path: "extend", body: `{"ip":"203.0.113.7","by":600}`, status: 200, extendBy: 10 * time.Minute},
		{name: "extend neither", path: "extend", body: `{"id":"x"}`, status: 400},
		{name: "extend both", path: "extend", body: `{"id":"x","by":"1h","until":"` + future.Format(time.RFC3339) + `"}`, status: 400},
		{name: "extend past", path: "extend", body: `{"id":"x","until":"2001-01-01T00:00:00Z"}`, status: 400},
		{name: "extend negative", path: "extend", body: `{"id":"x","by":"-1h"}`, status: 400},
		{name: "extend bad time", path: "extend", body: `{"id":"x","until":"tomorrow"}`, status: 400},
		{name: "permanent", path: "permanent", body: `{"id":"001.abcd"}`, status: 200},
		{name: "permanent neither", path: "permanent", body: `{}`, status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.b.undos, e.b.extends, e.b.err = nil, nil, tc.err
			before := time.Now()
			w := e.do(t, "POST", "/api/v1/responses/"+tc.path, tok, tc.body)
			wantStatus(t, w, tc.status)
			if tc.status != 200 {
				if tc.err == nil && (len(e.b.undos) != 0 || len(e.b.extends) != 0) {
					t.Error("backend called on a bad request")
				}
				return
			}
			l := decode[list[manager.Active]](t, w)
			if l.Total != 1 {
				t.Errorf("answer %s", w.Body)
			}
			switch tc.path {
			case "undo":
				if len(e.b.undos) != 1 || e.b.undos[0] != tc.undo {
					t.Errorf("undos %v, want %s", e.b.undos, tc.undo)
				}
			case "extend", "permanent":
				if len(e.b.extends) != 1 {
					t.Fatalf("extends %v", e.b.extends)
				}
				got := e.b.extends[0]
				switch {
				case tc.extendBy > 0:
					if got.Before(before.Add(tc.extendBy)) || got.After(time.Now().Add(tc.extendBy)) {
						t.Errorf("until %v, want now+%v", got, tc.extendBy)
					}
				case !got.Equal(tc.until):
					t.Errorf("until %v, want %v", got, tc.until)
				}
			}
			if r := e.b.lastRecord(); r.Kind != "change" || r.User != "oper" || !strings.Contains(r.Note, tc.path) {
				t.Errorf("audit %+v", r)
			}
		})
	}
}

func TestRunManual(t *testing.T) {
	e := newEnv(t)
	tok := e.tok[users.Operator]
	ten := 10
	tests := []struct {
		name, body string
		status     int
		want       *api.ManualRun
	}{
		{"agents", `{"agents":["001"],"command":"firewall-drop600","srcip":"203.0.113.7"}`, 200,
			&api.ManualRun{Agents: []string{"001"}, Command: "firewall-drop600", SrcIP: "203.0.113.7"}},
		{"all forced", `{"all":true,"command":"firewall-drop","srcip":"2001:db8::1","timeout":10,"force":true}`, 200,
			&api.ManualRun{All: true, Command: "firewall-drop", SrcIP: "2001:db8::1", Timeout: &ten, Force: true}},
		{"both", `{"all":true,"agents":["001"],"command":"x","srcip":"203.0.113.7"}`, 400, nil},
		{"neither", `{"command":"x","srcip":"203.0.113.7"}`, 400, nil},
		{"bad agent", `{"agents":["1"],"command":"x","srcip":"203.0.113.7"}`, 400, nil},
		{"no command", `{"all":true,"srcip":"203.0.113.7"}`, 400, nil},
		{"command path", `{"all":true,"command":"../x","srcip":"203.0.113.7"}`, 400, nil},
		{"bad srcip", `{"all":true,"command":"x","srcip":"203.0.113.7; rm"}`, 400, nil},
		{"negative timeout", `{"all":true,"command":"x","srcip":"203.0.113.7","timeout":-1}`, 400, nil},
		{"unknown field", `{"all":true,"command":"x","srcip":"203.0.113.7","shell":"sh"}`, 400, nil},
		{"wrong type", `{"all":"yes","command":"x"}`, 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.b.runs = nil
			w := e.do(t, "POST", "/api/v1/responses/run", tok, tc.body)
			wantStatus(t, w, tc.status)
			if tc.want == nil {
				if len(e.b.runs) != 0 {
					t.Error("backend called on a bad request")
				}
				return
			}
			if d := cmp.Diff(*tc.want, e.b.runs[0]); d != "" {
				t.Errorf("run (-want +got):\n%s", d)
			}
			rep := decode[api.ManualReport](t, w)
			if rep.Command != tc.want.Command || rep.Delivery["001"] != manager.Sent {
				t.Errorf("report %+v", rep)
			}
		})
	}
	t.Run("messages name the field", func(t *testing.T) {
		w := e.do(t, "POST", "/api/v1/responses/run", tok, `{"all":"yes","command":"x"}`)
		if !strings.Contains(w.Body.String(), `field \"all\": want a boolean`) {
			t.Errorf("body %s", w.Body)
		}
		w = e.do(t, "POST", "/api/v1/responses/run", tok, `{"all":true,"shell":"sh"}`)
		if !strings.Contains(w.Body.String(), `unknown field \"shell\"`) {
			t.Errorf("body %s", w.Body)
		}
		w = e.do(t, "POST", "/api/v1/responses/run", tok, `{"all":tru}`)
		if !strings.Contains(w.Body.String(), "invalid JSON at byte") {
			t.Errorf("body %s", w.Body)
		}
	})
}

func TestAudit(t *testing.T) {
	e := newEnv(t)
	tok := e.tok[users.ReadOnly]
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		query  string
		status int
		want   AuditQuery
	}{
		{"", 200, AuditQuery{Limit: 500}},
		{"?kind=change&agent=001&ip=203.0.113.7&command=firewall-drop&user=boss&since=2026-11-01T00:00:00Z&until=2026-11-02T00:00:00%2B01:00&offset=3&limit=20", 200,
			AuditQuery{Kind: "change", Agent: "001", IP: "203.0.113.7", Command: "firewall-drop", User: "boss", Since: since,
				Until: time.Date(2026, 11, 1, 23, 0, 0, 0, time.UTC), Offset: 3, Limit: 20}},
		{"?since=yesterday", 400, AuditQuery{}},
		{"?until=2026-11-01", 400, AuditQuery{}},
		{"?ip=x", 400, AuditQuery{}},
		{"?limit=6000", 400, AuditQuery{}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			e.b.auditQ = nil
			w := e.do(t, "GET", "/api/v1/audit"+tc.query, tok, "")
			wantStatus(t, w, tc.status)
			if tc.status != 200 {
				return
			}
			if d := cmp.Diff(tc.want, e.b.auditQ[0], cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); d != "" {
				t.Errorf("query (-want +got):\n%s", d)
			}
			if p := decode[page[AuditRecord]](t, w); p.Items == nil || p.Limit != tc.want.Limit {
				t.Errorf("page %s", w.Body)
			}
		})
	}
}

func TestAllowlist(t *testing.T) {
	e := newEnv(t)
	op := e.tok[users.Operator]
	w := e.do(t, "GET", "/api/v1/allowlist", e.tok[users.ReadOnly], "")
	wantStatus(t, w, 200)
	if l := decode[list[AllowEntry]](t, w); l.Total != 1 || l.Items[0].Entry != "127.0.0.1" {
		t.Errorf("list %s", w.Body)
	}
	w = e.do(t, "POST", "/api/v1/allowlist", op, `{"entry":"198.51.100.0/24","comment":"office"}`)
	wantStatus(t, w, 201)
	res := decode[allowResult](t, w)
	if res.Entry != "198.51.100.0/24" || len(res.Lifted) != 1 {
		t.Errorf("answer %s", w.Body)
	}
	if r := e.b.lastRecord(); r.User != "oper" || r.IP != "198.51.100.0/24" || !strings.Contains(r.Note, "allowlist add") {
		t.Errorf("audit %+v", r)
	}
	for _, bad := range []string{`{}`, `{"entry":""}`, `{"entry":"a b"}`, `{"entry":"` + strings.Repeat("a", 256) + `"}`,
		`{"entry":"x","comment":"` + strings.Repeat("c", 1025) + `"}`, `{"entry":"x","source":"config"}`, `[]`} {
		wantStatus(t, e.do(t, "POST", "/api/v1/allowlist", op, bad), 400)
	}
	e.b.err = fmt.Errorf("entry %q: %w", "nope", api.ErrBadRequest)
	wantStatus(t, e.do(t, "POST", "/api/v1/allowlist", op, `{"entry":"nope"}`), 400)

	wantStatus(t, e.do(t, "DELETE", "/api/v1/allowlist?entry=198.51.100.0/24", op, ""), 200)
	if r := e.b.lastRecord(); !strings.Contains(r.Note, "allowlist remove 198.51.100.0/24") {
		t.Errorf("audit %+v", r)
	}
	wantStatus(t, e.do(t, "DELETE", "/api/v1/allowlist?entry=198.51.100.0/24", op, ""), 404)
	wantStatus(t, e.do(t, "DELETE", "/api/v1/allowlist", op, ""), 400)
}

func TestAlerts(t *testing.T) {
	e := newEnv(t)
	tok := e.tok[users.Operator]
	const good = `{"rule":{"id":"5712","level":10},"agent":{"id":"001"},"data":{"srcip":"203.0.113.7"}}`
	tests := []struct {
		name, path, body string
		status           int
		alerts           int
		opts             api.IngestOptions
		rejected         int
	}{
		{name: "one document", path: "/api/v1/alerts", body: good, status: 200, alerts: 1},
		{name: "json lines", path: "/api/v1/alerts?explain=1", body: good + "\n" + good + "\n", status: 200, alerts: 2, opts: api.IngestOptions{Explain: true}},
		{name: "dry run flag", path: "/api/v1/alerts?dry_run=1", body: good, status: 200, alerts: 1, opts: api.IngestOptions{DryRun: true}},
		{name: "dry-run endpoint", path: "/api/v1/dry-run?explain=true", body: good, status: 200, alerts: 1, opts: api.IngestOptions{DryRun: true, Explain: true}},
		{name: "dry-run cannot be undone", path: "/api/v1/dry-run?dry_run=0", body: good, status: 200, alerts: 1, opts: api.IngestOptions{DryRun: true}},
		{name: "one malformed refuses all", path: "/api/v1/alerts", body: good + "\n{\"rule\":{}}\n" + good + "\nnot json\n", status: 400, rejected: 2},
		{name: "empty", path: "/api/v1/alerts", body: "  \n", status: 400},
		{name: "too big", path: "/api/v1/alerts", body: good + "\n" + strings.Repeat(" ", MaxBody), status: 413, rejected: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.b.ingested, e.b.ingestOpt, e.b.rejected, e.b.records = nil, nil, 0, nil
			w := e.do(t, "POST", tc.path, tok, tc.body)
			wantStatus(t, w, tc.status)
			if e.b.rejected != tc.rejected {
				t.Errorf("rejected %d, want %d", e.b.rejected, tc.rejected)
			}
			if tc.status != 200 {
				if len(e.b.ingested) != 0 {
					t.Error("alerts ingested from a refused batch")
				}
				return
			}
			if len(e.b.ingested) != 1 || e.b.ingested[0] != tc.alerts || e.b.ingestOpt[0] != tc.opts {
				t.Fatalf("ingested %v with %+v", e.b.ingested, e.b.ingestOpt)
			}
			res := decode[api.IngestResponse](t, w)
			if res.Accepted != tc.alerts || len(res.Results) != tc.alerts || res.Results[0].SrcIP != "203.0.113.7" {
				t.Errorf("answer %s", w.Body)
			}
			if recorded := len(e.b.records) > 0; recorded == tc.opts.DryRun {
				t.Errorf("audit records %+v (dry run %v)", e.b.records, tc.opts.DryRun)
			}
		})
	}
	t.Run("item errors", func(t *testing.T) {
		w := e.do(t, "POST", "/api/v1/alerts", tok, good+"\n{\"rule\":{}}\n")
		eb := decode[Error](t, w)
		if len(eb.Items) != 1 || eb.Items[0].Item != 2 || eb.Items[0].Line != 2 || !strings.Contains(eb.Items[0].Error, "rule.id") {
			t.Errorf("error body %s", w.Body)
		}
		if eb.Detail != "1 of 2 alerts are malformed; none was accepted" {
			t.Errorf("detail %q", eb.Detail)
		}
	})
}

func TestSystemEndpoints(t *testing.T) {
	e := newEnv(t)
	tok := e.tok[users.ReadOnly]
	w := e.do(t, "GET", "/api/v1/config", tok, "")
	wantStatus(t, w, 200)
	if w.Header().Get("Content-Type") != "text/xml; charset=utf-8" || w.Body.String() != "<ossec_config><global/></ossec_config>\n" {
		t.Errorf("config %q %q", w.Header().Get("Content-Type"), w.Body)
	}
	w = e.do(t, "GET", "/api/v1/stats", tok, "")
	wantStatus(t, w, 200)
	if s := decode[api.Stats](t, w); s.AlertsAccepted != 7 || s.Runs != 3 {
		t.Errorf("stats %s", w.Body)
	}
	w = e.do(t, "GET", "/api/v1/runs", tok, "")
	wantStatus(t, w, 200)
	if !strings.Contains(w.Body.String(), `"total":1`) || !strings.Contains(w.Body.String(), `"verb":"add"`) {
		t.Errorf("runs %s", w.Body)
	}
	if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", w.Header())
	}
}

func TestUsersEndpoints(t *testing.T) {
	e := newEnv(t)
	admin, reader := e.tok[users.Administrator], e.tok[users.ReadOnly]
	w := e.do(t, "GET", "/api/v1/users", reader, "")
	wantStatus(t, w, 200)
	l := decode[list[users.User]](t, w)
	if l.Total != 3 || strings.Contains(w.Body.String(), "hash") || strings.Contains(w.Body.String(), "$2a$") {
		t.Errorf("users %s", w.Body)
	}

	steps := []struct {
		name, method, path, tok, body string
		status                        int
	}{
		{"add", "POST", "/api/v1/users", admin, `{"name":"carol","password":"password1","role":"operator"}`, 201},
		{"add again", "POST", "/api/v1/users", admin, `{"name":"carol","password":"password1","role":"operator"}`, 409},
		{"add bad role", "POST", "/api/v1/users", admin, `{"name":"dave","password":"password1","role":"root"}`, 400},
		{"add bad name", "POST", "/api/v1/users", admin, `{"name":"../x","password":"password1","role":"readonly"}`, 400},
		{"add short password", "POST", "/api/v1/users", admin, `{"name":"dave","password":"short","role":"readonly"}`, 400},
		{"add unknown field", "POST", "/api/v1/users", admin, `{"name":"dave","password":"password1","role":"readonly","admin":true}`, 400},
		{"role", "PUT", "/api/v1/users/carol/role", admin, `{"role":"readonly"}`, 200},
		{"role unknown user", "PUT", "/api/v1/users/zed/role", admin, `{"role":"readonly"}`, 404},
		{"demote last admin", "PUT", "/api/v1/users/boss/role", admin, `{"role":"operator"}`, 409},
		{"password by admin", "PUT", "/api/v1/users/carol/password", admin, `{"password":"password2"}`, 200},
		{"password of another by reader", "PUT", "/api/v1/users/carol/password", reader, `{"password":"password3"}`, 403},
		{"own password without current", "PUT", "/api/v1/users/reader/password", reader, `{"password":"password3"}`, 403},
		{"own password wrong current", "PUT", "/api/v1/users/reader/password", reader, `{"password":"password3","current_password":"nope-nope"}`, 403},
		{"own password short", "PUT", "/api/v1/users/reader/password", reader, `{"password":"x","current_password":"` + testPassword + `"}`, 400},
		{"own password", "PUT", "/api/v1/users/reader/password", reader, `{"password":"password3","current_password":"` + testPassword + `"}`, 200},
		{"old token revoked", "GET", "/api/v1/users", reader, "", 401},
		{"remove", "DELETE", "/api/v1/users/carol", admin, "", 200},
		{"remove again", "DELETE", "/api/v1/users/carol", admin, "", 404},
		{"remove last admin", "DELETE", "/api/v1/users/boss", admin, "", 409},
	}
	for _, st := range steps {
		w := e.do(t, st.method, st.path, st.tok, st.body)
		if w.Code != st.status {
			t.Fatalf("%s: status %d, want %d: %s", st.name, w.Code, st.status, w.Body)
		}
	}
	if _, err := e.users.Authenticate("reader", "password3"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if r := e.b.lastRecord(); r.User != "boss" || !strings.Contains(r.Note, "boss removed") || !strings.HasPrefix(r.Outcome, "failed") {
		t.Errorf("audit %+v", r)
	}
}

func TestUserFrom(t *testing.T) {
	if _, ok := UserFrom(t.Context()); ok {
		t.Fatal("user in an empty context")
	}
	e := newEnv(t)
	var seen users.User
	e.b.err = nil
	// Allow reads the user from the context, as the wiring does.
	b := &userSpy{fakeBackend: e.b, seen: &seen}
	s, err := New(Options{Backend: b, Users: e.users})
	if err != nil {
		t.Fatal(err)
	}
	e.h = s.Handler()
	wantStatus(t, e.do(t, "POST", "/api/v1/allowlist", e.tok[users.Operator], `{"entry":"192.0.2.1"}`), 201)
	if seen.Name != "oper" || seen.Role != users.Operator {
		t.Errorf("UserFrom in the backend = %+v", seen)
	}
}

type userSpy struct {
	*fakeBackend
	seen *users.User
}

func (u *userSpy) Allow(ctx context.Context, entry, comment string) ([]manager.Active, error) {
	*u.seen, _ = UserFrom(ctx)
	return u.fakeBackend.Allow(ctx, entry, comment)
}

func TestCommandsEndpoint(t *testing.T) {
	e := newEnv(t)
	e.b.commands = []manager.CommandRecord{
		{Command: fleet.Command{ID: "c1", Agent: "001", Kind: fleet.KindRun, Name: "firewall-drop"}, Status: manager.CmdPending},
		{Command: fleet.Command{ID: "c2", Agent: "002", Kind: fleet.KindRun, Name: "host-deny"}, Status: manager.CmdExpired},
	}
	w := e.do(t, "GET", "/api/v1/commands?agent=002", e.tok[users.ReadOnly], "")
	wantStatus(t, w, 200)
	got := decode[list[manager.CommandRecord]](t, w)
	if got.Total != 1 || got.Items[0].Command.ID != "c2" || got.Items[0].Status != manager.CmdExpired {
		t.Errorf("commands of 002: %+v", got)
	}
	wantStatus(t, e.do(t, "GET", "/api/v1/commands?agent=xyz", e.tok[users.ReadOnly], ""), 400)
	wantStatus(t, e.do(t, "GET", "/api/v1/commands", "", ""), 401)
}
