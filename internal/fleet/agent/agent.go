package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte/riposte/internal/fleet"
)

// Executor carries out the commands the agent accepts. The wiring adapts
// execd to it.
type Executor interface {
	// Execute starts carrying out a valid command (run, undo or extend)
	// addressed to this agent, not expired and not seen before. It returns
	// at once; results arrive later through Agent.Report, and Execute may
	// call Report itself. An error means the command was not taken: the
	// agent acknowledges it as refused, with the error as note, and runs it
	// if it is delivered again.
	//
	// For a stateful run, cmd.Timeout is what remains of the response, not
	// what the manager asked when it issued the command: the agent reduces
	// it to Issued+Timeout-now (that is Expires-now, since a stateful run
	// expires when its block would end), so a command delivered late
	// blocks until the end the manager meant and no longer.
	//
	// The agent calls Execute from one goroutine, one command at a time.
	Execute(cmd fleet.Command) error
	// Active is how many stateful responses are in force (for heartbeats).
	Active() int
}

// Options configure an Agent.
type Options struct {
	// ID is the agent id (required; see fleet.ValidateAgentID).
	ID string
	// Name is the agent name, put in heartbeats whose Info has none.
	Name string
	// Subjects are the fleet's subjects (zero: the default prefix).
	Subjects fleet.Subjects
	// StatePath is the bbolt file that keeps the ids of the commands taken
	// (until their expiry plus an hour) and the outbox of acknowledgements
	// and results not yet published (required).
	StatePath string
	// NoSync skips flushing the state to disk at each write, so that a
	// crash of the machine may lose it. Only for simulators that stand in
	// for many agents on one machine.
	NoSync bool
	// Exec carries out the commands (required).
	Exec Executor
	// Heartbeat is the interval between heartbeats. Default 10s.
	Heartbeat time.Duration
	// Info describes the host for heartbeats: version, OS, addresses,
	// labels, groups. The agent fills Time, Started, Hello and Active. Nil
	// sends only those and Name.
	Info func() fleet.Heartbeat
	// Logger receives the agent's log. Default: discard.
	Logger *slog.Logger
	// Now is the clock commands' expiry is checked against. Default
	// time.Now.
	Now func() time.Time
}

const (
	// seenMargin is how long after its expiry a command id is remembered.
	// Past its expiry a command is refused as expired anyway; the margin
	// covers the agent's clock stepping back.
	seenMargin = time.Hour
	// pruneEvery is how often forgotten command ids are dropped.
	pruneEvery = 10 * time.Minute
	// flushTimeout bounds the wait for the server to confirm a flush.
	flushTimeout = 5 * time.Second
	// outboxBatch is how many outbox messages are published per flush.
	outboxBatch = 256
	// maxField bounds a result's stderr tail and note when the result
	// would not fit in fleet.MaxMessage.
	maxField = 8 << 10
)

// ErrDisconnected is returned by PublishEvents while the agent is not
// connected to the server.
var ErrDisconnected = errors.New("fleet agent: not connected")

// Agent is the agent's side of the fleet. Create it with New, then call
// Run once with a connection made with ConnOptions.
type Agent struct {
	o       Options
	log     *slog.Logger
	st      *store
	started time.Time

	// seen maps the ids of the commands taken to their expiry. Only the
	// command goroutine uses it once Run has started, which makes the
	// duplicate check and the record one step.
	seen map[string]time.Time

	cmds       chan *nats.Msg
	connected  chan struct{} // a (re)connection: say Hello, flush
	wakeWriter chan struct{}
	wakeFlush  chan struct{}

	mu      sync.Mutex
	nc      *nats.Conn
	pending []op // writes for the writer, in order
	// executing is set while Execute runs; results reported meanwhile wait
	// in deferred so that they follow the command's acknowledgement.
	executing bool
	deferred  []fleet.Result
	running   bool // Run was called
	closed    bool // Run has stopped taking writes
}

