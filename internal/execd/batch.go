package execd

import (
	"context"
	"strings"
	"time"

	"github.com/riposte/riposte/internal/action"
)

// Adds of built-in actions that can carry out many at once (firewall-drop
// on nftables) do not get a goroutine each: they queue, and one goroutine
// takes everything queued into a batch. A batch parses its messages, counts
// repeat offenses in one transaction, arms its timers in one commit,
// answers the check_keys handshakes, adds every block in one firewall
// transaction and reports each result as a run of its own would, with the
// same log lines. A request alone is a batch of one, at once; under a
// burst, batches grow while the previous one runs, and each gets ready
// (messages, timers) while the blocks of the one before go in.

// maxBatch bounds the requests of one batch.
const maxBatch = 4096

// batched reports whether the adds of executable go through the batch: a
// built-in that runs here (no file of the operator's overrides it) and
// whose adds can be queued on this system (firewall-drop on nftables; on
// ipset or iptables each add runs on its own, with its own time limit).
// It is decided once per executable.
func (x *Execd) batched(executable string) bool {
	x.mu.Lock()
	q, ok := x.queueable[executable]
	x.mu.Unlock()
	if ok {
		return q
	}
	env := x.actionEnv(executable, 0)
	q = env != nil && action.Queues(executable, env)
	x.mu.Lock()
	x.queueable[executable] = q
	x.mu.Unlock()
	return q
}

// queueAdd queues req for the next batch. Callers hold x.mu.
func (x *Execd) queueAdd(req Request) bool {
	if x.closed {
		return false
	}
	x.batchQueue = append(x.batchQueue, req)
	if !x.batching {
		x.batching = x.spawn(x.runBatches)
	}
	return true
}

// runBatches carries out batches until the queue is empty.
func (x *Execd) runBatches() {
	for {
		x.mu.Lock()
		n := min(len(x.batchQueue), maxBatch)
		if n == 0 {
			x.batching = false
			x.batchQueue = nil
			x.mu.Unlock()
			return
		}
		batch := x.batchQueue[:n:n] // later appends go past n
		x.batchQueue = x.batchQueue[n:]
		x.mu.Unlock()
		x.runBatch(batch)
	}
}

// batchItem is one request of a batch.
type batchItem struct {
	req      Request
	msg      []byte
	env      *action.Env
	job      *action.Job
	res      Result
	verb     string // the check_keys answer, "" when none was asked
	extended bool
}

// runBatch carries out the adds of reqs, as runAdd would one by one.
func (x *Execd) runBatch(reqs []Request) {
	started := time.Now()
	ctx, cancel := context.WithTimeout(x.runCtx, x.opts.RunTimeout) // ended by finish below
	envs := make(map[string]*action.Env)
	items := make([]*batchItem, 0, len(reqs))
	for _, req := range reqs {
		program := x.program(req.Executable)
		it := &batchItem{req: req, res: Result{
			RequestID: req.ID, Command: req.Command, Program: program, Verb: verbAdd,
			ExitCode: -1, Builtin: true, Started: started,
		}}
		if !req.Accepted.IsZero() {
			it.res.StartDelay = started.Sub(req.Accepted)
		}
		tmpl, seen := envs[req.Executable]
		if !seen {
			tmpl = x.actionEnv(req.Executable, 0)
			envs[req.Executable] = tmpl
		}
		if tmpl == nil {
			// An operator's file of that name overrides the built-in.
			x.mu.Lock()
			x.spawn(func() { x.runAdd(req) })
			x.mu.Unlock()
			continue
		}
		env := *tmpl
		env.Timeout = req.Timeout
		it.env = &env
		it.msg = buildMessage(x.opts.NodeName, verbAdd, req.ExtraArgs, req.Alert, program)
		it.job = action.Prepare(req.Executable, it.env, it.msg)
		items = append(items, it)
	}
	unlock := x.armBatch(items)
	jobs := make([]*action.Job, len(items))
	var reply []byte // one buffer: Answer only logs the reply
	for i, it := range items {
		if it.verb != "" {
			reply = appendWithVerb(reply[:0], it.msg, it.verb)
			it.job.Answer(reply, it.verb == verbContinue)
		}
		jobs[i] = it.job
	}
	wait := action.StartAll(ctx, jobs)
	// The adds go in, their results are reported and the keys released
	// while the next batch gets ready (its adds queue behind these); one
	// batch finishes at a time.
	finish := func() {
		defer cancel()
		defer unlock()
		wait()
		// As for a single add: late is the adds' time running out, not
		// the refreshes'.
		late := ctx.Err() != nil && x.runCtx.Err() == nil
		for _, it := range items {
			if it.extended {
				// The block is already in place; give it its new lifetime.
				if err := x.refresh(it.req.Executable, it.msg, it.res.Timeout); err != nil {
					it.res.Note = strings.TrimSpace(it.res.Note + " refreshing the active block failed: " + err.Error())
				}
			}
		}
		if err := x.opts.ARLog.Flush(); err != nil {
			x.log.Warn("cannot write active-responses.log", "err", err)
		}
		for _, it := range items {
			x.finishItem(it, late)
		}
	}
	<-x.reporting
	done := func() { finish(); x.reporting <- struct{}{} }
	x.mu.Lock()
	spawned := x.spawn(done)
	x.mu.Unlock()
	if !spawned {
		done()
	}
}

// armBatch takes the keys of the items that asked for a handshake, counts
// their offenses and arms the timers of the stateful ones, as arm does for
// one, and sets each item's answer. It returns the release of the key
// locks it took.
func (x *Execd) armBatch(items []*batchItem) (unlock func()) {
	var (
		unlocks []func()
		locked  = make(map[string]bool)
		armed   []*batchItem
		counts  []*offenseReq
	)
	for _, it := range items {
		if it.job.Done() || it.job.Keys == nil {
			continue
		}
		key := takeKeys(&it.res, it.req.Executable, it.job.Keys)
		it.verb = verbContinue
		if it.req.Timeout <= 0 {
			continue
		}
		it.res.Key = key
		if !locked[key] {
			locked[key] = true
			unlocks = append(unlocks, x.keys.lock(key))
		}
		armed = append(armed, it)
		counts = append(counts, &offenseReq{key: key, base: it.req.Timeout, ladder: it.req.Ladder})
	}
	unlock = func() {
		for _, u := range unlocks {
			u()
		}
	}
	if len(armed) == 0 {
		return unlock
	}
	if err := x.store.offenses(counts); err != nil {
		x.log.Error("repeated offenders: cannot update counts", "err", err)
	}
	var recs []*timerRecord
	now := time.Now()
	x.mu.Lock()
	for i, it := range armed {
		c := counts[i]
		if c.count > 0 && c.timeout != c.base {
			x.log.Info("repeated offender", "key", c.key, "repeat", c.count, "timeout", c.timeout)
		}
		var rec *timerRecord
		it.verb, it.res.Timeout, it.extended, rec = x.armLocked(it.req, c.key, it.msg, &it.res, c.timeout, now)
		it.env.Timeout = it.res.Timeout
		if rec != nil {
			recs = append(recs, rec)
		}
	}
	x.mu.Unlock()
	if err := x.store.putTimers(recs); err != nil {
		x.log.Error("cannot persist timers", "count", len(recs), "err", err)
	}
	return unlock
}

// finishItem sets the status of a batch item and reports it; late tells that the batch ran out of time.
func (x *Execd) finishItem(it *batchItem, late bool) {
	x.addStatus(&it.res, it.req, it.job.Code, it.verb, late)
	it.res.Duration = time.Since(it.res.Started)
	x.report(it.res)
}
