package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte/riposte/internal/fleet"
)

const agentID = "001"

var subjects = fleet.Subjects{}

// runServer starts an embedded NATS server with JetStream on 127.0.0.1;
// port -1 picks a free one.
func runServer(t testing.TB, port int, storeDir string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port,
		JetStream: true, StoreDir: storeDir,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func portOf(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

// logger sends the agent's log to t.Log until the test ends.
func logger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	t    testing.TB
	done atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// fakeExec records the commands it is given.
type fakeExec struct {
	mu     sync.Mutex
	calls  []fleet.Command
	err    error
	active int
	// during, when set, is called inside Execute.
	during func(fleet.Command)
	ch     chan fleet.Command
}

func newFakeExec() *fakeExec { return &fakeExec{ch: make(chan fleet.Command, 1024)} }

func (f *fakeExec) Execute(c fleet.Command) error {
	f.mu.Lock()
	err, during := f.err, f.during
	if err == nil {
		f.calls = append(f.calls, c)
	}
	f.mu.Unlock()
	if during != nil {
		during(c)
	}
	if err == nil {
		f.ch <- c
	}
	return err
}

func (f *fakeExec) Active() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active
}

func (f *fakeExec) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeExec) set(fn func(f *fakeExec)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// startAgent runs an agent connected to url; stop ends Run (idempotent)
// and returns its error. With m, it returns once m has the agent's Hello,
// so the agent is subscribed to its commands.
func startAgent(t testing.TB, url string, o Options, m *manager) (a *Agent, stop func() error) {
	t.Helper()
	o.ID = agentID
	if o.Name == "" {
		o.Name = "web-1"
	}
	if o.StatePath == "" {
		o.StatePath = filepath.Join(t.TempDir(), "agent.db")
	}
	if o.Logger == nil {
		o.Logger = logger(t)
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = time.Hour
	}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	opts := append(a.ConnOptions(), nats.ReconnectWait(20*time.Millisecond), nats.ReconnectJitter(0, 0))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, nc) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
			nc.Close()
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	for m != nil && !m.heartbeat().Hello {
	}
	return a, stop
}

// manager is the test's side of the wire: it sends commands and collects
// what the agent publishes.
type manager struct {
	t       testing.TB
	nc      *nats.Conn
	results chan *nats.Msg
	hbs     chan *nats.Msg
	events  chan *nats.Msg
}

func newManager(t testing.TB, url string) *manager {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	m := &manager{t: t, nc: nc, results: make(chan *nats.Msg, 1024), hbs: make(chan *nats.Msg, 1024), events: make(chan *nats.Msg, 1024)}
	for subj, ch := range map[string]chan *nats.Msg{
		subjects.Result(agentID): m.results, subjects.Heartbeat(agentID): m.hbs, subjects.Events(agentID): m.events,
	} {
		if _, err := nc.ChanSubscribe(subj, ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *manager) send(c fleet.Command) {
	m.t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		m.t.Fatal(err)
	}
	m.sendRaw(b)
}

func (m *manager) sendRaw(b []byte) {
	m.t.Helper()
	if err := m.nc.Publish(subjects.Command(agentID), b); err != nil {
		m.t.Fatal(err)
	}
}

func (m *manager) next() fleet.Result {
	m.t.Helper()
	select {
	case msg := <-m.results:
		var r fleet.Result
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			m.t.Fatalf("result %s: %v", msg.Data, err)
		}
		return r
	case <-time.After(10 * time.Second):
		m.t.Fatal("no result")
		return fleet.Result{}
	}
}

func (m *manager) heartbeat() fleet.Heartbeat {
	m.t.Helper()
	select {
	case msg := <-m.hbs:
		var hb fleet.Heartbeat
		if err := json.Unmarshal(msg.Data, &hb); err != nil {
			m.t.Fatalf("heartbeat %s: %v", msg.Data, err)
		}
		return hb
	case <-time.After(10 * time.Second):
		m.t.Fatal("no heartbeat")
		return fleet.Heartbeat{}
	}
}

func command(id string) fleet.Command {
	now := time.Now()
	return fleet.Command{
		ID: id, Kind: fleet.KindRun, Agent: agentID, Issued: now, Expires: now.Add(time.Hour),
		Name: "firewall-drop", Executable: "firewall-drop",
		Alert: json.RawMessage(`{"data":{"srcip":"203.0.113.7"}}`),
	}
}

