package instance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/arlog"
	"github.com/riposte/riposte/internal/collect"
	"github.com/riposte/riposte/internal/config"
	"github.com/riposte/riposte/internal/enroll"
	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/agent"
)

// AgentOptions configure an agent process.
type AgentOptions struct {
	// Dir is the agent's data directory, where enrollment left its identity.
	Dir string
	// Logger receives the structured log.
	Logger *slog.Logger
	// Version is reported in heartbeats.
	Version string
	// NATSURL, when set, replaces the URLs enrollment gave (an agent of a
	// manager that uses an external NATS cluster), with NATSCreds as its
	// credentials file.
	NATSURL, NATSCreds string
	// OnResult, when set, is also called with every run's result.
	OnResult func(execd.Result)
}

// Agent is a running agent: it carries out the commands its manager sends,
// keeps its own timers, and forwards the logs it collects.
type Agent struct {
	cfg    *config.Config
	layout Layout
	log    *slog.Logger
	id     *enroll.Identity
	opts   AgentOptions
	exec   *execd.Execd
	arlog  *arlog.Logger
	lock   io.Closer
	fa     *agent.Agent

	runs                     recentRuns
	runCount, runsFailed     atomic.Uint64
	inputErrors, linesPassed atomic.Uint64
}

// NewAgent prepares an enrolled agent; cfg supplies its <localfile> and
// action settings (the built-in defaults when nil).
func NewAgent(cfg *config.Config, opts AgentOptions) (*Agent, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id, err := enroll.LoadIdentity(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("this data directory holds no enrolled agent (run riposte agent enroll first): %w", err)
	}
	l := Layout{Dir: opts.Dir}
	lock, err := l.open(log)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	al, err := arlog.Open(l.ARLog())
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, layout: l, log: log.With("agent", id.AgentID), id: id, opts: opts, arlog: al, lock: lock}
	x, err := execd.Open(execdOptions(cfg, l, a.log, al, a.onResult))
	if err != nil {
		al.Close()
		return nil, err
	}
	a.exec = x
	prefix := id.Prefix
	if prefix == "" {
		prefix = cfg.Riposte.Fleet.SubjectPrefix
	}
	fa, err := agent.New(agent.Options{
		ID:        id.AgentID,
		Name:      id.Name,
		Subjects:  fleet.Subjects{Prefix: prefix},
		StatePath: filepath.Join(l.StateDir(), "agent.db"),
		Exec:      executor{x: x, now: time.Now},
		Heartbeat: cfg.Riposte.Fleet.Heartbeat,
		Info:      a.info,
		Logger:    a.log.With("component", "fleet"),
	})
	if err != nil {
		al.Close()
		return nil, err
	}
	a.fa = fa
	ok = true
	return a, nil
}

// connect opens the connection to the manager; it keeps retrying in the
// background when the manager is unreachable.
func (a *Agent) connect() (*nats.Conn, error) {
	opts := a.fa.ConnOptions()
	urls := strings.Join(a.id.NATSURLs, ",")
	if a.opts.NATSURL != "" {
		urls = a.opts.NATSURL
		if a.opts.NATSCreds != "" {
			opts = append(opts, nats.UserCredentials(a.opts.NATSCreds))
		}
	} else {
		tlsOpts, err := a.id.NATSOptions()
		if err != nil {
			return nil, err
		}
		opts = append(opts, tlsOpts...)
	}
	if wait := a.cfg.Riposte.Fleet.Heartbeat; wait < 2*time.Second {
		opts = append(opts, nats.ReconnectWait(wait))
	}
	return nats.Connect(urls, opts...)
}

