package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
	"github.com/riposte/riposte/internal/users"
)

// sendCall is one call of Backend.Send.
type sendCall struct {
	Agents    []string
	Cmd       ARCommand
	ExtraArgs []string
	Alert     string
}

// fakeBackend records what the server asks of it.
type fakeBackend struct {
	mu        sync.Mutex
	agents    []manager.AgentStatus
	arNames   map[string]ARCommand
	disabled  map[string]bool
	delivery  map[string]string // per agent; default manager.Sent
	sends     []sendCall
	active    []manager.Active
	activeQ   []ActiveQuery
	undos     []string
	extends   []time.Time
	runs      []api.ManualRun
	auditQ    []AuditQuery
	records   []AuditRecord
	allow     []AllowEntry
	removed   []string
	ingested  []int
	ingestOpt []api.IngestOptions
	rejected  int
	err       error // returned by the next change, then cleared
	changes   chan struct{}
	commands  []manager.CommandRecord
}

func newFakeBackend() *fakeBackend {
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	seen := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	hb := func(ver string, addr string) fleet.Heartbeat {
		return fleet.Heartbeat{Version: ver, OS: "linux", Arch: "amd64", Addresses: []string{addr}}
	}
	return &fakeBackend{
		agents: []manager.AgentStatus{
			{Agent: fleet.Agent{ID: "000", Name: "manager", Enrolled: t0, Last: hb("0.9.0", "127.0.0.1"), LastSeen: seen}, Status: "active"},
			{Agent: fleet.Agent{ID: "001", Name: "web1", Enrolled: t0, RegisteredIP: "192.0.2.10", Groups: []string{"default"},
				Last: hb("0.9.0", "192.0.2.11"), LastSeen: seen}, Status: "active"},
			{Agent: fleet.Agent{ID: "002", Name: "web2", Enrolled: t0, RegisteredIP: "192.0.2.20", Last: hb("0.8.1", "192.0.2.20"), LastSeen: seen}, Status: "disconnected"},
			{Agent: fleet.Agent{ID: "003", Name: "db1", Enrolled: t0}, Status: "never_connected"},
			{Agent: fleet.Agent{ID: "004", Name: "noar", Enrolled: t0, Last: hb("0.9.0", "192.0.2.40"), LastSeen: seen}, Status: "active"},
			{Agent: fleet.Agent{ID: "005", Name: "flaky", Enrolled: t0, Last: hb("0.9.0", "192.0.2.50"), LastSeen: seen}, Status: "active"},
			{Agent: fleet.Agent{ID: "006", Name: "gone", Enrolled: t0, Revoked: true}, Status: "revoked"},
		},
		arNames: map[string]ARCommand{
			"firewall-drop0":   {Name: "firewall-drop0", Command: "firewall-drop", Executable: "firewall-drop"},
			"firewall-drop600": {Name: "firewall-drop600", Command: "firewall-drop", Executable: "firewall-drop", Timeout: 600 * time.Second},
			"host-deny0":       {Name: "host-deny0", Command: "host-deny", Executable: "host-deny"},
		},
		disabled: map[string]bool{"004": true},
		delivery: map[string]string{"005": manager.NotDeliverable + "store failed"},
		active: []manager.Active{{ID: "001.abcd", Agent: "001", Name: "firewall-drop", Key: "firewall-drop 203.0.113.7",
			SrcIP: "203.0.113.7", Added: t0, Until: t0.Add(time.Hour)}},
		allow:   []AllowEntry{{Entry: "127.0.0.1", Source: "config (ossec.conf:12)"}},
		changes: make(chan struct{}),
	}
}

func (f *fakeBackend) takeErr() error {
	err := f.err
	f.err = nil
	return err
}

func (f *fakeBackend) Commands(agent string) []manager.CommandRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []manager.CommandRecord
	for _, c := range f.commands {
		if agent == "" || c.Command.Agent == agent {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeBackend) Agents() []manager.AgentStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.agents)
}

func (f *fakeBackend) RemoveAgent(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeErr(); err != nil {
		return err
	}
	f.removed = append(f.removed, id)
	return nil
}

func (f *fakeBackend) ARNames() map[string]ARCommand { return f.arNames }

func (f *fakeBackend) Send(ctx context.Context, agents []string, c ARCommand, extraArgs []string, alertDoc json.RawMessage) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends = append(f.sends, sendCall{Agents: agents, Cmd: c, ExtraArgs: extraArgs, Alert: string(alertDoc)})
	out := make(map[string]string, len(agents))
	for _, a := range agents {
		out[a] = manager.Sent
		if d, ok := f.delivery[a]; ok {
			out[a] = d
		}
	}
	return out
}

func (f *fakeBackend) ARDisabled(agent string) bool { return f.disabled[agent] }

func (f *fakeBackend) Active(q ActiveQuery) ([]manager.Active, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.activeQ = append(f.activeQ, q)
	return slices.Clone(f.active), len(f.active)
}

func (f *fakeBackend) Undo(ctx context.Context, id string, ip netip.Addr) ([]manager.Active, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeErr(); err != nil {
		return nil, err
	}
	f.undos = append(f.undos, id+"|"+ipString(ip))
	return slices.Clone(f.active), nil
}