func wantAck(t *testing.T, r fleet.Result, id, outcome string) {
	t.Helper()
	if r.Kind != fleet.Ack || r.CommandID != id || r.Outcome != outcome {
		t.Fatalf("got %+v, want ack %s of %s", r, outcome, id)
	}
}

func TestCommandRunsOnce(t *testing.T) {
	srv := runServer(t, -1, t.TempDir())
	m := newManager(t, srv.ClientURL())
	ex := newFakeExec()
	startAgent(t, srv.ClientURL(), Options{Exec: ex}, m)

	c := command("c1")
	m.send(c)
	wantAck(t, m.next(), "c1", fleet.AckAccepted)
	got := <-ex.ch
	if got.ID != "c1" || got.Executable != "firewall-drop" || string(got.Alert) != string(c.Alert) {
		t.Fatalf("executed %+v", got)
	}

	m.send(c)
	r := m.next()
	wantAck(t, r, "c1", fleet.AckDuplicate)
	// Commands are handled in order: had the duplicate run, it would have
	// run before its acknowledgement.
	if n := ex.count(); n != 1 {
		t.Fatalf("executed %d times", n)
	}
}

func TestCommandNotRun(t *testing.T) {
	srv := runServer(t, -1, t.TempDir())
	m := newManager(t, srv.ClientURL())
	ex := newFakeExec()
	startAgent(t, srv.ClientURL(), Options{Exec: ex}, m)

	tests := []struct {
		name    string
		edit    func(c *fleet.Command)
		outcome string
		note    string
	}{
		{"expired", func(c *fleet.Command) { c.Issued, c.Expires = c.Issued.Add(-2*time.Hour), c.Issued.Add(-time.Hour) }, fleet.AckExpired, "expired"},
		{"other agent", func(c *fleet.Command) { c.Agent = "002" }, fleet.AckInvalid, "addressed to agent 002"},
		{"bad agent id", func(c *fleet.Command) { c.Agent = "x" }, fleet.AckInvalid, "agent id"},
		{"path in executable", func(c *fleet.Command) { c.Executable = "../../bin/sh" }, fleet.AckInvalid, "invalid executable"},
		{"no expiry", func(c *fleet.Command) { c.Expires = time.Time{} }, fleet.AckInvalid, "no expiry"},
		{"unknown kind", func(c *fleet.Command) { c.Kind = "reboot" }, fleet.AckInvalid, "unknown kind"},
		{"undo without key", func(c *fleet.Command) { c.Kind = fleet.KindUndo }, fleet.AckInvalid, "without a key"},
		{"extend without until", func(c *fleet.Command) { c.Kind, c.Key = fleet.KindExtend, "k" }, fleet.AckInvalid, "without until"},
		{"whole timeout passed", func(c *fleet.Command) {
			// Inconsistent with the contract (Expires is Issued+Timeout),
			// but the block would already have ended.
			c.Issued, c.Timeout = c.Issued.Add(-2*time.Hour), fleet.Duration(time.Hour)
		}, fleet.AckExpired, "whole timeout"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := command("n" + string(rune('a'+i)))
			tt.edit(&c)
			m.send(c)
			r := m.next()
			wantAck(t, r, c.ID, tt.outcome)
			if !strings.Contains(r.Note, tt.note) {
				t.Errorf("note %q, want it to mention %q", r.Note, tt.note)
			}
			if n := ex.count(); n != 0 {
				t.Fatalf("executed %d commands", n)
			}
		})
	}
}

func TestUnreadableCommandDropped(t *testing.T) {
	srv := runServer(t, -1, t.TempDir())
	m := newManager(t, srv.ClientURL())
	ex := newFakeExec()
	startAgent(t, srv.ClientURL(), Options{Exec: ex}, m)

	m.sendRaw([]byte(`{"id":"x1",`))
	m.sendRaw([]byte(`{"id":` + strings.Repeat(" ", fleet.MaxMessage) + `"x2"}`))
	m.send(command("c1"))
	// Nothing answers the two dropped; the first answer is c1's.
	wantAck(t, m.next(), "c1", fleet.AckAccepted)
	if n := ex.count(); n != 1 {
		t.Fatalf("executed %d", n)
	}
}

