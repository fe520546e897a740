package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/riposte/riposte/internal/users"
)

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	login := func(method, target, user, pw string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, nil)
		if user != "" || pw != "" {
			req.SetBasicAuth(user, pw)
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		return w
	}
	tokenShape := regexp.MustCompile(`^\{"data":\{"token":"([\w-]+\.[\w-]+\.[\w-]+)"\},"error":0\}$`)
	for _, method := range []string{"POST", "GET"} {
		t.Run(method, func(t *testing.T) {
			w := login(method, "/security/user/authenticate", "oper", testPassword)
			wantStatus(t, w, http.StatusOK)
			m := tokenShape.FindStringSubmatch(w.Body.String())
			if m == nil {
				t.Fatalf("body %s is not Wazuh's token shape", w.Body)
			}
			u, err := e.users.Verify(m[1])
			if err != nil || u.Name != "oper" || u.Role != users.Operator {
				t.Fatalf("token verifies as %+v, %v", u, err)
			}
		})
	}
	t.Run("raw", func(t *testing.T) {
		w := login("POST", "/security/user/authenticate?raw=true", "reader", testPassword)
		wantStatus(t, w, http.StatusOK)
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type %q", ct)
		}
		if _, err := e.users.Verify(w.Body.String()); err != nil {
			t.Fatalf("raw token %q: %v", w.Body, err)
		}
	})
	const unauthorized = `{"title":"Unauthorized","detail":"Invalid credentials"}`
	for name, c := range map[string][2]string{
		"wrong password": {"oper", "nope-nope"},
		"unknown user":   {"ghost", testPassword},
		"no credentials": {"", ""},
	} {
		t.Run(name, func(t *testing.T) {
			w := login("POST", "/security/user/authenticate", c[0], c[1])
			wantStatus(t, w, http.StatusUnauthorized)
			if w.Body.String() != unauthorized {
				t.Errorf("body %s, want %s", w.Body, unauthorized)
			}
			if w.Header().Get("WWW-Authenticate") != "" {
				t.Error("WWW-Authenticate set on the login endpoint (browsers would prompt)")
			}
		})
	}
}

// wazuhFailed renders one failed_items group as Wazuh does.
func wazuhFailed(e wazuhErr, ids ...string) string {
	b, _ := json.Marshal(failedItem{Error: e, ID: ids})
	return string(b)
}

func TestWazuhErrorTexts(t *testing.T) {
	// The messages Wazuh 4.9's framework/wazuh/core/exception.py gives.
	want := map[int]string{
		1650: "Active response - Command not specified",
		1652: "Active response - Unable to run command",
		1701: "Agent does not exist",
		1703: "Action not available for Manager (agent 000)",
		1707: "Cannot send request, agent is not active",
		1750: "Could not send restart command, active-response is disabled in the agent",
	}
	for _, e := range []wazuhErr{errCommandNotSpecified, errUnableToRun, errAgentNotExist, errManager, errNotActive, errARDisabled} {
		if want[e.Code] != e.Message {
			t.Errorf("%d: message %q, want %q", e.Code, e.Message, want[e.Code])
		}
	}
	if got := wazuhFailed(errAgentNotExist, "999"); got != `{"error":{"code":1701,"message":"Agent does not exist","remediation":"Please, use `+"`GET /agents?select=id,name`"+` to find all available agents"},"id":["999"]}` {
		t.Errorf("failed item %s", got)
	}
	if got := wazuhFailed(errUnableToRun, "001"); got != `{"error":{"code":1652,"message":"Active response - Unable to run command"},"id":["001"]}` {
		t.Errorf("failed item %s", got)
	}
}

