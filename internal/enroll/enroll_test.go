package enroll

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte/riposte/internal/broker"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/pki"
)

// registry is a test stand-in for the manager's agent registry.
type registry struct {
	mu     sync.Mutex
	next   int
	byName map[string]string // name → id
	keys   map[string]string // id → key fingerprint
	hosts  []string          // hosts AgentURLs was given
	calls  int
}

func (r *registry) register(_ context.Context, a Applicant) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if id, ok := r.byName[a.Name]; ok {
		if !a.Force {
			return "", fmt.Errorf("agent name %q is already enrolled as %s", a.Name, id)
		}
		delete(r.keys, id)
	}
	r.next++
	id := fleet.FormatAgentID(r.next)
	r.byName[a.Name] = id
	r.keys[id] = a.KeyFingerprint
	return id, nil
}

func (r *registry) snapshot() (calls int, hosts []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, append([]string(nil), r.hosts...)
}

func (r *registry) authorize(id, fp string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if want, ok := r.keys[id]; !ok || want != fp {
		return errors.New("unknown agent or key")
	}
	return nil
}

type fixture struct {
	dir       string
	ca        *pki.CA
	srv       *Server
	reg       *registry
	b         *broker.Broker
	addr      string // enrollment server
	token     string
	tokenFile string
}