// Run serves until ctx ends. Blocks stay in force and timers keep running
// while the manager is unreachable.
func (a *Agent) Run(ctx context.Context) error {
	defer a.lock.Close()
	defer a.arlog.Close()
	var offsets collect.OffsetStore
	if len(a.cfg.LocalFiles) > 0 {
		fo, err := collect.OpenFileOffsets(filepath.Join(a.layout.StateDir(), "offsets.json"))
		if err != nil {
			return err
		}
		offsets = fo
	}
	sock := a.layout.Socket()
	ln, err := listenSocket(sock)
	if err != nil {
		return err
	}
	defer os.Remove(sock)
	nc, err := a.connect()
	if err != nil {
		ln.Close()
		return fmt.Errorf("connecting to the manager: %w", err)
	}
	defer nc.Close()

	g := newRunGroup(ctx, a.log)
	g.Go("execd", a.exec.Run)
	g.Go("fleet", func(ctx context.Context) error { return a.fa.Run(ctx, nc) })
	g.Go("control socket", func(ctx context.Context) error { return serve(ctx, ln, api.StatusHandler(a, a.log)) })
	for _, lf := range a.cfg.LocalFiles {
		g.Go("collect "+lf.Location, func(ctx context.Context) error { return a.forward(ctx, lf, offsets) })
	}
	a.log.Info("agent running", "id", a.id.AgentID, "name", a.id.Name, "manager", a.id.Manager, "data_dir", a.layout.Dir)
	return g.Wait()
}

// forward sends the lines of one <localfile> to the manager in batches. A
// batch that cannot be sent is retried, so the file offset only moves on
// once the manager has the lines.
func (a *Agent) forward(ctx context.Context, lf config.LocalFile, offsets collect.OffsetStore) error {
	c := collector{log: a.log.With("component", "collect", "location", lf.Location), stateDir: a.layout.StateDir(), errors: &a.inputErrors}
	return c.run(ctx, lf, offsets, func(s sourceLine) error {
		for {
			err := a.fa.PublishEvents(fleet.Events{Location: s.location, Format: lf.LogFormat, Lines: []string{s.text}})
			if err == nil {
				a.linesPassed.Add(1)
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	})
}

// info describes this host for heartbeats.
func (a *Agent) info() fleet.Heartbeat {
	host, _ := os.Hostname()
	hb := fleet.Heartbeat{Name: a.id.Name, Version: a.opts.Version, OS: runtime.GOOS, Arch: runtime.GOARCH, Hostname: host,
		Groups: a.id.Groups, Labels: a.id.Labels}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				hb.Addresses = append(hb.Addresses, ipn.IP.String())
			}
		}
	}
	return hb
}

func (a *Agent) onResult(r execd.Result) {
	a.runCount.Add(1)
	if r.Status != execd.StatusOK && r.Status != execd.StatusAborted {
		a.runsFailed.Add(1)
	}
	a.runs.add(r)
	a.fa.Report(fleetResult(r))
	if a.opts.OnResult != nil {
		a.opts.OnResult(r)
	}
}

// Pending lists active stateful responses. It implements api.Status.
func (a *Agent) Pending() []execd.Pending { return a.exec.Pending() }

// Runs lists recent results. It implements api.Status.
func (a *Agent) Runs() []execd.Result { return a.runs.list() }

// Stats returns the counters. It implements api.Status.
func (a *Agent) Stats() api.Stats {
	return api.Stats{Runs: a.runCount.Load(), RunsFailed: a.runsFailed.Load(), InputErrors: a.inputErrors.Load()}
}

var _ api.Status = (*Agent)(nil)

// recentRuns keeps the last maxRuns results.
type recentRuns struct {
	mu      sync.Mutex
	results []execd.Result
}

func (r *recentRuns) add(res execd.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
	// Trimmed once per maxRuns adds, not on every add past maxRuns.
	if len(r.results) >= 2*maxRuns {
		r.results = append(r.results[:0], r.results[len(r.results)-maxRuns:]...)
	}
}

func (r *recentRuns) list() []execd.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]execd.Result(nil), r.results[max(0, len(r.results)-maxRuns):]...)
}
