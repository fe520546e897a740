package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/riposte/riposte/internal/users"
)

// concrete turns a route pattern into a path to request: {id} becomes an
// agent id, {name} the given user name.
func concrete(path, name string) string {
	return strings.NewReplacer("{id}", "001", "{name}", name).Replace(path)
}

func TestAuthRequired(t *testing.T) {
	e := newEnv(t)
	expired := e.expiredToken(t, e.tok[users.Administrator])
	for _, rt := range e.s.routes {
		if rt.auth == authNone {
			continue
		}
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			for name, tok := range map[string]string{"no token": "", "garbage": "x.y.z", "expired": expired} {
				w := e.do(t, rt.method, concrete(rt.path, "boss"), tok, "")
				if w.Code != http.StatusUnauthorized {
					t.Fatalf("%s: status %d, want 401: %s", name, w.Code, w.Body)
				}
				want := `{"title":"Unauthorized","detail":"Invalid token"}`
				if tok == "" {
					want = `{"title":"Unauthorized","detail":"No authorization token provided"}`
				}
				if w.Body.String() != want {
					t.Errorf("%s: body %s, want %s", name, w.Body, want)
				}
				if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: no WWW-Authenticate: Bearer", name)
				}
			}
		})
	}
}

// TestRoles sends every route as every role: 403 exactly when the role
// does not allow the route's action.
func TestRoles(t *testing.T) {
	e := newEnv(t)
	for _, rt := range e.s.routes {
		if rt.auth == authNone || rt.path == "/api/v1/stream" {
			continue // the stream is tested on its own: it does not end
		}
		for role, tok := range e.tok {
			t.Run(rt.method+" "+rt.path+" as "+string(role), func(t *testing.T) {
				w := e.do(t, rt.method, concrete(rt.path, testUser[role]), tok, "")
				allowed := role.Allows(rt.action)
				if got := w.Code == http.StatusForbidden; got == allowed {
					t.Fatalf("status %d for role %s, action %s: %s", w.Code, role, rt.action, w.Body)
				}
				if w.Code == http.StatusUnauthorized {
					t.Fatalf("status 401: %s", w.Body)
				}
				if !allowed {
					var eb Error
					if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Code != 4000 || eb.Title != "Permission Denied" {
						t.Errorf("403 body %s", w.Body)
					}
				}
			})
		}
	}
}

func TestRoleExamples(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		role         users.Role
		method, path string
		body         string
		status       int
	}{
		{users.ReadOnly, "PUT", "/active-response?agents_list=001", `{"command":"firewall-drop0"}`, 403},
		{users.ReadOnly, "GET", "/agents", "", 200},
		{users.ReadOnly, "POST", "/api/v1/alerts", `{"rule":{"id":"1","level":3}}`, 403},
		{users.Operator, "PUT", "/active-response?agents_list=001", `{"command":"firewall-drop0"}`, 200},
		{users.Operator, "DELETE", "/api/v1/agents/002", "", 403},
		{users.Operator, "POST", "/api/v1/users", `{"name":"x","password":"password1","role":"readonly"}`, 403},
		{users.Operator, "POST", "/api/v1/allowlist", `{"entry":"192.0.2.1"}`, 201},
		{users.Administrator, "DELETE", "/api/v1/agents/002", "", 200},
	}
	for _, tc := range tests {
		t.Run(string(tc.role)+" "+tc.method+" "+tc.path, func(t *testing.T) {
			wantStatus(t, e.do(t, tc.method, tc.path, e.tok[tc.role], tc.body), tc.status)
		})
	}
	t.Run("demoted at once", func(t *testing.T) {
		if err := e.users.SetRole("oper", users.ReadOnly); err != nil {
			t.Fatal(err)
		}
		defer e.users.SetRole("oper", users.Operator)
		wantStatus(t, e.do(t, "PUT", "/active-response?agents_list=001", e.tok[users.Operator], `{"command":"firewall-drop0"}`), 403)
	})
	t.Run("removed user", func(t *testing.T) {
		if err := e.users.Add("temp", testPassword, users.Administrator); err != nil {
			t.Fatal(err)
		}
		u, _ := e.users.Get("temp")
		tok, _, _ := e.users.Issue(u)
		wantStatus(t, e.do(t, "GET", "/api/v1/stats", tok, ""), 200)
		if err := e.users.Remove("temp"); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.do(t, "GET", "/api/v1/stats", tok, ""), 401)
	})
}