func TestPutActiveResponse(t *testing.T) {
	const (
		all  = `"message":"AR command was sent to all agents","error":0}`
		some = `"message":"AR command was not sent to some agents","error":2}`
		none = `"message":"AR command was not sent to any agent","error":1}`
	)
	body := func(affected string, n, nf int, failed ...string) string {
		return `{"data":{"affected_items":[` + affected + `],"total_affected_items":` + itoa(n) +
			`,"total_failed_items":` + itoa(nf) + `,"failed_items":[` + strings.Join(failed, ",") + `]},`
	}
	fw600 := `{"command":"firewall-drop600","arguments":["-"],"alert":{"data":{"srcip":"203.0.113.7"}}}`
	tests := []struct {
		name   string
		query  string
		body   string
		status int
		want   string    // exact body; empty: only the status is checked
		sent   *sendCall // the Send expected, nil for none
	}{
		{name: "one agent", query: "?agents_list=001", body: fw600, status: 200,
			want: body(`"001"`, 1, 0) + all,
			sent: &sendCall{Agents: []string{"001"}, Cmd: ARCommand{Name: "firewall-drop600", Command: "firewall-drop", Executable: "firewall-drop", Timeout: 600 * time.Second},
				ExtraArgs: []string{"-"}, Alert: `{"data":{"srcip":"203.0.113.7"}}`}},
		{name: "every check in order", query: "?agents_list=001,002,003,000,999,004,005,006", body: fw600, status: 200,
			want: body(`"001"`, 1, 7,
				wazuhFailed(errNotActive, "002", "003"), wazuhFailed(errManager, "000"),
				wazuhFailed(errAgentNotExist, "999", "006"), wazuhFailed(errARDisabled, "004"),
				`{"error":{"code":1000,"message":"Wazuh Internal Error","remediation":"not deliverable: store failed"},"id":["005"]}`) + some,
			sent: &sendCall{Agents: []string{"001", "005"}, Cmd: ARCommand{Name: "firewall-drop600", Command: "firewall-drop", Executable: "firewall-drop", Timeout: 600 * time.Second},
				ExtraArgs: []string{"-"}, Alert: `{"data":{"srcip":"203.0.113.7"}}`}},
		{name: "all agents by default: no 1701 or 1703", body: `{"command":"host-deny0"}`, status: 200,
			want: body(`"001"`, 1, 4, wazuhFailed(errNotActive, "002", "003"), wazuhFailed(errARDisabled, "004"),
				`{"error":{"code":1000,"message":"Wazuh Internal Error","remediation":"not deliverable: store failed"},"id":["005"]}`) + some,
			sent: &sendCall{Agents: []string{"001", "005"}, Cmd: ARCommand{Name: "host-deny0", Command: "host-deny", Executable: "host-deny"}, Alert: `{}`}},
		{name: "star", query: "?agents_list=*", body: `{"command":"host-deny0"}`, status: 200},
		{name: "duplicates sent once", query: "?agents_list=001,001", body: `{"command":"firewall-drop0"}`, status: 200,
			want: body(`"001"`, 1, 0) + all,
			sent: &sendCall{Agents: []string{"001"}, Cmd: ARCommand{Name: "firewall-drop0", Command: "firewall-drop", Executable: "firewall-drop"}, Alert: `{}`}},
		{name: "none active", query: "?agents_list=002", body: fw600, status: 200,
			want: body(``, 0, 1, wazuhFailed(errNotActive, "002")) + none},
		{name: "agent checks before the command", query: "?agents_list=002,001", body: `{"command":"nope0"}`, status: 200,
			want: body(``, 0, 2, wazuhFailed(errNotActive, "002"), wazuhFailed(errUnableToRun, "001")) + none},
		{name: "empty command 1650", query: "?agents_list=001", body: `{"command":""}`, status: 200,
			want: body(``, 0, 1, wazuhFailed(errCommandNotSpecified, "001")) + none},
		{name: "custom command", query: "?agents_list=001", body: `{"command":"!my-script.sh","arguments":["a b","$x"]}`, status: 200,
			want: body(`"001"`, 1, 0) + all,
			sent: &sendCall{Agents: []string{"001"}, Cmd: ARCommand{Name: "!my-script.sh", Command: "my-script.sh", Executable: "my-script.sh"},
				ExtraArgs: []string{"a b", "$x"}, Alert: `{}`}},
		{name: "custom command with a path is 1652", query: "?agents_list=001", body: `{"command":"!/bin/sh"}`, status: 200,
			want: body(``, 0, 1, wazuhFailed(errUnableToRun, "001")) + none},
		{name: "custom command with a drive is 1652", query: "?agents_list=001", body: `{"command":"!c:\\x.exe"}`, status: 200,
			want: body(``, 0, 1, wazuhFailed(errUnableToRun, "001")) + none},

		// Refused before anything is sent.
		{name: "traversal ../", query: "?agents_list=001", body: `{"command":"!../../bin/sh"}`, status: 400},
		{name: "traversal ..\\", query: "?agents_list=001", body: `{"command":"!..\\x"}`, status: 400},
		{name: "traversal /..", query: "?agents_list=001", body: `{"command":"a/.."}`, status: 400},
		{name: "traversal \\..", query: "?agents_list=001", body: `{"command":"a\\.."}`, status: 400},
		{name: "format: shell characters", query: "?agents_list=001", body: `{"command":"firewall-drop0;id"}`, status: 400},
		{name: "format: space", query: "?agents_list=001", body: `{"command":"firewall drop"}`, status: 400},
		{name: "missing command", query: "?agents_list=001", body: `{"arguments":[]}`, status: 400,
			want: `{"title":"Bad Request","detail":"'command' is a required property"}`},
		{name: "command not a string", query: "?agents_list=001", body: `{"command":5}`, status: 400},
		{name: "arguments not strings", query: "?agents_list=001", body: `{"command":"host-deny0","arguments":[1]}`, status: 400},
		{name: "alert not an object", query: "?agents_list=001", body: `{"command":"host-deny0","alert":"x"}`, status: 400},
		{name: "bad JSON", query: "?agents_list=001", body: `{"command":`, status: 400},
		{name: "empty body", query: "?agents_list=001", status: 400},
		{name: "two documents", query: "?agents_list=001", body: `{"command":"host-deny0"} {}`, status: 400},
		{name: "bad agent id", query: "?agents_list=abc", body: fw600, status: 400},
		{name: "short agent id", query: "?agents_list=01", body: fw600, status: 400},
		{name: "empty agent id", query: "?agents_list=001,", body: fw600, status: 400},
		{name: "oversized agents_list", query: "?agents_list=" + strings.Repeat("001,", MaxAgentsList) + "001", body: fw600, status: 400},
		{name: "body over 1 MiB", query: "?agents_list=001", body: `{"command":"host-deny0","arguments":["` + strings.Repeat("x", MaxBody) + `"]}`, status: 413},
	}
	e := newEnv(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.b.sends = nil
			w := e.do(t, "PUT", "/active-response"+tc.query, e.tok[users.Operator], tc.body)
			wantStatus(t, w, tc.status)
			if tc.want != "" && w.Body.String() != tc.want {
				t.Errorf("body:\n%s\nwant:\n%s", w.Body, tc.want)
			}
			if tc.status >= 400 {
				if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("error Content-Type %q", ct)
				}
				if len(e.b.sends) != 0 {
					t.Errorf("sent %+v on a refused request", e.b.sends)
				}
				return
			}
			if tc.sent == nil {
				if tc.want != "" && !strings.Contains(tc.want, `"affected_items":[]`) {
					t.Fatal("test case lacks an expected Send")
				}
				return
			}
			if len(e.b.sends) != 1 {
				t.Fatalf("%d sends, want 1", len(e.b.sends))
			}
			if d := cmp.Diff(*tc.sent, e.b.sends[0]); d != "" {
				t.Errorf("Send (-want +got):\n%s", d)
			}
			rec := e.b.lastRecord()
			if rec.Kind != "change" || rec.User != "oper" || rec.Command != tc.sent.Cmd.Name {
				t.Errorf("audit record %+v", rec)
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestPutActiveResponseMessageRegexIsWazuhs(t *testing.T) {
	for _, ok := range []string{"firewall-drop600", "!custom", "a.b:c/d\\e", "x_y-z"} {
		if checkARCommandFormat(ok) != nil {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"!!x", "a b", "a;b", "a|b", "a$b", "é", "../x", "x/..", `..\x`, `x\..`} {
		if checkARCommandFormat(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWazuhAgents(t *testing.T) {
	e := newEnv(t)
	tok := e.tok[users.ReadOnly]
	t.Run("exact shape", func(t *testing.T) {
		w := e.do(t, "GET", "/agents?agents_list=001", tok, "")
		wantStatus(t, w, 200)
		want := `{"data":{"affected_items":[{"id":"001","name":"web1","ip":"192.0.2.11","registerIP":"192.0.2.10","status":"active",` +
			`"version":"Riposte v0.9.0","os":{"platform":"linux","arch":"amd64","name":"linux"},"manager":"node01","node_name":"node01",` +
			`"group":["default"],"lastKeepAlive":"2026-11-27T10:00:00+00:00","dateAdd":"2026-11-01T09:00:00+00:00"}],` +
			`"total_affected_items":1,"total_failed_items":0,"failed_items":[]},"message":"All selected agents information was returned","error":0}`
		if w.Body.String() != want {
			t.Errorf("body:\n%s\nwant:\n%s", w.Body, want)
		}
	})
	type item struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Name   string `json:"name"`
		IP     string `json:"ip"`
	}
	type res struct {
		Data struct {
			Items    []item            `json:"affected_items"`
			Total    int               `json:"total_affected_items"`
			Failed   []json.RawMessage `json:"failed_items"`
			NFailed  int               `json:"total_failed_items"`
			Selected []map[string]any  `json:"-"`
		} `json:"data"`
		Message string `json:"message"`
		Error   int    `json:"error"`
	}
	ids := func(r res) string {
		var s []string
		for _, it := range r.Data.Items {
			s = append(s, it.ID)
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		query   string
		ids     string
		total   int
		failed  int
		errCode int
	}{
		{query: "", ids: "000,001,002,003,004,005", total: 6},
		{query: "?status=active", ids: "000,001,004,005", total: 4},
		{query: "?status=disconnected,never_connected", ids: "002,003", total: 2},
		{query: "?offset=1&limit=2", ids: "001,002", total: 6},
		{query: "?offset=10", ids: "", total: 6},
		{query: "?agents_list=003,001,999", ids: "003,001", total: 2, failed: 1, errCode: 2},
		{query: "?agents_list=999", ids: "", total: 0, failed: 1, errCode: 1},
		{query: "?agents_list=006", ids: "", total: 0, failed: 1, errCode: 1}, // revoked: gone, as in Wazuh
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			w := e.do(t, "GET", "/agents"+tc.query, tok, "")
			wantStatus(t, w, 200)
			r := decode[res](t, w)
			if ids(r) != tc.ids || r.Data.Total != tc.total || r.Data.NFailed != tc.failed || r.Error != tc.errCode {
				t.Errorf("ids %q total %d failed %d error %d; want %q %d %d %d: %s", ids(r), r.Data.Total, r.Data.NFailed, r.Error,
					tc.ids, tc.total, tc.failed, tc.errCode, w.Body)
			}
		})
	}
	t.Run("select", func(t *testing.T) {
		w := e.do(t, "GET", "/agents?agents_list=002&select=name,os.platform", tok, "")
		wantStatus(t, w, 200)
		want := `{"data":{"affected_items":[{"id":"002","name":"web2","os":{"platform":"linux","arch":"amd64","name":"linux"}}],` +
			`"total_affected_items":1,"total_failed_items":0,"failed_items":[]},"message":"All selected agents information was returned","error":0}`
		if w.Body.String() != want {
			t.Errorf("body:\n%s\nwant:\n%s", w.Body, want)
		}
	})
	for _, bad := range []string{"?select=password", "?status=sleeping", "?limit=0", "?limit=100001", "?offset=-1", "?agents_list=x"} {
		t.Run("bad "+bad, func(t *testing.T) {
			w := e.do(t, "GET", "/agents"+bad, tok, "")
			wantStatus(t, w, 400)
			if bad == "?select=password" && !strings.Contains(w.Body.String(), `"error":1724`) {
				t.Errorf("body %s lacks error 1724", w.Body)
			}
		})
	}
	t.Run("pretty", func(t *testing.T) {
		w := e.do(t, "GET", "/agents?agents_list=001&pretty=true", tok, "")
		if !strings.Contains(w.Body.String(), "\n  \"data\": {") {
			t.Errorf("not indented: %s", w.Body)
		}
	})
}

func TestLoginLimit(t *testing.T) {
	e := newEnv(t)
	e.s.login.max = 3
	login := func(remote, pw string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/security/user/authenticate", nil)
		req.RemoteAddr = remote
		req.SetBasicAuth("oper", pw)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		return w
	}
	wantStatus(t, login("192.0.2.1:1000", "wrong-one"), 401)
	wantStatus(t, login("192.0.2.1:1001", testPassword), 200) // a success forgets the failures
	for range 3 {
		wantStatus(t, login("192.0.2.1:1000", "wrong-one"), 401)
	}
	w := login("192.0.2.1:1002", testPassword)
	wantStatus(t, w, 403)
	if !strings.Contains(w.Body.String(), `"error":6000`) {
		t.Errorf("body %s", w.Body)
	}
	wantStatus(t, login("192.0.2.2:1000", testPassword), 200)

	// The block ends with the window.
	l := e.s.login
	a := remoteAddr("192.0.2.1:1")
	now := time.Now()
	if !l.blocked(a, now) || l.blocked(a, now.Add(l.window)) {
		t.Error("block does not last exactly one window")
	}
	l.fail(a, now.Add(l.window))
	if l.blocked(a, now.Add(l.window)) {
		t.Error("a failure after the window counts the old ones")
	}
}
