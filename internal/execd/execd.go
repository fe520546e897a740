package execd

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riposte/riposte/internal/action"
	"github.com/riposte/riposte/internal/arlog"
	"github.com/riposte/riposte/internal/jsonstr"
	"github.com/riposte/riposte/internal/respond"
)

// acquire takes a run slot for executable (a built-in's or a script's)
// and returns its release.
func (x *Execd) acquire(executable string) (release func()) {
	sem := x.sem
	if x.actionEnv(executable, 0) != nil {
		sem = x.bsem
	}
	sem <- struct{}{}
	return func() { <-sem }
}

// BinDir is the directory, relative to the data directory, that holds the
// response executables, as in a Wazuh install.
const BinDir = "active-response/bin"

// Request asks execd to run one response's "add".
type Request struct {
	// ID identifies the request (the decision id) in results.
	ID string
	// Command is the <command> name, for logs.
	Command string
	// Executable is the file name in the bin directory.
	Executable string
	// Timeout makes the response stateful: the delete runs this long after
	// the add. Zero for stateless responses.
	Timeout time.Duration
	// ExtraArgs go into parameters.extra_args.
	ExtraArgs []string
	// Alert is the alert document, passed in parameters.alert.
	Alert json.RawMessage
	// Ladder is the repeated-offender ladder in minutes; nil for none.
	Ladder []int
	// Accepted is when the alert was accepted, to measure latency.
	Accepted time.Time
}

// FromDecision builds the request for a decision. ladder is the default
// repeated-offender ladder, used when the response has none of its own.
func FromDecision(d *respond.Decision, ladder []int) Request {
	r := d.Response
	req := Request{
		ID:         d.ID,
		Command:    r.Command,
		Executable: r.Cmd.Executable,
		Timeout:    d.Timeout,
		ExtraArgs:  r.Cmd.ExtraArgs,
		Alert:      d.Alert.Raw,
		Ladder:     ladder,
	}
	if r.RepeatedOffenders != nil {
		req.Ladder = r.RepeatedOffenders
	}
	return req
}

// Status is how a run ended.
type Status string

// Run statuses.
const (
	StatusOK       Status = "ok"        // exited 0
	StatusAborted  Status = "aborted"   // told abort: the key was already active
	StatusFailed   Status = "failed"    // exited non-zero
	StatusKilled   Status = "killed"    // past a time limit; its process group was killed
	StatusNotFound Status = "not-found" // no such executable in the bin directory
	StatusError    Status = "error"     // could not be started or talked to
)

// Result records one run of a script.
type Result struct {
	RequestID  string        `json:"request_id,omitempty"`
	Command    string        `json:"command"`
	Program    string        `json:"program"`
	Verb       string        `json:"verb"`          // add or delete
	Key        string        `json:"key,omitempty"` // timer key of a stateful add or delete, for Undo and Extend
	Keys       []string      `json:"keys,omitempty"`
	Status     Status        `json:"status"`
	ExitCode   int           `json:"exit_code"`
	Duration   time.Duration `json:"duration_ns"`
	Stderr     string        `json:"stderr,omitempty"`
	Note       string        `json:"note,omitempty"`
	Timeout    time.Duration `json:"timeout_ns,omitempty"` // effective timeout of a stateful add
	Started    time.Time     `json:"started"`
	StartDelay time.Duration `json:"start_delay_ns,omitempty"` // from Accepted to the script started
	Builtin    bool          `json:"builtin,omitempty"`        // ran in-process as a built-in action
}

// Pending is an active stateful response waiting for its delete.
type Pending struct {
	Key        string    `json:"key"`
	Command    string    `json:"command"`
	Executable string    `json:"executable"`
	Keys       []string  `json:"keys"`
	Added      time.Time `json:"added"`
	Deadline   time.Time `json:"deadline"`
}