func TestRefusedRunsWhenSentAgain(t *testing.T) {
	srv := runServer(t, -1, t.TempDir())
	m := newManager(t, srv.ClientURL())
	ex := newFakeExec()
	ex.err = errors.New("execd: closed")
	startAgent(t, srv.ClientURL(), Options{Exec: ex}, m)

	c := command("c1")
	m.send(c)
	r := m.next()
	wantAck(t, r, "c1", fleet.AckRefused)
	if r.Note != "execd: closed" {
		t.Fatalf("note %q", r.Note)
	}
	ex.set(func(f *fakeExec) { f.err = nil })
	m.send(c)
	wantAck(t, m.next(), "c1", fleet.AckAccepted)
	if n := ex.count(); n != 1 {
		t.Fatalf("executed %d", n)
	}
}

func TestStatefulTimeoutReduced(t *testing.T) {
	srv := runServer(t, -1, t.TempDir())
	m := newManager(t, srv.ClientURL())
	ex := newFakeExec()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	startAgent(t, srv.ClientURL(), Options{Exec: ex, Now: func() time.Time { return now }}, m)

	tests := []struct {
		name    string
		issued  time.Time
		timeout time.Duration
		want    time.Duration
	}{
		{"issued 10m ago", now.Add(-10 * time.Minute), time.Hour, 50 * time.Minute},
		{"issued now", now, time.Hour, time.Hour},
		{"manager clock ahead", now.Add(time.Minute), time.Hour, time.Hour},
		{"stateless", now.Add(-10 * time.Minute), 0, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := command("t" + string(rune('a'+i)))
			c.Issued, c.Timeout = tt.issued, fleet.Duration(tt.timeout)
			c.Expires = tt.issued.Add(tt.timeout)
			if tt.timeout == 0 {
				c.Expires = now.Add(time.Hour)
			}
			m.send(c)
			wantAck(t, m.next(), c.ID, fleet.AckAccepted)
			if got := (<-ex.ch).Timeout.D(); got != tt.want {
				t.Fatalf("executor got timeout %s, want %s", got, tt.want)
			}
		})
	}
}

// TestResultStandsForAck: a result the executor reports while it is being
// handed the command is written with the command's acceptance, which it
// replaces; a command whose result comes later is acknowledged first.
func TestResultStandsForAck(t *testing.T) {
	srv := runServer(t, -1, t.TempDir())
	m := newManager(t, srv.ClientURL())
	ex := newFakeExec()
	var a *Agent
	ex.during = func(c fleet.Command) {
		if c.ID == "c1" {
			a.Report(fleet.Result{Kind: fleet.Run, CommandID: c.ID, Outcome: "ok", Verb: "add"})
		}
	}
	a, _ = startAgent(t, srv.ClientURL(), Options{Exec: ex}, m)

	m.send(command("c1"))
	if r := m.next(); r.Kind != fleet.Run || r.CommandID != "c1" || r.Outcome != "ok" || r.Time.IsZero() {
		t.Fatalf("first message = %+v, want the result of c1 alone", r)
	}
	m.send(command("c2"))
	wantAck(t, m.next(), "c2", fleet.AckAccepted)
	a.Report(fleet.Result{Kind: fleet.Run, CommandID: "c2", Outcome: "ok", Verb: "add"})
	if r := m.next(); r.Kind != fleet.Run || r.CommandID != "c2" {
		t.Fatalf("after the ack of c2: %+v, want its result", r)
	}
}

