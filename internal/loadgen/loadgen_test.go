package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type randT = rand.Rand

// fakeAPI fakes the manager's HTTPS API: authentication, PUT
// /active-response, GET /agents and a paged list. It checks the shape of
// every request.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	token     string // the valid JWT; empty: none is valid
	auths     int    // successful authentications
	puts      int    // PUTs accepted with a valid token
	expireAt  int    // after this many PUTs the token stops being valid (0: never)
	refused   int    // requests answered 401
	srcIPs    map[string]bool
	offsets   []int
	agents    []agentEntry
	pageCap   int // the most items GET /agents returns per page
	total     int // items of the paged list
	putAnswer func(n int) (int, string)
}

type agentEntry struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{t: t, srcIPs: make(map[string]bool), pageCap: 1000}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /security/user/authenticate", f.authenticate)
	mux.HandleFunc("PUT /active-response", f.authed(f.put))
	mux.HandleFunc("GET /agents", f.authed(f.listAgents))
	mux.HandleFunc("GET /api/v1/responses", f.authed(f.responses))
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes of TestAuthentication
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

// caFile writes the server's certificate where --ca can read it.
func (f *fakeAPI) caFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fakeAPI) client(t *testing.T, password string) *Client {
	c, err := NewClient(ClientOptions{API: f.srv.URL, User: "admin", Password: password, CAFile: f.caFile(t), Conns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func (f *fakeAPI) authenticate(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != "admin" || pass != "secret" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"title":"Unauthorized","detail":"Invalid credentials","error":401}`)
		return
	}
	f.mu.Lock()
	f.auths++
	f.token = "jwt-" + strconv.Itoa(f.auths)
	tok := f.token
	f.mu.Unlock()
	fmt.Fprintf(w, `{"data":{"token":%q},"error":0}`, tok)
}

func (f *fakeAPI) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		ok := f.token != "" && r.Header.Get("Authorization") == "Bearer "+f.token
		if !ok {
			f.refused++
		}
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"title":"Unauthorized","detail":"No authorization token provided","error":6000}`)
			return
		}
		h(w, r)
	}
}