// Options configure an Execd.
type Options struct {
	// Dir is the data directory: scripts run there, from Dir/BinDir.
	Dir string
	// StatePath is the file that keeps timers and repeat counts. Default
	// Dir/state/execd.db.
	StatePath string
	// NodeName goes into origin.name of the messages. Default "node01".
	NodeName string
	// HandshakeTimeout limits the wait for a script's check_keys line (or its
	// exit). Default 10s.
	HandshakeTimeout time.Duration
	// RunTimeout limits a whole run. Default 60s.
	RunTimeout time.Duration
	// ShutdownGrace is how long Run waits for running scripts after its
	// context ends, before killing them. Default 5s.
	ShutdownGrace time.Duration
	// MaxRunning bounds concurrently running scripts. Default 64.
	MaxRunning int
	// MaxBuiltin bounds concurrent runs of built-in actions, which run
	// in-process and cost a few goroutines each; many at once let their
	// timers share one write to the state file. Default 1024.
	MaxBuiltin int
	// Logger receives execd's structured log. Default: discard.
	Logger *slog.Logger
	// ARLog, when set, receives execd's own lines in active-responses.log.
	ARLog *arlog.Logger
	// OnResult, when set, is called with every run's result.
	OnResult func(Result)
	// Actions tune the built-in actions that run in-process.
	Actions action.Options
	// ActionRoot is the filesystem root the built-in actions see ("/" when
	// empty); tests point it at a temporary directory.
	ActionRoot string
	// ActionExec runs the programs the built-in actions call, and decides
	// the network namespace their netlink connections reach (see
	// action.Env.Exec); nil runs them on this host. Tests point it into a
	// network namespace.
	ActionExec action.Runner
	// NoBuiltins runs every executable as an external program, even the
	// names of built-in actions.
	NoBuiltins bool
	// ReconcileInterval is how often active blocks of built-in actions are
	// checked and re-applied when found missing (a firewall flush or
	// reload). Default 5s.
	ReconcileInterval time.Duration
}

// entry is one pending delete.
type entry struct {
	timerRecord
	due   time.Time // monotonic deadline
	index int       // in the heap; -1 when not queued
}