// New opens the agent's state file and prepares the agent. Nothing runs
// until Run, which closes the file when it returns.
func New(o Options) (*Agent, error) {
	if err := fleet.ValidateAgentID(o.ID); err != nil {
		return nil, fmt.Errorf("fleet agent: %w", err)
	}
	if o.StatePath == "" {
		return nil, errors.New("fleet agent: no state path")
	}
	if o.Exec == nil {
		return nil, errors.New("fleet agent: no executor")
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := openStore(o.StatePath, o.NoSync)
	if err != nil {
		return nil, fmt.Errorf("fleet agent: %w", err)
	}
	seen, err := st.seen()
	if err != nil {
		st.close()
		return nil, fmt.Errorf("fleet agent: loading seen commands: %w", err)
	}
	return &Agent{
		o:          o,
		log:        log.With("component", "fleet-agent", "agent", o.ID),
		st:         st,
		started:    o.Now(),
		seen:       seen,
		cmds:       make(chan *nats.Msg, 256),
		connected:  make(chan struct{}, 1),
		wakeWriter: make(chan struct{}, 1),
		wakeFlush:  make(chan struct{}, 1),
	}, nil
}

// ConnOptions returns the nats options the agent's connection needs:
// reconnect forever (and keep trying when the first connection fails),
// handlers that tell the agent about (re)connections so it says Hello and
// flushes its outbox, and no reconnect buffer, so that a publish while
// disconnected fails at once instead of being sent twice. Append other
// options (servers' TLS, credentials, a shorter ReconnectWait) after these,
// without replacing the handlers.
func (a *Agent) ConnOptions() []nats.Option {
	return []nats.Option{
		nats.Name("riposte-agent " + a.o.ID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(2 * time.Second),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(-1),
		nats.ConnectHandler(a.onConnect),
		nats.ReconnectHandler(a.onConnect),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			a.log.Warn("disconnected from the manager; enforcing locally, results wait in the outbox", "err", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { a.log.Info("connection closed") }),
	}
}

func (a *Agent) onConnect(nc *nats.Conn) {
	a.log.Info("connected", "server", nc.ConnectedUrlRedacted())
	poke(a.connected)
}

// conn returns the connection Run was given, nil before.
func (a *Agent) conn() *nats.Conn {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nc
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run takes commands from the agent's command subject on nc, sends a Hello
// heartbeat at start and after every reconnection, heartbeats every
// interval, and publishes the outbox whenever connected. It returns when
// ctx ends, after the command in hand is acknowledged and the outbox is
// written (and published, if connected), closing the state file. Run may
// be called once.
func (a *Agent) Run(ctx context.Context, nc *nats.Conn) error {
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return errors.New("fleet agent: Run called twice")
	}
	a.running, a.nc = true, nc
	a.mu.Unlock()

	var cmdWG, writerWG, flushWG sync.WaitGroup
	writerStop, flushStop := make(chan struct{}), make(chan struct{})
	cmdCtx, stopCmds := context.WithCancel(ctx)
	defer stopCmds()
	writerWG.Go(func() { a.writer(writerStop) })
	flushWG.Go(func() { a.flusher(flushStop) })
	cmdWG.Go(func() { a.commands(cmdCtx) })

	subject := a.o.Subjects.Command(a.o.ID)
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		select {
		case a.cmds <- m:
		case <-cmdCtx.Done():
		}
	})
	if err != nil {
		err = fmt.Errorf("fleet agent: subscribing to %s: %w", subject, err)
	} else {
		// Many commands may arrive at once when the manager answers a
		// Hello; the command goroutine takes them in order.
		_ = sub.SetPendingLimits(-1, 64<<20)
		a.log.Info("running", "subject", subject)
		a.loop(ctx, nc)
		if uerr := sub.Unsubscribe(); uerr != nil && !errors.Is(uerr, nats.ErrConnectionClosed) {
			a.log.Debug("unsubscribe", "err", uerr)
		}
	}

	stopCmds()
	cmdWG.Wait()
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	close(writerStop)
	writerWG.Wait()
	close(flushStop)
	flushWG.Wait()
	if cerr := a.st.close(); cerr != nil && err == nil {
		err = fmt.Errorf("fleet agent: closing state: %w", cerr)
	}
	return err
}

// loop sends heartbeats until ctx ends.
func (a *Agent) loop(ctx context.Context, nc *nats.Conn) {
	t := time.NewTicker(a.o.Heartbeat)
	defer t.Stop()
	// A Hello is due on the first connection and whenever the connection's
	// reconnect count moved since the last one, which also catches
	// reconnections whose handler was not installed.
	helloSent := false
	var helloAt uint64
	for {
		if nc.IsConnected() {
			reconnects := nc.Stats().Reconnects
			hello := !helloSent || reconnects != helloAt
			if err := a.heartbeat(nc, hello); err != nil {
				a.log.Debug("heartbeat not sent", "err", err)
			} else if hello {
				helloSent, helloAt = true, reconnects
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-a.connected:
			poke(a.wakeFlush)
		case <-t.C:
			poke(a.wakeFlush)
		}
	}
}

func (a *Agent) heartbeat(nc *nats.Conn, hello bool) error {
	var hb fleet.Heartbeat
	if a.o.Info != nil {
		hb = a.o.Info()
	}
	if hb.Name == "" {
		hb.Name = a.o.Name
	}
	hb.Started = a.started
	hb.Time = a.o.Now()
	hb.Hello = hello
	hb.Active = a.o.Exec.Active()
	b, err := json.Marshal(hb)
	if err != nil {
		return err
	}
	if err := nc.Publish(a.o.Subjects.Heartbeat(a.o.ID), b); err != nil {
		return err
	}
	if hello {
		a.log.Info("hello sent", "active", hb.Active)
	}
	return nil
}

// commands handles the commands in the order they arrived, and forgets old
// command ids, until ctx ends.
func (a *Agent) commands(ctx context.Context) {
	a.prune()
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-a.cmds:
			a.handle(m.Data)
		case <-t.C:
			a.prune()
		}
	}
}