func TestCoalesce(t *testing.T) {
	ack := func(id string) op { return op{seen: id, result: []byte("ack " + id), acceptedRun: id} }
	run := func(id string) op { return op{result: []byte("run " + id), ranRun: id} }
	results := func(ops []op) (out []string) {
		for _, o := range ops {
			if o.result != nil {
				out = append(out, string(o.result))
			}
		}
		return out
	}
	tests := []struct {
		name string
		ops  []op
		want []string
	}{
		{"ack and result together", []op{ack("a"), run("a")}, []string{"run a"}},
		{"ack alone", []op{ack("a"), run("b")}, []string{"ack a", "run b"}},
		{"a refusal is no acceptance", []op{{seen: "", result: []byte("refused a")}, run("a")}, []string{"refused a", "run a"}},
		{"several", []op{ack("a"), ack("b"), run("b"), run("a"), ack("c")}, []string{"run b", "run a", "ack c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ops := slices.Clone(tc.ops)
			coalesce(ops)
			if got := results(ops); !slices.Equal(got, tc.want) {
				t.Errorf("results = %q, want %q", got, tc.want)
			}
			for i, o := range ops {
				if o.seen != tc.ops[i].seen {
					t.Errorf("op %d lost its seen id", i)
				}
			}
		})
	}
}

func TestSeenSurvivesRestart(t *testing.T) {
	srv := runServer(t, -1, t.TempDir())
	m := newManager(t, srv.ClientURL())
	state := filepath.Join(t.TempDir(), "state", "agent.db")
	ex1 := newFakeExec()
	_, stop := startAgent(t, srv.ClientURL(), Options{Exec: ex1, StatePath: state}, m)
	c := command("c1")
	m.send(c)
	wantAck(t, m.next(), "c1", fleet.AckAccepted)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	ex2 := newFakeExec()
	startAgent(t, srv.ClientURL(), Options{Exec: ex2, StatePath: state}, m)
	m.send(c)
	wantAck(t, m.next(), "c1", fleet.AckDuplicate)
	m.send(command("c2"))
	wantAck(t, m.next(), "c2", fleet.AckAccepted)
	if n := ex2.count(); n != 1 {
		t.Fatalf("second agent executed %d, want only c2", n)
	}
}

func TestHeartbeats(t *testing.T) {
	srv := runServer(t, -1, t.TempDir())
	m := newManager(t, srv.ClientURL())
	ex := newFakeExec()
	ex.active = 3
	a, _ := startAgent(t, srv.ClientURL(), Options{
		Exec: ex, Heartbeat: 20 * time.Millisecond,
		Info: func() fleet.Heartbeat {
			return fleet.Heartbeat{Version: "v1.2.3", OS: "linux", Labels: []string{"dmz"}}
		},
	}, nil)
	first := m.heartbeat()
	if !first.Hello || first.Name != "web-1" || first.Version != "v1.2.3" || first.OS != "linux" ||
		first.Active != 3 || !first.Started.Equal(a.started) || first.Time.IsZero() {
		t.Fatalf("first heartbeat %+v", first)
	}
	for range 3 {
		if hb := m.heartbeat(); hb.Hello {
			t.Fatalf("a Hello without a reconnection: %+v", hb)
		}
	}
}

// TestOutboxAcrossServerRestart stops the server, reports results while
// the agent is cut off, and starts a new server on the same port and store:
// the agent reconnects, says Hello and publishes the results, in order,
// once each.
func TestOutboxAcrossServerRestart(t *testing.T) {
	store := t.TempDir()
	srv := runServer(t, -1, store)
	port := portOf(srv)
	url := srv.ClientURL()

	// A stream keeps what the agent publishes while nobody listens.
	mnc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(mnc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "T", Subjects: []string{subjects.Result(agentID), subjects.Heartbeat(agentID)}, Storage: jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	mnc.Close()

	ex := newFakeExec()
	a, _ := startAgent(t, url, Options{Exec: ex}, nil)
	waitFor(t, func() bool { return countHello(t, url) == 1 })

	srv.Shutdown()
	srv.WaitForShutdown()
	waitFor(t, func() bool { return !a.conn().IsConnected() })
	if err := a.PublishEvents(fleet.Events{Location: "/var/log/auth.log", Lines: []string{"x"}}); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("PublishEvents while disconnected: %v", err)
	}
	for _, name := range []string{"r1", "r2", "r3"} {
		a.Report(fleet.Result{Kind: fleet.Run, Outcome: "ok", Verb: "delete", Name: name, Key: "fw " + name})
	}

	runServer(t, port, store)
	var names []string
	waitFor(t, func() bool {
		names = nil
		for _, msg := range streamMsgs(t, url) {
			var r fleet.Result
			if msg.Subject == subjects.Result(agentID) && json.Unmarshal(msg.Data, &r) == nil && r.Kind == fleet.Run {
				names = append(names, r.Name)
			}
		}
		return len(names) >= 3
	})
	if got := strings.Join(names, ","); got != "r1,r2,r3" {
		t.Fatalf("results in the stream: %s", got)
	}
	waitFor(t, func() bool { return countHello(t, url) == 2 })
}