func (f *fakeAPI) put(w http.ResponseWriter, r *http.Request) {
	if got := r.URL.Query().Get("agents_list"); got != "001,002" {
		f.t.Errorf("agents_list = %q", got)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("Content-Type = %q", ct)
	}
	var body map[string]json.RawMessage
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil {
		f.t.Errorf("body: %v", err)
		return
	}
	if got := string(body["arguments"]); got != "[]" {
		f.t.Errorf("arguments = %s, want []", got)
	}
	var cmd string
	json.Unmarshal(body["command"], &cmd)
	var alert struct {
		Data struct {
			SrcIP string `json:"srcip"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body["alert"], &alert); err != nil {
		f.t.Errorf("alert: %v", err)
	}
	ip, err := netip.ParseAddr(alert.Data.SrcIP)
	testNet := false
	for _, p := range []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"} {
		testNet = testNet || (err == nil && netip.MustParsePrefix(p).Contains(ip))
	}
	if !testNet || ip.As4()[3] == 0 || ip.As4()[3] == 255 {
		f.t.Errorf("srcip %q is not a TEST-NET host address", alert.Data.SrcIP)
	}

	f.mu.Lock()
	f.puts++
	n := f.puts
	f.srcIPs[alert.Data.SrcIP] = true
	if f.expireAt > 0 && n == f.expireAt {
		f.token = "" // expired: every token is refused until the next login
	}
	answer := f.putAnswer
	f.mu.Unlock()
	if answer != nil {
		status, b := answer(n)
		w.WriteHeader(status)
		io.WriteString(w, b)
		return
	}
	if cmd != "firewall-drop0" {
		f.t.Errorf("command = %q", cmd)
	}
	// 001 gets it, 002 is not active.
	io.WriteString(w, `{"data":{"affected_items":["001"],"total_affected_items":1,"total_failed_items":1,
		"failed_items":[{"error":{"code":1707,"message":"Cannot send request, agent is not active"},"id":["002"]}]},
		"message":"AR command was not sent to some agents","error":2}`)
}

func (f *fakeAPI) listAgents(w http.ResponseWriter, r *http.Request) {
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	limit = min(limit, f.pageCap)
	end := min(offset+limit, len(f.agents))
	items := f.agents[min(offset, end):end]
	b, _ := json.Marshal(map[string]any{"data": map[string]any{"affected_items": items, "total_affected_items": len(f.agents)}, "error": 0})
	w.Write(b)
}

func (f *fakeAPI) responses(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, err1 := strconv.Atoi(q.Get("offset"))
	limit, err2 := strconv.Atoi(q.Get("limit"))
	if err1 != nil || err2 != nil || limit != 50 {
		f.t.Errorf("query %q", r.URL.RawQuery)
	}
	f.mu.Lock()
	f.offsets = append(f.offsets, offset)
	f.mu.Unlock()
	n := max(0, min(limit, f.total-offset))
	items := make([]map[string]int, n)
	for i := range items {
		items[i] = map[string]int{"n": offset + i}
	}
	b, _ := json.Marshal(map[string]any{"data": map[string]any{"affected_items": items, "total_affected_items": f.total}, "error": 0})
	w.Write(b)
}

func TestPut(t *testing.T) {
	f := newFakeAPI(t)
	f.expireAt = 20
	c := f.client(t, "secret")
	r, err := Put(t.Context(), c, PutOptions{Agents: []string{"001", "002"}, Clients: 4, Requests: 50})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Requests != 50 || f.puts != 50 {
		t.Errorf("report %d requests, server took %d; want 50", r.Requests, f.puts)
	}
	// Every answer is a partial success: error 2, one agent failed.
	if r.OK != 0 || r.Failed != 50 {
		t.Errorf("ok %d failed %d, want 0 and 50", r.OK, r.Failed)
	}
	if diff := cmp.Diff(map[int]int{200: 50}, r.Status); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[int]int{1707: 50}, r.Codes); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
	if r.Items != 50 {
		t.Errorf("items %d, want 50 (one agent per request)", r.Items)
	}
	// The token expired once: the requests refused with it authenticated
	// again once between them, and were sent again.
	if f.auths != 2 || r.Reauths != 1 {
		t.Errorf("%d authentications, %d re-authentications; want 2 and 1", f.auths, r.Reauths)
	}
	if f.refused == 0 {
		t.Error("no request was refused: the re-authentication was not exercised")
	}
	if len(f.srcIPs) < 10 {
		t.Errorf("only %d distinct source addresses in 50 requests", len(f.srcIPs))
	}
	if r.Latency.Max <= 0 || r.Latency.P50 > r.Latency.P99 || r.Throughput <= 0 {
		t.Errorf("latency %+v throughput %v", r.Latency, r.Throughput)
	}
}

func TestPutErrors(t *testing.T) {
	f := newFakeAPI(t)
	f.putAnswer = func(n int) (int, string) {
		switch n % 4 {
		case 0:
			return http.StatusOK, `{"data":{"affected_items":["001","002"],"total_affected_items":2,"failed_items":[]},"error":0}`
		case 1:
			return http.StatusOK, `{"data":{"affected_items":[],"total_affected_items":0,"failed_items":[{"error":{"code":1652},"id":["001","002"]}]},"error":1}`
		case 2:
			return http.StatusBadRequest, `{"title":"Bad Request","detail":"'' is not a 'active_response_command'","error":1650}`
		}
		return http.StatusInternalServerError, `oops`
	}
	c := f.client(t, "secret")
	r, err := Put(t.Context(), c, PutOptions{Agents: []string{"001", "002"}, Command: "bad", Clients: 3, Requests: 40})
	if err != nil {
		t.Fatal(err)
	}
	want := &Report{
		Requests: 40, OK: 10, Failed: 30, Items: 20,
		Status: map[int]int{200: 20, 400: 10, 500: 10},
		Codes:  map[int]int{1652: 20, 1650: 10},
		Errors: map[string]int{},
	}
	got := &Report{Requests: r.Requests, OK: r.OK, Failed: r.Failed, Items: r.Items, Status: r.Status, Codes: r.Codes, Errors: r.Errors}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestPutTransportErrors(t *testing.T) {
	f := newFakeAPI(t)
	c := f.client(t, "secret")
	if err := c.Authenticate(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.srv.Close() // the server goes away after the login
	r := run(t.Context(), 2, 6, func(ctx context.Context, _ int, _ *randT) Sample {
		resp, err := c.Do(ctx, http.MethodGet, "/agents", nil)
		if err != nil {
			return Sample{Err: err, Failed: true}
		}
		return Sample{Status: resp.Status}
	})
	if r.Requests != 6 || r.Failed != 6 || r.Status[0] != 6 {
		t.Errorf("report %+v", r)
	}
	n := 0
	for k, v := range r.Errors {
		if strings.Contains(k, "127.0.0.1") || strings.Contains(k, "https://") {
			t.Errorf("error kind %q keeps the URL", k)
		}
		n += v
	}
	if n != 6 {
		t.Errorf("errors %v, want 6 in all", r.Errors)
	}
}

func TestAuthentication(t *testing.T) {
	f := newFakeAPI(t)
	_, err := Put(t.Context(), f.client(t, "wrong"), PutOptions{Agents: []string{"001"}, Requests: 1})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong password: %v", err)
	}
	f.mu.Lock()
	puts := f.puts
	f.mu.Unlock()
	if puts != 0 {
		t.Errorf("%d PUTs sent without a token", puts)
	}

	// Without --ca the server's certificate is not trusted; with
	// --insecure it is not checked.
	c, err := NewClient(ClientOptions{API: f.srv.URL, User: "admin", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Authenticate(t.Context()); err == nil {
		t.Error("a certificate from no trusted CA was accepted")
	}
	c, err = NewClient(ClientOptions{API: f.srv.URL, User: "admin", Password: "secret", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Authenticate(t.Context()); err != nil {
		t.Errorf("insecure: %v", err)
	}

	// Do logs in by itself when it has no token yet.
	c = f.client(t, "secret")
	resp, err := c.Do(t.Context(), http.MethodGet, "/agents?offset=0&limit=1", nil)
	if err != nil || resp.Status != http.StatusOK {
		t.Errorf("Do without a token: %v %v", resp, err)
	}
	if c.Reauths() != 0 {
		t.Errorf("reauths = %d, want 0: the first login is no re-authentication", c.Reauths())
	}
}

func TestNewClientOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    ClientOptions
		want string
	}{
		{"no url", ClientOptions{User: "a", Password: "b"}, "required"},
		{"no password", ClientOptions{API: "https://x", User: "a"}, "required"},
		{"not a url", ClientOptions{API: "127.0.0.1:55000", User: "a", Password: "b"}, "want https://"},
		{"missing ca", ClientOptions{API: "https://x", User: "a", Password: "b", CAFile: "/nonexistent/ca.pem"}, "CA file"},
		{"ok", ClientOptions{API: "https://127.0.0.1:55000/", User: "a", Password: "b"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewClient(tc.o)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAgents(t *testing.T) {
	f := newFakeAPI(t)
	f.pageCap = 3 // the server caps the page below the client's limit
	f.agents = []agentEntry{{"000", "active"}, {"001", "active"}, {"002", "disconnected"}, {"003", "active"},
		{"004", "active"}, {"005", "never_connected"}, {"006", "active"}}
	got, err := f.client(t, "secret").Agents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"001", "003", "004", "006"}, got); diff != "" {
		t.Errorf("agents (-want +got):\n%s", diff)
	}
}

func TestPages(t *testing.T) {
	f := newFakeAPI(t)
	f.total = 120
	r, err := Pages(t.Context(), f.client(t, "secret"), PagesOptions{Clients: 3, Requests: 30, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Requests != 30 || r.OK != 30 || len(f.offsets) != 31 {
		t.Fatalf("report %+v; server saw %d pages (want 30 and the first)", r, len(f.offsets))
	}
	if f.offsets[0] != 0 {
		t.Errorf("first page at %d", f.offsets[0])
	}
	want := 0
	distinct := map[int]bool{}
	for _, o := range f.offsets[1:] {
		if o < 0 || o >= f.total {
			t.Errorf("offset %d outside [0,%d)", o, f.total)
		}
		distinct[o] = true
		want += min(50, f.total-o)
	}
	if r.Items != want {
		t.Errorf("items %d, want %d", r.Items, want)
	}
	if len(distinct) < 5 {
		t.Errorf("offsets not random: %v", f.offsets)
	}
	if !strings.Contains(r.What, "of 120") {
		t.Errorf("what = %q", r.What)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p90 of 1..100", ms(hundred...), 90, 90 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 of 1..100", ms(hundred...), 100, 100 * time.Millisecond},
		{"p50 of four", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p51 of four", ms(1, 2, 3, 4), 51, 3 * time.Millisecond},
		{"p99 of ten", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"p0 clamps to the least", ms(3, 5), 0, 3 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.in, tc.p); got != tc.want {
				t.Errorf("Percentile(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
	l := Summarize(ms(40, 10, 30, 20))
	if diff := cmp.Diff(Latency{Min: 10e6, Mean: 25e6, P50: 20e6, P90: 40e6, P99: 40e6, Max: 40e6}, l); diff != "" {
		t.Errorf("Summarize (-want +got):\n%s", diff)
	}
}

func TestSummarize(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	samples := []Sample{
		{Latency: time.Millisecond, Status: 200, Items: 2},
		{Latency: 3 * time.Millisecond, Status: 200, Items: 1, Codes: []int{1707}, Failed: true},
		{Latency: 2 * time.Millisecond, Status: 401, Codes: []int{6000}, Failed: true},
		{Latency: 4 * time.Millisecond, Err: refused, Failed: true},
		{Latency: 5 * time.Millisecond, Err: context.DeadlineExceeded, Failed: true},
	}
	for i := range maxErrorKinds + 3 {
		samples = append(samples, Sample{Err: fmt.Errorf("odd %d", i), Failed: true})
	}
	r := summarize(samples, 2*time.Second)
	if r.Requests != len(samples) || r.OK != 1 || r.Failed != len(samples)-1 || r.Items != 3 {
		t.Errorf("counts %+v", r)
	}
	if diff := cmp.Diff(map[int]int{200: 2, 401: 1, 0: 2 + maxErrorKinds + 3}, r.Status); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[int]int{1707: 1, 6000: 1}, r.Codes); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
	if len(r.Errors) != maxErrorKinds+1 || r.Errors["timeout"] != 1 || r.Errors[refused.Error()] != 1 || r.Errors["other"] != 5 {
		t.Errorf("errors %v", r.Errors)
	}
	if r.Throughput != float64(len(samples))/2 || r.ItemsPerSecond != 1.5 {
		t.Errorf("throughput %v items/s %v", r.Throughput, r.ItemsPerSecond)
	}
}

func TestReportOutput(t *testing.T) {
	r := summarize([]Sample{
		{Latency: 10 * time.Millisecond, Status: 200, Items: 2},
		{Latency: 30 * time.Millisecond, Status: 200, Items: 1, Codes: []int{1707}, Failed: true},
		{Latency: 20 * time.Millisecond, Err: errors.New("EOF"), Failed: true},
	}, time.Second)
	r.What, r.ItemsName, r.Reauths = "PUT /active-response", "commands", 1
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	want := `requests  3 PUT /active-response in 1s (3.0/s): 1 ok, 2 failed, 1 re-authentications
commands  3 (3.0/s)
status    none: 1, 200: 2
codes     1707: 1
errors    "EOF": 1
latency   min 10ms  mean 20ms  p50 20ms  p90 30ms  p99 30ms  max 30ms
`
	if diff := cmp.Diff(want, text.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}

	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{
		"requests": 3.0, "ok": 1.0, "failed": 2.0, "items": 3.0, "reauths": 1.0, "elapsed_seconds": 1.0,
		"requests_per_second": 3.0, "status": map[string]any{"0": 1.0, "200": 2.0},
		"error_codes": map[string]any{"1707": 1.0}, "errors": map[string]any{"EOF": 1.0},
		"latency": map[string]any{"min_ms": 10.0, "mean_ms": 20.0, "p50_ms": 20.0, "p90_ms": 30.0, "p99_ms": 30.0, "max_ms": 30.0},
	} {
		if diff := cmp.Diff(v, got[k]); diff != "" {
			t.Errorf("JSON %s (-want +got):\n%s", k, diff)
		}
	}
}

func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var mu sync.Mutex
	n := 0
	r := run(ctx, 3, 1000, func(ctx context.Context, worker int, _ *randT) Sample {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == 10 {
			cancel()
		}
		return Sample{Status: 200}
	})
	// The three workers may each finish the request in hand.
	if r.Requests < 10 || r.Requests > 12 || r.Requests != n {
		t.Errorf("%d requests after cancelling at 10 (%d sent)", r.Requests, n)
	}
	workers := map[int]bool{}
	run(t.Context(), 4, 400, func(_ context.Context, worker int, _ *randT) Sample {
		mu.Lock()
		workers[worker] = true
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return Sample{}
	})
	if got := slices.Sorted(maps.Keys(workers)); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Errorf("workers %v, want 0..3", got)
	}
}

func TestAddressSpaces(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bench := netip.MustParsePrefix("198.18.0.0/15")
	testNets := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24")}
	seen := map[netip.Addr]bool{}
	for range 5000 {
		a := benchmarkAddr(rng)
		if !bench.Contains(a) || a.As4()[3] == 0 || a.As4()[3] == 255 {
			t.Fatalf("benchmark address %s outside 198.18.0.0/15 or not a host", a)
		}
		seen[a] = true
		tn := testNetAddr(rng)
		if !slices.ContainsFunc(testNets, func(p netip.Prefix) bool { return p.Contains(tn) }) {
			t.Fatalf("TEST-NET address %s outside the three blocks", tn)
		}
	}
	if len(seen) < 4900 {
		t.Errorf("5000 benchmark addresses hold only %d distinct ones", len(seen))
	}
}