// handle checks one command and, when it is valid, for this agent, not
// expired and not seen before, runs it.
//
// The executor is called before the command id is on disk: the path from
// a command's arrival to its execution waits for no fsync. The id is
// written right after, with the acknowledgement, and the acknowledgement
// is published only once both are on disk. The price: a crash between
// Execute and that write forgets the id, and the manager, having no
// acknowledgement, delivers the command again, so it runs a second time.
// For a stateful run that is harmless (the script's check_keys makes the
// second add an abort; the block is already there); a stateless one runs
// twice.
func (a *Agent) handle(data []byte) {
	if len(data) > fleet.MaxMessage {
		a.log.Warn("oversized command dropped", "bytes", len(data))
		return
	}
	var c fleet.Command
	if err := json.Unmarshal(data, &c); err != nil {
		a.log.Warn("unreadable command dropped", "err", err)
		return
	}
	now := a.o.Now()
	ack := fleet.Result{Kind: fleet.Ack, CommandID: c.ID, Time: now, Name: c.Name, Executable: c.Executable, Key: c.Key}
	if outcome, note := a.check(&c, now); outcome != "" {
		ack.Outcome, ack.Note = outcome, note
		a.log.Info("command not run", "command", c.ID, "kind", c.Kind, "outcome", outcome, "note", note)
		a.enqueue(op{result: a.encode(ack)})
		return
	}

	a.seen[c.ID] = c.Expires
	a.mu.Lock()
	a.executing = true
	a.mu.Unlock()
	err := a.o.Exec.Execute(c)
	ack.Time = a.o.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.executing = false
	if err != nil {
		// Not taken: a later delivery may run it.
		delete(a.seen, c.ID)
		ack.Outcome, ack.Note = fleet.AckRefused, err.Error()
		a.log.Warn("command refused by the executor", "command", c.ID, "kind", c.Kind, "err", err)
		a.pending = append(a.pending, op{result: a.encode(ack)})
	} else {
		ack.Outcome = fleet.AckAccepted
		a.log.Debug("command accepted", "command", c.ID, "kind", c.Kind, "name", c.Name, "timeout", c.Timeout.D())
		o := op{seen: c.ID, expires: c.Expires, result: a.encode(ack)}
		if c.Kind == fleet.KindRun {
			o.acceptedRun = c.ID
		}
		a.pending = append(a.pending, o)
	}
	for _, r := range a.deferred {
		a.pending = append(a.pending, a.resultOp(r))
	}
	a.deferred = nil
	poke(a.wakeWriter)
}

// check returns the acknowledgement outcome and note of a command that
// must not run, or "" for one to run. For a stateful run it reduces the
// timeout to what remains.
func (a *Agent) check(c *fleet.Command, now time.Time) (outcome, note string) {
	if err := c.Validate(); err != nil {
		return fleet.AckInvalid, err.Error()
	}
	if c.Agent != a.o.ID {
		return fleet.AckInvalid, fmt.Sprintf("addressed to agent %s, not %s", c.Agent, a.o.ID)
	}
	if !now.Before(c.Expires) {
		return fleet.AckExpired, "expired at " + c.Expires.Format(time.RFC3339Nano)
	}
	if _, ok := a.seen[c.ID]; ok {
		return fleet.AckDuplicate, "already received"
	}
	if c.Kind == fleet.KindRun && c.Timeout > 0 {
		end := c.Issued.Add(c.Timeout.D())
		remaining := end.Sub(now)
		if remaining <= 0 {
			return fleet.AckExpired, "its whole timeout has passed (ended " + end.Format(time.RFC3339Nano) + ")"
		}
		if remaining < c.Timeout.D() {
			c.Timeout = fleet.Duration(remaining)
		}
	}
	return "", ""
}

// prune forgets the command ids whose expiry is more than seenMargin ago.
func (a *Agent) prune() {
	cutoff := a.o.Now().Add(-seenMargin)
	var old []string
	for id, exp := range a.seen {
		if exp.Before(cutoff) {
			old = append(old, id)
			delete(a.seen, id)
		}
	}
	if len(old) > 0 {
		a.log.Debug("forgetting old command ids", "count", len(old))
		a.enqueue(op{forget: old})
	}
}