type timerHeap []*entry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) { e := x.(*entry); e.index = len(*h); *h = append(*h, e) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

// Execd runs responses on this host. Create it with Open, run its timers
// with Run, and hand it requests with Submit.
type Execd struct {
	opts  Options
	log   *slog.Logger
	store *store
	sem   chan struct{} // slots of external scripts
	bsem  chan struct{} // slots of in-process built-ins
	keys  keyLocks
	// shared is what in-process actions keep across runs (a detected
	// backend, a firewall layout already checked).
	shared action.Shared

	mu      sync.Mutex
	entries map[string]*entry
	queue   timerHeap
	wake    chan struct{}
	closed  bool

	queueable  map[string]bool // executables whose adds go through the batch, see batched
	batchQueue []Request       // adds waiting for the next batch
	batching   bool            // a goroutine is running batches
	reporting  chan struct{}   // holds a token unless a batch's results are being reported

	runs   sync.WaitGroup
	runCtx context.Context
	stop   context.CancelFunc
}

// Open prepares an Execd and loads the timers persisted by an earlier run.
func Open(opts Options) (*Execd, error) {
	if opts.Dir == "" {
		return nil, errors.New("execd: no data directory")
	}
	if opts.StatePath == "" {
		opts.StatePath = filepath.Join(opts.Dir, "state", "execd.db")
	}
	if opts.NodeName == "" {
		opts.NodeName = "node01"
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.RunTimeout <= 0 {
		opts.RunTimeout = 60 * time.Second
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 5 * time.Second
	}
	if opts.MaxRunning <= 0 {
		opts.MaxRunning = 64
	}
	if opts.MaxBuiltin <= 0 {
		opts.MaxBuiltin = 1024
	}
	if opts.ReconcileInterval <= 0 {
		opts.ReconcileInterval = 5 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := openStore(opts.StatePath)
	if err != nil {
		return nil, err
	}
	x := &Execd{
		opts:    opts,
		log:     log.With("component", "execd"),
		store:   st,
		sem:     make(chan struct{}, opts.MaxRunning),
		bsem:    make(chan struct{}, opts.MaxBuiltin),
		entries: make(map[string]*entry),
		wake:    make(chan struct{}, 1),

		queueable: make(map[string]bool),
		reporting: make(chan struct{}, 1),
	}
	x.reporting <- struct{}{}
	x.runCtx, x.stop = context.WithCancel(context.Background())
	recs, err := st.timers()
	if err != nil {
		st.close()
		return nil, fmt.Errorf("execd: loading timers: %w", err)
	}
	now := time.Now()
	for _, r := range recs {
		e := &entry{timerRecord: *r, due: now.Add(r.Deadline.Sub(now))}
		x.entries[e.Key] = e
		heap.Push(&x.queue, e)
		x.log.Info("re-armed pending delete", "key", e.Key, "deadline", e.Deadline, "overdue", !e.Deadline.After(now))
	}
	return x, nil
}

// Run fires pending deletes until ctx ends. Then it waits up to
// ShutdownGrace for running scripts, kills what is left, and closes the
// state. Pending deletes stay pending: a clean stop does not lift blocks.
func (x *Execd) Run(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	rt := time.NewTicker(x.opts.ReconcileInterval)
	defer rt.Stop()
	for {
		x.mu.Lock()
		var next time.Duration = time.Hour
		now := time.Now()
		for len(x.queue) > 0 && !x.queue[0].due.After(now) {
			e := heap.Pop(&x.queue).(*entry)
			x.spawn(func() { x.runDelete(e) })
		}
		if len(x.queue) > 0 {
			next = x.queue[0].due.Sub(now)
		}
		x.mu.Unlock()
		t.Reset(next)
		select {
		case <-ctx.Done():
			return x.shutdown()
		case <-x.wake:
		case <-t.C:
		case <-rt.C:
			x.mu.Lock()
			x.spawn(x.reconcile)
			x.mu.Unlock()
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
	}
}

func (x *Execd) shutdown() error {
	x.mu.Lock()
	x.closed = true
	x.mu.Unlock()
	done := make(chan struct{})
	go func() { x.runs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(x.opts.ShutdownGrace):
		x.stop()
		<-done
	}
	x.stop()
	return x.store.close()
}

// spawn runs f in a goroutine owned by x. Callers hold x.mu.
func (x *Execd) spawn(f func()) bool {
	if x.closed {
		return false
	}
	x.runs.Add(1)
	go func() {
		defer x.runs.Done()
		f()
	}()
	return true
}

// ErrClosed is returned by Submit after Run has returned.
var ErrClosed = errors.New("execd: closed")

// Submit starts a request in the background; its result goes to OnResult.
func (x *Execd) Submit(req Request) error {
	batched := x.batched(req.Executable)
	x.mu.Lock()
	defer x.mu.Unlock()
	if batched {
		if !x.queueAdd(req) {
			return ErrClosed
		}
		return nil
	}
	if !x.spawn(func() { x.runAdd(req) }) {
		return ErrClosed
	}
	return nil
}

// Pending lists the active stateful responses, soonest deadline first.
func (x *Execd) Pending() []Pending {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]Pending, 0, len(x.entries))
	for _, e := range x.entries {
		out = append(out, Pending{Key: e.Key, Command: e.Command, Executable: e.Executable, Keys: keysOf(e.Key), Added: e.Added, Deadline: e.Deadline})
	}
	slices.SortFunc(out, func(a, b Pending) int { return a.Deadline.Compare(b.Deadline) })
	return out
}

func (x *Execd) program(executable string) string { return BinDir + "/" + executable }

// report logs a run's result and hands it on. A run that went as asked is
// logged at debug level: the decision was logged when it was made, and
// active-responses.log has the run, so that an attack from thousands of
// addresses costs one line each in Riposte's own log, as fail2ban's bans
// do. An abort (already active) is logged, a failure warned about.
func (x *Execd) report(r Result) {
	lvl := slog.LevelDebug
	switch r.Status {
	case StatusOK:
	case StatusAborted:
		lvl = slog.LevelInfo
	default:
		lvl = slog.LevelWarn
	}
	ctx := context.Background()
	if x.log.Enabled(ctx, lvl) {
		x.log.LogAttrs(ctx, lvl, "run ended",
			slog.String("request", r.RequestID), slog.String("command", r.Command), slog.String("program", r.Program), slog.String("verb", r.Verb),
			slog.Any("keys", r.Keys), slog.String("status", string(r.Status)), slog.Int("exit_code", r.ExitCode), slog.Duration("duration", r.Duration),
			slog.Duration("timeout", r.Timeout), slog.String("note", r.Note), slog.String("stderr", r.Stderr))
	}
	b := make([]byte, 0, 160+len(r.Note))
	b = append(b, r.Program...)
	b = append(b, ": "...)
	b = append(b, r.Verb...)
	b = append(b, ' ')
	b = append(b, r.Status...)
	b = append(b, ", exit status "...)
	b = strconv.AppendInt(b, int64(r.ExitCode), 10)
	b = append(b, ", "...)
	b = append(b, r.Duration.Round(time.Microsecond).String()...)
	if len(r.Keys) > 0 {
		b = append(b, ", keys ["...)
		for i, k := range r.Keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, k)
		}
		b = append(b, ']')
	}
	if r.Timeout > 0 {
		b = append(b, ", active for "...)
		b = append(b, r.Timeout.String()...)
	}
	if r.Note != "" {
		b = append(b, "; "...)
		b = append(b, r.Note...)
	}
	if r.RequestID != "" {
		b = append(b, " (request "...)
		b = append(b, r.RequestID...)
		b = append(b, ')')
	}
	if err := x.opts.ARLog.Log("riposte-execd", string(b)); err != nil {
		x.log.Warn("cannot write active-responses.log", "err", err)
	}
	if x.opts.OnResult != nil {
		x.opts.OnResult(r)
	}
}

