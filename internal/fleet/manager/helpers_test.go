package manager

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/riposte/riposte/internal/fleet"
)

// startServer runs an embedded nats-server with JetStream on a random
// port, its store in dir (a fresh temporary directory when empty).
func startServer(tb testing.TB, dir string) *server.Server {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true, MaxPayload: 1 << 20,
	})
	if err != nil {
		tb.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats-server not ready")
	}
	tb.Cleanup(s.Shutdown)
	return s
}

func connect(tb testing.TB, s *server.Server) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// testLogger sends logs to t.Log.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct{ tb testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder collects audit records.
type recorder struct {
	mu   sync.Mutex
	recs []Record
}

func (r *recorder) add(rec Record) {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
}

func (r *recorder) find(kind, cmdID string) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for _, rec := range r.recs {
		if rec.Kind == kind && (cmdID == "" || rec.CommandID == cmdID) {
			out = append(out, rec)
		}
	}
	return out
}

// startManager creates a manager on nc and runs it until the test ends.
// It returns a stop function that ends Run and closes the manager (for
// restart tests; it is also called at cleanup).
func startManager(tb testing.TB, nc *nats.Conn, o Options) (*Manager, func()) {
	tb.Helper()
	o.Conn = nc
	if o.Logger == nil {
		o.Logger = testLogger(tb)
	}
	m, err := New(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case <-m.ready:
	case err := <-done:
		tb.Fatalf("Run: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("Run: %v", err)
			}
			m.Close()
		})
	}
	tb.Cleanup(stop)
	return m, stop
}

// waitFor polls cond until it holds or fails the test after 10 seconds.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// simAgent is a simulated agent: a plain connection subscribed to its
// command subject, publishing on its own subjects.
type simAgent struct {
	tb   testing.TB
	id   string
	nc   *nats.Conn
	subj fleet.Subjects
	cmds chan fleet.Command
	sub  *nats.Subscription
}

func newSimAgent(tb testing.TB, s *server.Server, id string) *simAgent {
	a := &simAgent{tb: tb, id: id, nc: connect(tb, s), cmds: make(chan fleet.Command, 100)}
	a.subscribe()
	return a
}

func (a *simAgent) subscribe() {
	sub, err := a.nc.Subscribe(a.subj.Command(a.id), func(msg *nats.Msg) {
		var c fleet.Command
		if err := json.Unmarshal(msg.Data, &c); err != nil {
			a.tb.Errorf("agent %s: bad command: %v", a.id, err)
			return
		}
		a.cmds <- c
	})
	if err != nil {
		a.tb.Fatal(err)
	}
	if err := a.nc.Flush(); err != nil {
		a.tb.Fatal(err)
	}
	a.sub = sub
}

func (a *simAgent) unsubscribe() {
	if err := a.sub.Unsubscribe(); err != nil {
		a.tb.Fatal(err)
	}
	if err := a.nc.Flush(); err != nil {
		a.tb.Fatal(err)
	}
}

// next returns the next command received, failing after 10 seconds.
func (a *simAgent) next() fleet.Command {
	a.tb.Helper()
	select {
	case c := <-a.cmds:
		return c
	case <-time.After(10 * time.Second):
		a.tb.Fatalf("agent %s: no command received", a.id)
	}
	return fleet.Command{}
}

// none checks that no command arrives within d.
func (a *simAgent) none(d time.Duration) {
	a.tb.Helper()
	select {
	case c := <-a.cmds:
		a.tb.Fatalf("agent %s: unexpected command %s (%s, issued %v)", a.id, c.ID, c.Kind, c.Issued)
	case <-time.After(d):
	}
}

func (a *simAgent) publish(subject string, v any) {
	a.tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		a.tb.Fatal(err)
	}
	if err := a.nc.Publish(subject, b); err != nil {
		a.tb.Fatal(err)
	}
	if err := a.nc.Flush(); err != nil {
		a.tb.Fatal(err)
	}
}

func (a *simAgent) heartbeat(hello bool) {
	a.publish(a.subj.Heartbeat(a.id), fleet.Heartbeat{Name: "host-" + a.id, Version: "test", OS: "linux", Hello: hello, Time: time.Now()})
}

func (a *simAgent) ack(cmdID, outcome string) {
	a.publish(a.subj.Result(a.id), fleet.Result{Kind: fleet.Ack, CommandID: cmdID, Outcome: outcome, Time: time.Now()})
}

func (a *simAgent) result(r fleet.Result) {
	a.publish(a.subj.Result(a.id), r)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