// Report is called by the executor with each run's result. The result is
// written to the outbox, then published on the agent's result subject and
// removed from the outbox once the server has it; while the agent is
// disconnected it waits there, across restarts. Results keep the order of
// the calls, and a result reported while a command is being handed to the
// executor follows that command's acknowledgement. Report does not wait
// for the disk; a result reported after Run has returned is logged and
// dropped, so stop the executor first.
func (a *Agent) Report(r fleet.Result) {
	if r.Time.IsZero() {
		r.Time = a.o.Now()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.closed:
		a.log.Error("result reported after the agent stopped; dropped", "command", r.CommandID, "outcome", r.Outcome, "verb", r.Verb, "key", r.Key)
	case a.executing:
		a.deferred = append(a.deferred, r)
	default:
		a.pending = append(a.pending, a.resultOp(r))
		poke(a.wakeWriter)
	}
}

// resultOp is the outbox write of a run's result.
func (a *Agent) resultOp(r fleet.Result) op {
	o := op{result: a.encode(r)}
	if r.Kind == fleet.Run && r.Verb == "add" {
		o.ranRun = r.CommandID
	}
	return o
}

func (a *Agent) enqueue(o op) {
	a.mu.Lock()
	a.pending = append(a.pending, o)
	a.mu.Unlock()
	poke(a.wakeWriter)
}

// encode returns the JSON of r, its stderr tail and note cut if it would
// not fit in one message.
func (a *Agent) encode(r fleet.Result) []byte {
	b, err := json.Marshal(r)
	if err == nil && len(b) <= fleet.MaxMessage {
		return b
	}
	r.Stderr = cut(r.Stderr, maxField)
	r.Note = cut(r.Note, maxField)
	if len(r.Keys) > 64 {
		r.Keys = r.Keys[:64]
	}
	b, err = json.Marshal(r)
	if err != nil {
		// Only strings, numbers and times: cannot fail.
		a.log.Error("cannot encode result", "err", err)
		return []byte("{}")
	}
	return b
}

// cut returns s shortened to at most n bytes on a UTF-8 boundary, marked
// with an ellipsis.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return prefix(s, n) + "…"
}

// prefix returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i]
}

// writer writes the pending operations, in order, a run of them per
// transaction, until stop is closed and nothing is pending.
//
// A single writer committing whatever accumulated while the previous
// commit was on its way is the same group commit db.Batch does, with one
// more guarantee the outbox needs: the order of the writes is the order of
// the calls.
func (a *Agent) writer(stop <-chan struct{}) {
	stopping := false
	for {
		a.mu.Lock()
		ops := a.pending
		a.pending = nil
		a.mu.Unlock()
		if len(ops) > 0 {
			coalesce(ops)
			if err := a.st.apply(ops); err != nil {
				a.log.Error("cannot write the agent state; retrying", "err", err, "ops", len(ops))
				a.mu.Lock()
				a.pending = append(ops, a.pending...)
				a.mu.Unlock()
				if stopping {
					a.log.Error("agent state not written at stop; acknowledgements and results lost", "ops", len(ops))
					return
				}
				select {
				case <-stop:
					stopping = true
				case <-time.After(time.Second):
				}
				continue
			}
			poke(a.wakeFlush)
			continue
		}
		if stopping {
			return
		}
		select {
		case <-a.wakeWriter:
		case <-stop:
			stopping = true
		}
	}
}

// flusher publishes the outbox whenever woken, and once more at stop.
func (a *Agent) flusher(stop <-chan struct{}) {
	for {
		select {
		case <-a.wakeFlush:
			a.flush()
		case <-stop:
			a.flush()
			return
		}
	}
}

// flush publishes the outbox, oldest first, and removes what the server
// confirmed. It stops at the first failure; the next wake-up starts again
// from the oldest message left.
func (a *Agent) flush() {
	nc := a.conn()
	subject := a.o.Subjects.Result(a.o.ID)
	for nc != nil && nc.IsConnected() {
		entries, err := a.st.outbox(outboxBatch)
		if err != nil {
			a.log.Error("cannot read the outbox", "err", err)
			return
		}
		n := 0
		for _, e := range entries {
			m := &nats.Msg{Subject: subject, Data: e.data, Header: nats.Header{}}
			m.Header.Set(nats.MsgIdHdr, a.st.msgID(e.seq))
			if err := nc.PublishMsg(m); err != nil {
				a.log.Debug("outbox publish failed; will retry", "err", err)
				break
			}
			n++
		}
		if n == 0 {
			return
		}
		if err := nc.FlushTimeout(flushTimeout); err != nil {
			a.log.Debug("outbox flush failed; will retry", "err", err)
			return
		}
		if err := a.st.remove(entries[:n]); err != nil {
			a.log.Error("cannot remove published results from the outbox", "err", err)
			return
		}
		if n < len(entries) || len(entries) < outboxBatch {
			return
		}
	}
}