// arlog writes one of execd's own lines to active-responses.log.
func (x *Execd) arlog(format string, args ...any) {
	if err := x.opts.ARLog.Logf("riposte-execd", format, args...); err != nil {
		x.log.Warn("cannot write active-responses.log", "err", err)
	}
}

// checkExecutable verifies the executable is a regular, executable file in
// the bin directory.
func (x *Execd) checkExecutable(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("executable %q is not a file name", name)
	}
	path := filepath.Join(x.opts.Dir, BinDir, name)
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", path)
	}
	return path, nil
}

func (x *Execd) runAdd(req Request) {
	defer x.acquire(req.Executable)()

	program := x.program(req.Executable)
	res := Result{RequestID: req.ID, Command: req.Command, Program: program, Verb: verbAdd, ExitCode: -1}
	msg := buildMessage(x.opts.NodeName, verbAdd, req.ExtraArgs, req.Alert, program)
	env := x.actionEnv(req.Executable, req.Timeout)
	if env != nil {
		x.callAdd(req, env, msg, res)
		return
	}
	p, status, err := x.launch(req.Executable, true)
	if err != nil {
		res.Status, res.Note = status, err.Error()
		x.arlog("%s: not run: %v (request %s)", program, err, req.ID)
		x.report(res)
		return
	}
	res.Started = p.started
	if !req.Accepted.IsZero() {
		res.StartDelay = p.started.Sub(req.Accepted)
	}
	deadline := p.started.Add(x.opts.RunTimeout)
	finish := func() {
		res.Duration = time.Since(p.started)
		res.Stderr = p.stderr.String()
		if res.Status == "" {
			switch code := p.exitCode(); {
			case code == 0:
				res.Status = StatusOK
			default:
				res.Status = StatusFailed
				x.arlog("%s: exited with status %d (request %s)", program, code, req.ID)
			}
		}
		res.ExitCode = p.exitCode()
		x.report(res)
	}
	if err := p.write(msg); err != nil {
		// The script exited before reading; its exit status tells the rest.
		res.Note = fmt.Sprintf("could not write the message: %v", err)
	}
	line, err := p.readLine(min(x.opts.HandshakeTimeout, time.Until(deadline)))
	switch {
	case errors.Is(err, errTimeout):
		p.kill()
		<-p.done
		res.Status = StatusKilled
		res.Note = fmt.Sprintf("no check_keys line and no exit within %s; killed with its process group", x.opts.HandshakeTimeout)
		x.arlog("%s: killed with its process group (pid %d): no check_keys line and no exit within %s (request %s)",
			program, p.cmd.Process.Pid, x.opts.HandshakeTimeout, req.ID)
		finish()
		return
	case err != nil:
		// Stdout closed without a line: a stateless run, as in Wazuh.
		p.closeStdin()
		p.closeStdout()
		if req.Timeout > 0 {
			res.Note = "the script sent no check_keys line, so no delete will run for this response"
		}
		if p.wait(time.Until(deadline)) {
			res.Status = StatusKilled
			res.Note = fmt.Sprintf("still running after %s; killed with its process group", x.opts.RunTimeout)
			x.arlog("%s: killed with its process group: still running after %s (request %s)", program, x.opts.RunTimeout, req.ID)
		}
		finish()
		return
	}

	keys, kerr := parseKeys(line)
	if kerr != nil {
		res.Note = fmt.Sprintf("unusable check_keys line (%v); using the executable name as the key", kerr)
		x.log.Warn("unusable check_keys line", "program", program, "line", string(line), "err", kerr)
	}
	res.Keys = keys
	key := rkey(req.Executable, keys)
	verb := verbContinue
	if req.Timeout > 0 {
		res.Key = key
		unlock := x.keys.lock(key)
		defer unlock()
		verb, res.Timeout, _ = x.arm(req, key, msg, &res)
	}
	if err := p.write(withVerb(msg, verb)); err != nil {
		res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" could not write %s: %v", verb, err))
	}
	p.closeStdin()
	p.closeStdout()
	if verb == verbAbort {
		res.Status = StatusAborted
	}
	if p.wait(time.Until(deadline)) {
		res.Status = StatusKilled
		res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" still running after %s; killed with its process group", x.opts.RunTimeout))
		x.arlog("%s: killed with its process group: still running after %s (request %s)", program, x.opts.RunTimeout, req.ID)
	}
	finish()
}