func TestNotFoundAndConsole(t *testing.T) {
	console := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>console " + r.URL.Path + "</html>"))
	})
	tests := []struct {
		name         string
		console      bool
		method, path string
		status       int
		contains     string
	}{
		{"unknown route", false, "GET", "/nope", 404, `"detail":"no such endpoint: GET /nope"`},
		{"root without console", false, "GET", "/", 404, `"title":"Not Found"`},
		{"wrong method", false, "PATCH", "/api/v1/agents", 405, `"title":"Method Not Allowed"`},
		{"unknown api route with console", true, "GET", "/api/v1/nope", 404, `"title":"Not Found"`},
		{"unknown wazuh route with console", true, "GET", "/security/users", 404, `"title":"Not Found"`},
		{"console root", true, "GET", "/", 200, "console /"},
		{"console file", true, "GET", "/app.js", 200, "console /app.js"},
		{"console not for POST", true, "POST", "/app.js", 404, `"title":"Not Found"`},
	}
	envs := map[bool]*env{false: newEnv(t), true: newEnv(t, func(o *Options) { o.Console = console })}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := envs[tc.console].do(t, tc.method, tc.path, "", "")
			wantStatus(t, w, tc.status)
			if !strings.Contains(w.Body.String(), tc.contains) {
				t.Errorf("body %s lacks %s", w.Body, tc.contains)
			}
			if tc.status == 405 && w.Header().Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("riposte_up 1\n"))
	})
	e := newEnv(t, func(o *Options) { o.Metrics = metrics })
	get := func(remote, tok string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.RemoteAddr = remote
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		return w
	}
	tests := []struct {
		name, remote, tok string
		status            int
	}{
		{"loopback v4", "127.0.0.1:5555", "", 200},
		{"loopback v6", "[::1]:5555", "", 200},
		{"remote without token", "192.0.2.9:5555", "", 401},
		{"remote with token", "192.0.2.9:5555", e.tok[users.ReadOnly], 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := get(tc.remote, tc.tok)
			wantStatus(t, w, tc.status)
			if tc.status == 200 && w.Body.String() != "riposte_up 1\n" {
				t.Errorf("body %q", w.Body)
			}
		})
	}
	// Without a metrics handler there is no route.
	e2 := newEnv(t)
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:1"
	w := httptest.NewRecorder()
	e2.h.ServeHTTP(w, req)
	wantStatus(t, w, 404)
}

func TestOpenAPI(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Metrics = http.NotFoundHandler() })
	w := e.do(t, "GET", "/api/v1/openapi.json", e.tok[users.ReadOnly], "")
	wantStatus(t, w, 200)
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	// Every route served is documented, with its path parameters.
	for _, rt := range e.s.routes {
		raw, ok := doc.Paths[rt.path][strings.ToLower(rt.method)]
		if !ok {
			t.Errorf("%s %s is not in the document", rt.method, rt.path)
			continue
		}
		var op struct {
			Summary    string `json:"summary"`
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(raw, &op); err != nil {
			t.Fatal(err)
		}
		if op.Summary == "" || len(op.Responses) == 0 {
			t.Errorf("%s %s: no summary or responses", rt.method, rt.path)
		}
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			found := false
			for _, p := range op.Parameters {
				found = found || (p.Name == m[1] && p.In == "path")
			}
			if !found {
				t.Errorf("%s %s: path parameter %s undocumented", rt.method, rt.path, m[1])
			}
		}
	}
	// Every documented operation is served (answers other than "no such
	// endpoint").
	for path, ops := range doc.Paths {
		for method := range ops {
			if path == "/api/v1/stream" {
				continue
			}
			w := e.do(t, strings.ToUpper(method), concrete(path, "nobody"), e.tok[users.Administrator], "")
			if w.Code == 404 && strings.Contains(w.Body.String(), "no such endpoint") || w.Code == 405 {
				t.Errorf("documented %s %s is not served: %d", method, path, w.Code)
			}
		}
	}
	// Every $ref resolves.
	for _, ref := range refPattern.FindAllStringSubmatch(w.Body.String(), -1) {
		if _, ok := doc.Components.Schemas[ref[1]]; !ok {
			t.Errorf("$ref %s does not resolve", ref[1])
		}
	}
	for name, s := range doc.Components.Schemas {
		if string(s) == "null" {
			t.Errorf("schema %s is empty", name)
		}
	}
}

var refPattern = regexp.MustCompile(`"\$ref":"#/components/schemas/([^"]+)"`)