func (f *fakeBackend) Extend(ctx context.Context, id string, ip netip.Addr, until time.Time) ([]manager.Active, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeErr(); err != nil {
		return nil, err
	}
	f.extends = append(f.extends, until)
	return slices.Clone(f.active), nil
}

func (f *fakeBackend) RunManual(ctx context.Context, r api.ManualRun) (*api.ManualReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeErr(); err != nil {
		return nil, err
	}
	f.runs = append(f.runs, r)
	return &api.ManualReport{Command: r.Command, Timeout: 600, Delivery: map[string]string{"001": manager.Sent}}, nil
}

func (f *fakeBackend) Audit(ctx context.Context, q AuditQuery) ([]AuditRecord, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auditQ = append(f.auditQ, q)
	return slices.Clone(f.records), len(f.records), nil
}

func (f *fakeBackend) Record(ctx context.Context, r AuditRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records = append(f.records, r)
}

func (f *fakeBackend) lastRecord() AuditRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.records) == 0 {
		return AuditRecord{}
	}
	return f.records[len(f.records)-1]
}

func (f *fakeBackend) Allowlist() []AllowEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.allow)
}

func (f *fakeBackend) Allow(ctx context.Context, entry, comment string) ([]manager.Active, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeErr(); err != nil {
		return nil, err
	}
	f.allow = append(f.allow, AllowEntry{Entry: entry, Source: "api", Comment: comment})
	return slices.Clone(f.active), nil
}

func (f *fakeBackend) Disallow(ctx context.Context, entry string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeErr(); err != nil {
		return err
	}
	i := slices.IndexFunc(f.allow, func(e AllowEntry) bool { return e.Entry == entry && e.Source == "api" })
	if i < 0 {
		return api.ErrNotFound
	}
	f.allow = slices.Delete(f.allow, i, i+1)
	return nil
}

func (f *fakeBackend) Ingest(ctx context.Context, alerts []*alert.Alert, opts api.IngestOptions) []api.AlertReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ingested = append(f.ingested, len(alerts))
	f.ingestOpt = append(f.ingestOpt, opts)
	var out []api.AlertReport
	for i, a := range alerts {
		out = append(out, api.AlertReport{Item: i + 1, RuleID: a.RuleID, RuleLevel: a.RuleLevel, AgentID: a.AgentID, SrcIP: a.SrcIP,
			Decisions: []api.DecisionReport{}})
	}
	return out
}

func (f *fakeBackend) Rejected(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejected += n
}

func (f *fakeBackend) Runs() []execd.Result {
	return []execd.Result{{Command: "firewall-drop", Program: "firewall-drop", Verb: "add", Status: "ok"}}
}

func (f *fakeBackend) Stats() api.Stats { return api.Stats{AlertsAccepted: 7, Runs: 3} }

func (f *fakeBackend) Config() []byte { return []byte("<ossec_config><global/></ossec_config>\n") }

func (f *fakeBackend) Changes() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changes
}

// fire signals a change.
func (f *fakeBackend) fire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.changes)
	f.changes = make(chan struct{})
}

var _ Backend = (*fakeBackend)(nil)

// env is a server with its fake backend, its user store and a token per
// role.
type env struct {
	s     *Server
	h     http.Handler
	b     *fakeBackend
	users *users.Store
	dir   string
	tok   map[users.Role]string
}

// The test users, one per role; all share a password.
const testPassword = "s3cret-pass"

var testUser = map[users.Role]string{users.ReadOnly: "reader", users.Operator: "oper", users.Administrator: "boss"}

func newEnv(t testing.TB, opts ...func(*Options)) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := users.Open(filepath.Join(dir, "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{b: newFakeBackend(), users: st, dir: dir, tok: map[users.Role]string{}}
	for role, name := range testUser {
		if err := st.Add(name, testPassword, role); err != nil {
			t.Fatal(err)
		}
		u, _ := st.Get(name)
		if e.tok[role], _, err = st.Issue(u); err != nil {
			t.Fatal(err)
		}
	}
	o := Options{Backend: e.b, Users: st, Node: "node01"}
	for _, f := range opts {
		f(&o)
	}
	if e.s, err = New(o); err != nil {
		t.Fatal(err)
	}
	e.h = e.s.Handler()
	return e
}

// do sends a request to the handler with a token (none when empty).
func (e *env) do(t testing.TB, method, target, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

// expiredToken re-signs a valid token's claims with an expiry in the past,
// using the store's key file.
func (e *env) expiredToken(t testing.TB, valid string) string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(e.dir, "users.json.key"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(valid, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.MapClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour).Unix()
	c["exp"], c["iat"], c["nbf"] = past, past-900, past-900
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// decode unmarshals a JSON answer.
func decode[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", w.Code, err, w.Body)
	}
	return v
}

// wantStatus fails unless w has the status code.
func wantStatus(t testing.TB, w *httptest.ResponseRecorder, code int) {
	t.Helper()
	if w.Code != code {
		t.Fatalf("status %d, want %d; body: %s", w.Code, code, w.Body)
	}
}