// arm records or extends the timer for key and returns the verb for the
// script (continue for a new block, abort for one already active) and the
// effective timeout. Callers hold the key lock.
func (x *Execd) arm(req Request, key string, msg []byte, res *Result) (verb string, timeout time.Duration, extended bool) {
	timeout, count, err := x.store.offense(key, req.Timeout, req.Ladder)
	if err != nil {
		x.log.Error("repeated offenders: cannot update count", "key", key, "err", err)
	}
	if count > 0 && timeout != req.Timeout {
		x.log.Info("repeated offender", "key", key, "repeat", count, "timeout", timeout)
	}
	// The record is written after x.mu is released (the key lock still
	// orders writes for this key), so that concurrent adds share one
	// transaction instead of queueing behind each other's fsync.
	x.mu.Lock()
	verb, timeout, extended, rec := x.armLocked(req, key, msg, res, timeout, time.Now())
	x.mu.Unlock()
	if rec != nil {
		x.persist(rec)
	}
	return verb, timeout, extended
}

// armLocked is arm's work in memory, for a timeout the repeated-offender
// ladder already set: it returns, besides arm's results, the timer record
// to persist (nil when nothing changed). Callers hold x.mu and the key
// lock.
func (x *Execd) armLocked(req Request, key string, msg []byte, res *Result, timeout time.Duration, now time.Time) (verb string, eff time.Duration, extended bool, rec *timerRecord) {
	due := now.Add(timeout)
	if e, ok := x.entries[key]; ok {
		if due.After(e.due) {
			e.due = due
			e.Deadline = now.Round(0).Add(timeout)
			e.Timeout = timeout
			if e.index >= 0 {
				heap.Fix(&x.queue, e.index)
			} else {
				heap.Push(&x.queue, e)
			}
			copied := e.timerRecord
			x.poke()
			res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" already active; extended to %s", timeout))
			return verbAbort, timeout, true, &copied
		}
		// Unlike Wazuh, a re-trigger never shortens an active block: the
		// longer deadline stays, and so does the timeout reported.
		res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" already active until %s; kept", e.Deadline.Format(time.RFC3339)))
		return verbAbort, e.Timeout, false, nil
	}
	e := &entry{
		timerRecord: timerRecord{
			Key: key, Command: req.Command, Executable: req.Executable,
			Deadline: now.Round(0).Add(timeout), Timeout: timeout, Added: now.Round(0),
			Delete: withVerb(msg, verbDelete),
		},
		due: due,
	}
	x.entries[key] = e
	heap.Push(&x.queue, e)
	copied := e.timerRecord
	x.poke()
	return verbContinue, timeout, false, &copied
}