// newFixture starts a broker and an enrollment server; setup, if any,
// adjusts the server before it serves.
func newFixture(t *testing.T, setup ...func(*Server)) *fixture {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.ServerCertificate(filepath.Join(dir, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, ca: ca, reg: &registry{byName: map[string]string{}, keys: map[string]string{}}}
	f.b, err = broker.Start(broker.Options{
		StoreDir:    filepath.Join(dir, "js"),
		Listen:      "127.0.0.1:0",
		TLS:         &tls.Config{Certificates: []tls.Certificate{sc}, ClientCAs: ca.Pool()},
		Authorize:   f.reg.authorize,
		Permissions: fleet.Subjects{}.AgentPermissions,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.b.Shutdown)

	f.tokenFile = filepath.Join(dir, "enrollment.token")
	f.token, _, err = EnsureToken(f.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	f.srv, err = NewServer(ServerOptions{
		CA:        ca,
		Cert:      sc,
		TokenFile: f.tokenFile,
		Register:  f.reg.register,
		AgentURLs: func(host string) []string {
			f.reg.mu.Lock()
			f.reg.hosts = append(f.reg.hosts, host)
			f.reg.mu.Unlock()
			return []string{f.b.AgentURL()}
		},
		Validity: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range setup {
		fn(f.srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return f
}

func (f *fixture) options(t *testing.T, name string) ClientOptions {
	return ClientOptions{
		Manager: f.addr,
		Token:   f.token,
		CAPin:   f.ca.Pin(),
		Name:    name,
		Dir:     filepath.Join(t.TempDir(), "agent"),
	}
}

func statusOf(err error) int {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.StatusCode
	}
	return 0
}

func TestEnrollAndConnect(t *testing.T) {
	f := newFixture(t)
	o := f.options(t, "web-01")
	o.Groups = []string{"default", "web"}
	id, err := Enroll(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if id.AgentID != "001" || id.Name != "web-01" || len(id.NATSURLs) != 1 || id.NATSURLs[0] != f.b.AgentURL() {
		t.Errorf("identity %+v", id)
	}
	if _, hosts := f.reg.snapshot(); len(hosts) != 1 || hosts[0] != "127.0.0.1" {
		t.Errorf("AgentURLs given hosts %v, want the one the agent used", hosts)
	}

	st, err := os.Stat(filepath.Join(o.Dir, KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", st, err)
	}
	caPEM, err := os.ReadFile(filepath.Join(o.Dir, CAFile))
	if err != nil || !bytes.Equal(caPEM, f.ca.CertPEM()) {
		t.Errorf("ca.pem is not the manager's CA: %v", err)
	}
	loaded, err := LoadIdentity(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*loaded) != fmt.Sprint(*id) {
		t.Errorf("LoadIdentity = %+v, want %+v", loaded, id)
	}
	if fmt.Sprint(loaded.Groups) != "[default web]" {
		t.Errorf("the identity keeps groups %v, want those enrolled with", loaded.Groups)
	}

	// The identity connects to the broker and may publish its results.
	mgr, err := f.b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	sub, err := mgr.SubscribeSync(fleet.Subjects{}.AllResults())
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Flush(); err != nil {
		t.Fatal(err)
	}
	opts, err := loaded.NATSOptions()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(strings.Join(loaded.NATSURLs, ","), append(opts, nats.NoReconnect())...)
	if err != nil {
		t.Fatalf("agent connection: %v", err)
	}
	defer nc.Close()
	if err := nc.Publish(fleet.Subjects{}.Result(id.AgentID), []byte("hello")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil || m.Subject != "riposte.result.001" {
		t.Fatalf("manager got %v, %v", m, err)
	}

	// A second enrollment under the same name is refused unless forced;
	// the forced one replaces the key, and the old identity is refused.
	o2 := f.options(t, "web-01")
	_, err = Enroll(context.Background(), o2)
	if statusOf(err) != http.StatusConflict || !strings.Contains(err.Error(), "already enrolled") {
		t.Errorf("duplicate name: %v, want 409 with the registry's message", err)
	}
	o2.Force = true
	id2, err := Enroll(context.Background(), o2)
	if err != nil {
		t.Fatalf("forced: %v", err)
	}
	if id2.AgentID == id.AgentID {
		t.Errorf("forced enrollment kept id %s", id2.AgentID)
	}
	if nc, err := nats.Connect(strings.Join(loaded.NATSURLs, ","), append(opts, nats.NoReconnect())...); err == nil {
		nc.Close()
		t.Error("replaced identity still connects")
	}
}

func TestEnrollCAFile(t *testing.T) {
	f := newFixture(t)
	caFile := filepath.Join(t.TempDir(), "manager-ca.pem")
	if err := os.WriteFile(caFile, f.ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	other, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(otherFile, other.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		caFile  string
		pin     string
		wantErr bool
	}{
		{"CA file", caFile, "", false},
		{"CA file and pin", caFile, f.ca.Pin(), false},
		{"another CA's file", otherFile, "", true},
		{"file and pin disagree", caFile, other.Pin(), true},
		{"neither", "", "", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := f.options(t, fmt.Sprintf("host-%d", i))
			o.CAFile, o.CAPin = tt.caFile, tt.pin
			_, err := Enroll(context.Background(), o)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if _, lerr := LoadIdentity(o.Dir); (lerr == nil) == tt.wantErr {
				t.Errorf("LoadIdentity after enrollment (err %v): %v", err, lerr)
			}
		})
	}
}

// TestWrongPinSendsNothing checks that the token is never sent to a
// server whose CA does not have the pin.
func TestWrongPinSendsNothing(t *testing.T) {
	ca, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.ServerCertificate(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{sc}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan int, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		received <- len(b)
	}()

	_, err = Enroll(context.Background(), ClientOptions{
		Manager: ln.Addr().String(),
		Token:   "secret-token",
		CAPin:   other.Pin(),
		Name:    "web-01",
		Dir:     t.TempDir(),
	})
	if err == nil || !strings.Contains(err.Error(), "pin") {
		t.Errorf("err = %v, want a pin mismatch", err)
	}
	if n := <-received; n != 0 {
		t.Errorf("server received %d bytes of application data", n)
	}
}

func TestTokenAndRateLimit(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	f := newFixture(t, func(s *Server) {
		s.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})

	o := f.options(t, "web-01")
	o.Token = "wrong"
	for i := range maxFailures {
		if _, err := Enroll(context.Background(), o); statusOf(err) != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %v, want 401", i+1, err)
		}
	}
	o.Token = f.token
	if _, err := Enroll(context.Background(), o); statusOf(err) != http.StatusTooManyRequests {
		t.Fatalf("after %d failures: %v, want 429", maxFailures, err)
	}
	if calls, _ := f.reg.snapshot(); calls != 0 {
		t.Errorf("Register called %d times", calls)
	}
	mu.Lock()
	now = now.Add(failureWindow)
	mu.Unlock()
	if _, err := Enroll(context.Background(), o); err != nil {
		t.Fatalf("a minute later: %v", err)
	}
}

func TestTokenFile(t *testing.T) {
	f := newFixture(t)
	st, err := os.Stat(f.tokenFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	if len(f.token) != 64 {
		t.Errorf("token %d characters, want 64 hex", len(f.token))
	}
	again, created, err := EnsureToken(f.tokenFile)
	if err != nil || created || again != f.token {
		t.Errorf("EnsureToken again = %q, %v, %v; want the same token", again, created, err)
	}

	// Rotation takes effect at the next request.
	if err := os.WriteFile(f.tokenFile, []byte("rotated-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := f.options(t, "web-01")
	if _, err := Enroll(context.Background(), o); statusOf(err) != http.StatusUnauthorized {
		t.Errorf("old token: %v, want 401", err)
	}
	o.Token = "rotated-token"
	if _, err := Enroll(context.Background(), o); err != nil {
		t.Errorf("new token: %v", err)
	}

	if err := os.WriteFile(f.tokenFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureToken(f.tokenFile); err == nil {
		t.Error("EnsureToken accepted an empty token file")
	}
}

// post sends a raw request to the enrollment server.
func (f *fixture) post(t *testing.T, method string, body []byte) (int, string) {
	t.Helper()
	pool := f.ca.Pool()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true,
		VerifyConnection:   pki.ServerVerifier(pool),
	}}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(method, "https://"+f.addr+Path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e errorResponse
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	_, csr, err := pki.NewKeyAndCSR("x")
	if err != nil {
		t.Fatal(err)
	}
	body := func(r request) []byte {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		method string
		body   []byte
		want   int
	}{
		{"empty name", "POST", body(request{CSR: string(csr)}), 400},
		{"space in name", "POST", body(request{Name: "web 01", CSR: string(csr)}), 400},
		{"slash in name", "POST", body(request{Name: "../etc", CSR: string(csr)}), 400},
		{"long name", "POST", body(request{Name: strings.Repeat("a", 129), CSR: string(csr)}), 400},
		{"bad group", "POST", body(request{Name: "web", Groups: []string{"a b"}, CSR: string(csr)}), 400},
		{"no CSR", "POST", body(request{Name: "web"}), 400},
		{"bad CSR", "POST", body(request{Name: "web", CSR: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}), 400},
		{"not JSON", "POST", []byte("name=web"), 400},
		{"too large", "POST", body(request{Name: "web", CSR: string(csr), Labels: []string{strings.Repeat("x", maxBody)}}), 413},
		{"GET", "GET", nil, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, msg := f.post(t, tt.method, tt.body)
			if status != tt.want {
				t.Errorf("status %d (%q), want %d", status, msg, tt.want)
			}
		})
	}
	if calls, _ := f.reg.snapshot(); calls != 0 {
		t.Errorf("Register called %d times", calls)
	}
	if status, msg := f.post(t, "POST", body(request{Name: "web.01_a-b", CSR: string(csr)})); status != 200 {
		t.Errorf("valid request: %d %q", status, msg)
	}

	// The client checks the name before contacting anyone.
	o := f.options(t, "web 01")
	if _, err := Enroll(context.Background(), o); err == nil || statusOf(err) != 0 {
		t.Errorf("bad name: %v, want a local error", err)
	}
}

func TestRegisterError(t *testing.T) {
	f := newFixture(t, func(s *Server) {
		s.opts.Register = func(context.Context, Applicant) (string, error) {
			return "", errors.New("enrollment is closed for maintenance")
		}
	})
	_, err := Enroll(context.Background(), f.options(t, "web-01"))
	if statusOf(err) != http.StatusConflict || !strings.Contains(err.Error(), "closed for maintenance") {
		t.Errorf("err = %v, want 409 with the registry's message", err)
	}
}
