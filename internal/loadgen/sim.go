package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/enroll"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/agent"
)

// SimOptions configure Sim.
type SimOptions struct {
	// Manager is the enrollment server's "host:port" (required).
	Manager string
	// Token is the enrollment token (required).
	Token string
	// CAFile is the manager's CA certificate (required).
	CAFile string
	// N is how many agents to simulate (required).
	N int
	// Dir holds one directory per agent, Dir/<i>, with its identity and
	// state (required). An agent already enrolled there is reused: remove
	// Dir to enroll again (with another manager, say).
	Dir string
	// Name is the prefix of the agents' names: "<Name>-<i>". Default
	// "load".
	Name string
	// Heartbeat is the agents' heartbeat interval. Default: the fleet
	// agent's.
	Heartbeat time.Duration
	// ReconnectWait is the pause between reconnection attempts. Default:
	// the fleet agent's.
	ReconnectWait time.Duration
	// Results makes the agents report every run command as run ok (a
	// stateful one then shows as active on the manager until its end) and
	// every undo as a delete ok, instead of only acknowledging them.
	Results bool
	// Out receives "N agents connected" when all are connected.
	Out io.Writer
	// Logger receives the agents' log. Default: discard.
	Logger *slog.Logger
}

// enrollers is how many agents enroll at once.
const enrollers = 4

// Sim enrolls o.N agents (or reuses their identities) and runs each with
// its own NATS connection and the fleet agent, with an executor that takes
// every command and does nothing, until ctx ends. It writes "N agents
// connected" to o.Out when all of them are.
func Sim(ctx context.Context, o SimOptions) error {
	if o.Manager == "" || o.Token == "" || o.CAFile == "" || o.Dir == "" || o.N <= 0 {
		return errors.New("loadgen: sim needs a manager, a token, a CA file, a directory and a number of agents")
	}
	if o.Name == "" {
		o.Name = "load"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	ids := make([]*enroll.Identity, o.N)
	errs := make([]error, o.N)
	var wg sync.WaitGroup
	sem := make(chan struct{}, enrollers)
	for i := range o.N {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ids[i], errs[i] = o.identity(ctx, i)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	conns := make([]*nats.Conn, 0, o.N)
	runErrs := make(chan error, o.N)
	var agents sync.WaitGroup
	defer func() {
		cancel()
		agents.Wait() // every agent writes its state out
	}()
	for i, id := range ids {
		nc, err := o.start(ctx, i, id, log, &agents, runErrs)
		if err != nil {
			return err
		}
		conns = append(conns, nc)
	}

	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for announced := false; ; {
		select {
		case <-ctx.Done():
			return nil
		case err := <-runErrs:
			return err
		case <-tick.C:
		}
		if announced {
			continue
		}
		up := 0
		for _, nc := range conns {
			if nc.IsConnected() {
				up++
			}
		}
		if up == len(conns) {
			fmt.Fprintf(o.Out, "%d agents connected\n", up)
			announced = true
		}
	}
}

// identity enrolls agent i, or loads the identity enrolled before.
func (o *SimOptions) identity(ctx context.Context, i int) (*enroll.Identity, error) {
	dir := filepath.Join(o.Dir, strconv.Itoa(i))
	if _, err := os.Stat(filepath.Join(dir, enroll.IdentityFile)); err == nil {
		return enroll.LoadIdentity(dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("loadgen: agent %d: %w", i, err)
	}
	id, err := enroll.Enroll(ctx, enroll.ClientOptions{
		Manager: o.Manager, Token: o.Token, CAFile: o.CAFile,
		Name: o.Name + "-" + strconv.Itoa(i), Force: true, Dir: dir,
	})
	if err != nil {
		return nil, fmt.Errorf("loadgen: agent %d: %w", i, err)
	}
	return id, nil
}

// start connects agent i and runs it until ctx ends; the connection is
// closed after the agent has stopped.
func (o *SimOptions) start(ctx context.Context, i int, id *enroll.Identity, log *slog.Logger, wg *sync.WaitGroup, errs chan<- error) (*nats.Conn, error) {
	x := &noopExecutor{results: o.Results}
	a, err := agent.New(agent.Options{
		ID:        id.AgentID,
		Name:      id.Name,
		Subjects:  fleet.Subjects{Prefix: id.Prefix},
		StatePath: filepath.Join(o.Dir, strconv.Itoa(i), "agent.db"),
		// The simulated agents stand for machines of their own: their
		// disks' flushes are not this machine's load.
		NoSync:    true,
		Exec:      x,
		Heartbeat: o.Heartbeat,
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("loadgen: agent %d: %w", i, err)
	}
	x.agent = a
	opts := a.ConnOptions()
	tlsOpts, err := id.NATSOptions()
	if err != nil {
		return nil, fmt.Errorf("loadgen: agent %d: %w", i, err)
	}
	opts = append(opts, tlsOpts...)
	opts = append(opts, nats.Name("riposte-load "+id.AgentID))
	if o.ReconnectWait > 0 {
		opts = append(opts, nats.ReconnectWait(o.ReconnectWait))
	}
	nc, err := nats.Connect(strings.Join(id.NATSURLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("loadgen: agent %d: connecting: %w", i, err)
	}
	wg.Go(func() {
		defer nc.Close()
		if err := a.Run(ctx, nc); err != nil {
			errs <- fmt.Errorf("loadgen: agent %d (%s): %w", i, id.AgentID, err)
		}
	})
	return nc, nil
}

// noopExecutor takes every command and carries out none; with results, it
// reports runs and undos as done.
type noopExecutor struct {
	agent   *agent.Agent
	results bool
}

func (x *noopExecutor) Execute(cmd fleet.Command) error {
	if !x.results {
		return nil
	}
	now := time.Now()
	r := fleet.Result{Kind: fleet.Run, CommandID: cmd.ID, Outcome: "ok", Time: now, Started: now,
		Name: cmd.Name, Executable: cmd.Executable, Backend: "script"}
	switch cmd.Kind {
	case fleet.KindRun:
		r.Verb, r.Key, r.Timeout = "add", runKey(cmd), cmd.Timeout
	case fleet.KindUndo:
		r.Verb, r.Key = "delete", cmd.Key
	default:
		return nil
	}
	x.agent.Report(r)
	return nil
}

func (x *noopExecutor) Active() int { return 0 }

// runKey is the key a run would have: the alert's source address
// (IPv4-mapped IPv6 as IPv4), or the command id when it has none.
func runKey(cmd fleet.Command) string {
	if s, err := alert.SourceIP(cmd.Alert); err == nil {
		if ip, err := netip.ParseAddr(s); err == nil {
			return ip.Unmap().String()
		}
	}
	return cmd.ID
}