// streamMsgs returns every message of stream T.
func streamMsgs(t *testing.T, url string) []*jetstream.RawStreamMsg {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), "T")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func countHello(t *testing.T, url string) int {
	n := 0
	for _, msg := range streamMsgs(t, url) {
		var hb fleet.Heartbeat
		if msg.Subject == subjects.Heartbeat(agentID) && json.Unmarshal(msg.Data, &hb) == nil && hb.Hello {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPublishEvents(t *testing.T) {
	srv := runServer(t, -1, t.TempDir())
	m := newManager(t, srv.ClientURL())
	a, _ := startAgent(t, srv.ClientURL(), Options{Exec: newFakeExec()}, m)
	waitFor(t, func() bool { nc := a.conn(); return nc != nil && nc.IsConnected() })

	var lines []string
	for i := range 3000 {
		lines = append(lines, strings.Repeat(string(rune('a'+i%26)), 200)+" <&>")
	}
	if err := a.PublishEvents(fleet.Events{Location: "/var/log/auth.log", Format: "syslog", Lines: lines}); err != nil {
		t.Fatal(err)
	}
	var got []string
	msgs := 0
	for len(got) < len(lines) {
		select {
		case msg := <-m.events:
			if len(msg.Data) > fleet.MaxMessage {
				t.Fatalf("message of %d bytes", len(msg.Data))
			}
			var ev fleet.Events
			if err := json.Unmarshal(msg.Data, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Location != "/var/log/auth.log" || ev.Format != "syslog" {
				t.Fatalf("events %q %q", ev.Location, ev.Format)
			}
			got = append(got, ev.Lines...)
			msgs++
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d of %d lines", len(got), len(lines))
		}
	}
	if msgs < 2 || strings.Join(got, "\n") != strings.Join(lines, "\n") {
		t.Fatalf("%d messages; lines differ: %v", msgs, len(got))
	}
}

func TestSplitEvents(t *testing.T) {
	long := strings.Repeat("é", fleet.MaxMessage) // 2 bytes each: too long alone
	tests := []struct {
		name  string
		lines []string
		msgs  int
		cut   bool // the one line is cut
	}{
		{"one small", []string{"a", "b"}, 1, false},
		{"escapes counted", repeat(strings.Repeat("<\"\x01", 1000), 100), 6, false},
		{"exactly many", repeat(strings.Repeat("x", 1000), 1000), 4, false},
		{"line too long", []string{long}, 1, true},
		{"invalid utf-8 too long", []string{strings.Repeat("\xff", fleet.MaxMessage/2)}, 1, true},
		{"none", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := splitEvents(fleet.Events{Location: "journald", Lines: tt.lines}, fleet.MaxMessage)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != tt.msgs {
				t.Fatalf("%d messages, want %d", len(msgs), tt.msgs)
			}
			var got []string
			for _, b := range msgs {
				if len(b) > fleet.MaxMessage {
					t.Fatalf("message of %d bytes", len(b))
				}
				var ev fleet.Events
				if err := json.Unmarshal(b, &ev); err != nil {
					t.Fatal(err)
				}
				got = append(got, ev.Lines...)
			}
			if tt.cut {
				if len(got) != 1 || got[0] == tt.lines[0] || len(got[0]) < fleet.MaxMessage/8 {
					t.Fatalf("cut line of %d bytes from %d", len(got[0]), len(tt.lines[0]))
				}
				return
			}
			if strings.Join(got, "\n") != strings.Join(tt.lines, "\n") {
				t.Fatal("lines differ")
			}
		})
	}
	if _, err := splitEvents(fleet.Events{Location: strings.Repeat("x", fleet.MaxMessage), Lines: []string{"a"}}, fleet.MaxMessage); err == nil {
		t.Fatal("a location filling the message was accepted")
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"bad id", Options{ID: "1", StatePath: filepath.Join(dir, "a.db"), Exec: newFakeExec()}, "agent id"},
		{"no state", Options{ID: agentID, Exec: newFakeExec()}, "no state path"},
		{"no executor", Options{ID: agentID, StatePath: filepath.Join(dir, "b.db")}, "no executor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestOutboxSurvivesAgentRestart reports results while the agent has
// never reached a server, stops it, and starts a new agent on the same
// state file once a server is up: the results arrive, in order.
func TestOutboxSurvivesAgentRestart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	state := filepath.Join(t.TempDir(), "agent.db")

	a1, stop := startAgent(t, "nats://"+l.Addr().String(), Options{Exec: newFakeExec(), StatePath: state}, nil)
	a1.Report(fleet.Result{Kind: fleet.Run, Outcome: "ok", Verb: "delete", Name: "r1"})
	a1.Report(fleet.Result{Kind: fleet.Run, Outcome: "failed", Verb: "delete", Name: "r2"})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	a1.Report(fleet.Result{Kind: fleet.Run, Outcome: "ok", Name: "after stop"}) // logged and dropped

	srv := runServer(t, port, t.TempDir())
	m := newManager(t, srv.ClientURL())
	startAgent(t, srv.ClientURL(), Options{Exec: newFakeExec(), StatePath: state}, m)
	for _, want := range []string{"r1", "r2"} {
		if r := m.next(); r.Name != want || r.Kind != fleet.Run {
			t.Fatalf("got %+v, want result %s", r, want)
		}
	}
	select {
	case msg := <-m.results:
		t.Fatalf("unexpected %s", msg.Data)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestSeenPruned: a command id is forgotten an hour after its expiry.
func TestSeenPruned(t *testing.T) {
	srv := runServer(t, -1, t.TempDir())
	m := newManager(t, srv.ClientURL())
	state := filepath.Join(t.TempDir(), "agent.db")
	var clock atomic.Int64
	start := time.Now()
	clock.Store(start.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }

	_, stop := startAgent(t, srv.ClientURL(), Options{Exec: newFakeExec(), StatePath: state, Now: now}, m)
	short, long := command("short"), command("long")
	short.Expires, long.Expires = start.Add(time.Minute), start.Add(3*time.Hour)
	m.send(short)
	wantAck(t, m.next(), "short", fleet.AckAccepted)
	m.send(long)
	wantAck(t, m.next(), "long", fleet.AckAccepted)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	clock.Store(start.Add(time.Minute + seenMargin + time.Second).UnixNano())
	_, stop = startAgent(t, srv.ClientURL(), Options{Exec: newFakeExec(), StatePath: state, Now: now}, m)
	m.send(long)
	wantAck(t, m.next(), "long", fleet.AckDuplicate)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st, err := openStore(state, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	seen, err := st.seen()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := seen["short"]; ok || len(seen) != 1 {
		t.Fatalf("seen after pruning: %v", seen)
	}
}

// benchExec reports when Execute was called.
type benchExec struct{ at chan time.Time }

func (e benchExec) Execute(fleet.Command) error { e.at <- time.Now(); return nil }
func (e benchExec) Active() int                 { return 0 }

// BenchmarkCommandToExecute measures the time from a command published on
// another connection to the executor being called: through the server,
// the agent's subscription and command goroutine, parsing and checks.
func BenchmarkCommandToExecute(b *testing.B) {
	srv := runServer(b, -1, b.TempDir())
	pub, err := nats.Connect(srv.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	hbs := make(chan *nats.Msg, 64)
	if _, err := pub.ChanSubscribe(subjects.Heartbeat(agentID), hbs); err != nil {
		b.Fatal(err)
	}
	pub.Flush()
	ex := benchExec{at: make(chan time.Time, 1)}
	startAgent(b, srv.ClientURL(), Options{Exec: ex, Logger: slog.New(slog.DiscardHandler)}, nil)
	select {
	case <-hbs: // the Hello: the agent is subscribed
	case <-time.After(10 * time.Second):
		b.Fatal("no hello")
	}

	c := command("")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		c.ID = "bench-" + strconv.Itoa(i)
		data, err := json.Marshal(c)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := pub.Publish(subjects.Command(agentID), data); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-ex.at).Sub(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
