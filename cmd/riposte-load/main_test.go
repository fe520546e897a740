package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAPI answers the login and PUT /active-response, sending to every
// agent listed.
func fakeAPI(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /security/user/authenticate", func(w http.ResponseWriter, r *http.Request) {
		if u, p, _ := r.BasicAuth(); u != "admin" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"data":{"token":"t"},"error":0}`)
	})
	mux.HandleFunc("PUT /active-response", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		agents := strings.Split(r.URL.Query().Get("agents_list"), ",")
		b, _ := json.Marshal(map[string]any{"data": map[string]any{"affected_items": agents, "total_affected_items": len(agents)}, "error": 0})
		w.Write(b)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestPut(t *testing.T) {
	srv := fakeAPI(t)
	pw := filepath.Join(t.TempDir(), "admin.password")
	if err := os.WriteFile(pw, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"put", "--api", srv.URL, "--insecure", "--password-file", pw,
		"--agents", "001, 002", "--clients", "3", "--requests", "20", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rep struct {
		Requests int            `json:"requests"`
		OK       int            `json:"ok"`
		Items    int            `json:"items"`
		Status   map[string]int `json:"status"`
		Latency  map[string]float64
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if rep.Requests != 20 || rep.OK != 20 || rep.Items != 40 || rep.Status["200"] != 20 {
		t.Errorf("report %+v", rep)
	}
	if _, ok := rep.Latency["p99_ms"]; !ok {
		t.Errorf("no p99 in %s", out.String())
	}

	out.Reset()
	if code := run(t.Context(), []string{"put", "--api", srv.URL, "--insecure", "--password-file", pw,
		"--agents", "001", "--clients", "2", "--requests", "4"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "requests  4 PUT /active-response in ") || !strings.Contains(out.String(), "latency   min ") {
		t.Errorf("text report:\n%s", out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("pw"), 0o600)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no agents", []string{"put", "--password-file", pw}, "either --agents or --agents-from-api"},
		{"both", []string{"put", "--password-file", pw, "--agents", "001", "--agents-from-api"}, "either --agents or --agents-from-api"},
		{"no password file", []string{"pages"}, `"password-file" not set`},
		{"empty password", []string{"pages", "--password-file", empty}, "is empty"},
		{"sim without manager", []string{"sim", "--token-file", pw, "--ca", pw, "--dir", "x"}, `"manager" not set`},
		{"unknown command", []string{"push"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(t.Context(), tc.args, &out, &errOut); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("stderr %q, want %q", errOut.String(), tc.want)
			}
		})
	}
}