func (x *Execd) persist(r *timerRecord) {
	if err := x.store.putTimer(r); err != nil {
		x.log.Error("cannot persist timer", "key", r.Key, "err", err)
	}
}

func (x *Execd) poke() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

func (x *Execd) runDelete(e *entry) {
	defer x.acquire(e.Executable)()
	unlock := x.keys.lock(e.Key)
	defer unlock()
	x.mu.Lock()
	cur, ok := x.entries[e.Key]
	if !ok || cur != e || e.due.After(time.Now()) || e.index >= 0 {
		// Extended or replaced since it was taken off the queue.
		x.mu.Unlock()
		return
	}
	x.mu.Unlock()
	x.deleteLocked(e, "")
}

// deleteLocked runs the delete of e, removes its timer and reports the
// result with note. Callers hold e's key lock and a run slot.
func (x *Execd) deleteLocked(e *entry, note string) {
	program := x.program(e.Executable)
	res := Result{Command: e.Command, Program: program, Verb: verbDelete, Key: e.Key, Keys: keysOf(e.Key), ExitCode: -1, Note: note}
	defer func() {
		x.mu.Lock()
		if x.entries[e.Key] == e {
			delete(x.entries, e.Key)
		}
		x.mu.Unlock()
		if err := x.store.deleteTimer(e.Key); err != nil {
			x.log.Error("cannot remove timer", "key", e.Key, "err", err)
		}
		x.report(res)
	}()
	x.log.Debug("running delete", "key", e.Key, "timeout", e.Timeout)
	env := x.actionEnv(e.Executable, 0)
	if env != nil {
		x.callDelete(e, env, &res)
		return
	}
	p, status, err := x.launch(e.Executable, false)
	if err != nil {
		res.Status, res.Note = status, err.Error()
		x.arlog("%s: delete not run: %v", program, err)
		return
	}
	res.Started = p.started
	if err := p.write(e.Delete); err != nil {
		res.Note = fmt.Sprintf("could not write the message: %v", err)
	}
	p.closeStdin()
	killed := p.wait(x.opts.RunTimeout)
	res.Duration = time.Since(p.started)
	res.Stderr = p.stderr.String()
	res.ExitCode = p.exitCode()
	switch {
	case killed:
		res.Status = StatusKilled
		res.Note = fmt.Sprintf("delete still running after %s; killed with its process group", x.opts.RunTimeout)
		x.arlog("%s: delete killed with its process group: still running after %s", program, x.opts.RunTimeout)
	case res.ExitCode == 0:
		res.Status = StatusOK
	default:
		res.Status = StatusFailed
		x.arlog("%s: delete exited with status %d", program, res.ExitCode)
	}
}

// keyLocks serialises work on one key while letting different keys run
// concurrently.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{}
	refs int
}

func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*keyLock)
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.ch <- struct{}{}
	return func() {
		<-l.ch
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
