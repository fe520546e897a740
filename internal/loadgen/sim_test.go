package loadgen

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/broker"
	"github.com/riposte/riposte/internal/enroll"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/pki"
)

// miniManager is the part of a manager the simulated agents meet: the
// enrollment server, a registry, and the broker with per-agent
// permissions.
type miniManager struct {
	addr, token, caFile string
	b                   *broker.Broker

	mu    sync.Mutex
	next  int
	names map[string]string // name → id
	keys  map[string]string // id → key fingerprint
}

func (m *miniManager) register(_ context.Context, a enroll.Applicant) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.names[a.Name]; ok {
		if !a.Force {
			return "", errors.New("name taken")
		}
		delete(m.keys, id)
	}
	m.next++
	id := fleet.FormatAgentID(m.next)
	m.names[a.Name], m.keys[id] = id, a.KeyFingerprint
	return id, nil
}

func (m *miniManager) authorize(id, fp string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys[id] != fp {
		return errors.New("unknown agent or key")
	}
	return nil
}

func (m *miniManager) registered() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next
}

func startMiniManager(t *testing.T) *miniManager {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServerCertificate(filepath.Join(dir, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &miniManager{names: map[string]string{}, keys: map[string]string{}, caFile: filepath.Join(dir, "ca.pem")}
	if err := os.WriteFile(m.caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	m.b, err = broker.Start(broker.Options{
		StoreDir:    filepath.Join(dir, "js"),
		Listen:      "127.0.0.1:0",
		TLS:         &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: ca.Pool()},
		Authorize:   m.authorize,
		Permissions: fleet.Subjects{}.AgentPermissions,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.b.Shutdown)
	m.token, _, err = enroll.EnsureToken(filepath.Join(dir, "enrollment.token"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := enroll.NewServer(enroll.ServerOptions{
		CA: ca, Cert: cert, TokenFile: filepath.Join(dir, "enrollment.token"),
		Register:  m.register,
		AgentURLs: func(string) []string { return []string{m.b.AgentURL()} },
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return m
}

// lineWriter passes every line written to it on a channel.
type lineWriter struct{ lines chan string }

func (w lineWriter) Write(p []byte) (int, error) {
	w.lines <- strings.TrimSpace(string(p))
	return len(p), nil
}

func TestSim(t *testing.T) {
	m := startMiniManager(t)
	nc, err := m.b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hbs, err := nc.SubscribeSync("riposte.hb.*")
	if err != nil {
		t.Fatal(err)
	}
	results, err := nc.SubscribeSync("riposte.result.*")
	if err != nil {
		t.Fatal(err)
	}

	const n = 3
	dir := t.TempDir()
	out := lineWriter{lines: make(chan string, 4)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	opts := SimOptions{Manager: m.addr, Token: m.token, CAFile: m.caFile, N: n, Dir: dir,
		Heartbeat: 200 * time.Millisecond, Results: true, Out: out}
	go func() { done <- Sim(ctx, opts) }()
	select {
	case line := <-out.lines:
		if line != "3 agents connected" {
			t.Fatalf("Sim wrote %q", line)
		}
	case err := <-done:
		t.Fatalf("Sim returned before the agents connected: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the agents never connected")
	}

	// Each agent has its identity and state in Dir/<i> and heartbeats.
	seen := map[string]bool{}
	for len(seen) < n {
		msg, err := hbs.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("heartbeats from %v only: %v", seen, err)
		}
		seen[strings.TrimPrefix(msg.Subject, "riposte.hb.")] = true
	}
	id, err := enroll.LoadIdentity(filepath.Join(dir, "0"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "0", "agent.db")); err != nil {
		t.Error(err)
	}

	// With Results, a command is reported run (the result stands for
	// the acknowledgement, as a real agent's does when both go together).
	now := time.Now()
	cmd := fleet.Command{ID: "c1", Kind: fleet.KindRun, Agent: id.AgentID, Issued: now, Expires: now.Add(10 * time.Minute),
		Name: "firewall-drop", Executable: "firewall-drop", Timeout: fleet.Duration(10 * time.Minute),
		Alert: json.RawMessage(`{"data":{"srcip":"203.0.113.9"}}`)}
	b, _ := json.Marshal(cmd)
	if err := nc.Publish(fleet.Subjects{}.Command(id.AgentID), b); err != nil {
		t.Fatal(err)
	}
	var got []fleet.Result
	for len(got) < 1 {
		msg, err := results.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("results %+v: %v", got, err)
		}
		var r fleet.Result
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			t.Fatal(err)
		}
		if msg.Subject != (fleet.Subjects{}).Result(id.AgentID) {
			t.Errorf("result on %s", msg.Subject)
		}
		got = append(got, r)
	}
	if r := got[0]; r.Kind != fleet.Run || r.CommandID != "c1" || r.Outcome != "ok" || r.Verb != "add" || r.Key != "203.0.113.9" || r.Timeout.D() <= 0 {
		t.Errorf("result %+v, want a stateful add of c1 run ok", r)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Sim: %v", err)
	}

	// Run again: the identities are reused, nothing enrolls again.
	before := m.registered()
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	opts.Out = out
	go func() { done <- Sim(ctx, opts) }()
	select {
	case line := <-out.lines:
		if line != "3 agents connected" {
			t.Fatalf("second run wrote %q", line)
		}
	case err := <-done:
		t.Fatalf("second run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("second run: the agents never connected")
	}
	if m.registered() != before {
		t.Errorf("%d enrollments on the second run", m.registered()-before)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("second run: %v", err)
	}
}

func TestSimOptions(t *testing.T) {
	err := Sim(t.Context(), SimOptions{Manager: "127.0.0.1:1", Token: "x", CAFile: "ca.pem", Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "number of agents") {
		t.Errorf("N=0: %v", err)
	}
	// A bad token: Sim reports the enrollment's error.
	m := startMiniManager(t)
	err = Sim(t.Context(), SimOptions{Manager: m.addr, Token: "wrong", CAFile: m.caFile, N: 1, Dir: t.TempDir(), Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "agent 0") {
		t.Errorf("bad token: %v", err)
	}
}

// The no-op executor without Results only takes commands.
func TestNoopExecutor(t *testing.T) {
	x := &noopExecutor{}
	if err := x.Execute(fleet.Command{ID: "a", Kind: fleet.KindRun}); err != nil || x.Active() != 0 {
		t.Errorf("Execute: %v, Active %d", err, x.Active())
	}
	for _, tc := range []struct {
		alert string
		want  string
	}{
		{`{"data":{"srcip":"198.51.100.4"}}`, "198.51.100.4"},
		{`{"data":{"srcip":"::ffff:192.0.2.1"}}`, "192.0.2.1"},
		{`{"data":{"srcip":"not an address"}}`, "cmd-id"},
		{``, "cmd-id"},
	} {
		if got := runKey(fleet.Command{ID: "cmd-id", Alert: json.RawMessage(tc.alert)}); got != tc.want {
			t.Errorf("runKey(%s) = %q, want %q", tc.alert, got, tc.want)
		}
	}
}
