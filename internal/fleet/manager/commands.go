package manager

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/riposte/riposte/internal/fleet"
)

// Command statuses.
const (
	CmdPending       = "pending"       // stored, not acknowledged
	CmdAccepted      = "accepted"      // acknowledged; the agent runs it
	CmdDone          = "done"          // the agent reported its run
	CmdFailed        = "failed"        // refused, invalid, or the run failed
	CmdExpired       = "expired"       // not acknowledged before it expired
	CmdUndeliverable = "undeliverable" // the agent was revoked or the store failed
)

// Per-target results of Dispatch, Undo and Extend.
const (
	Sent              = "sent"
	Queued            = "queued (agent disconnected)"
	NotDeliverable    = "not deliverable: "
	UnknownAgent      = NotDeliverable + "unknown agent"
	RevokedAgent      = NotDeliverable + "agent revoked"
	NoLocalExecutor   = NotDeliverable + "no local executor"
	InvalidExecutable = NotDeliverable + "invalid executable"
	TooLarge          = NotDeliverable + "command larger than fleet.MaxMessage"
)

// statusRank orders statuses so a late or replayed update never moves a
// command backwards.
func statusRank(s string) int {
	switch s {
	case CmdPending:
		return 0
	case CmdAccepted:
		return 1
	}
	return 2
}

// maxFinished bounds the finished commands a manager keeps in memory for
// Commands; older ones stay listed in the bucket until their retention
// ends. Pending and accepted ones are always kept.
const maxFinished = 50000

// forgetFinished drops from memory the oldest finished commands when there
// are more than max, down to three quarters of max, so that a flood of
// commands does not hold memory for the whole retention, and the sort is
// not done again at each of the next commands. The lock is taken one agent
// at a time, so that in a fleet dispatches do not wait for the whole scan
// (a manager blocking for itself alone has one agent, 000).
func (m *Manager) forgetFinished(max int) {
	type ref struct {
		agent, id string
		at        time.Time
	}
	agents := m.cmdAgents()
	// Counted first: under the bound, as is usual, nothing is gathered.
	n := 0
	m.eachFinished(agents, func(string, string, *cmdEntry) { n++ })
	if n <= max {
		return
	}
	done := make([]ref, 0, n)
	m.eachFinished(agents, func(agent, id string, e *cmdEntry) { done = append(done, ref{agent, id, e.rec.Finished}) })
	if len(done) <= max {
		return
	}
	slices.SortFunc(done, func(a, b ref) int { return a.at.Compare(b.at) })
	done = done[:len(done)-max*3/4]
	for len(done) > 0 {
		n := min(len(done), 1000)
		m.mu.Lock()
		for _, r := range done[:n] {
			delete(m.cmds[r.agent], r.id)
			if len(m.cmds[r.agent]) == 0 {
				delete(m.cmds, r.agent)
			}
		}
		m.mu.Unlock()
		done = done[n:]
	}
}

// eachFinished calls fn with each finished command of agents, under the
// read lock taken one agent at a time.
func (m *Manager) eachFinished(agents []string, fn func(agent, id string, e *cmdEntry)) {
	for _, agent := range agents {
		m.mu.RLock()
		for id, e := range m.cmds[agent] {
			if statusRank(e.rec.Status) == 2 {
				fn(agent, id, e)
			}
		}
		m.mu.RUnlock()
	}
}

// cmdAgents lists the agents that have commands in memory.
func (m *Manager) cmdAgents() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	agents := make([]string, 0, len(m.cmds))
	for agent := range m.cmds {
		agents = append(agents, agent)
	}
	return agents
}

// CommandRecord is a command and what became of it, as stored in
// fleet.BucketCommands under "<agent>.<command id>".
type CommandRecord struct {
	Command fleet.Command `json:"command"`
	// Status is pending, accepted, done, failed, expired or undeliverable.
	Status string `json:"status"`
	// SrcIP is the address the command acts on, if any.
	SrcIP string `json:"srcip,omitempty"`
	// Node is the manager that issued it.
	Node string `json:"node,omitempty"`
	// Sent is when it was last published to the agent and Sends how many
	// times (this manager's count).
	Sent  time.Time `json:"sent,omitzero"`
	Sends int       `json:"sends,omitempty"`
	// Acked is when the acknowledgement arrived; Finished when the command
	// reached its final status.
	Acked    time.Time `json:"acked,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Outcome and Note are the agent's (or the manager's) last word.
	Outcome string `json:"outcome,omitempty"`
	Note    string `json:"note,omitempty"`
}

type cmdEntry struct {
	rec CommandRecord
	rev uint64
	// sentSeq numbers its last send among the manager's (Manager.sends).
	sentSeq uint64
}

// A command sent to a connected agent usually has its result within tens
// of milliseconds. On a manager alone on its store (Options.Alone), its
// record is written storeDefer after it was sent, unless its final status
// came first: then only that is written, one write instead of two. The
// command is in memory meanwhile, which is what sends it again and expires
// it. Managers of a cluster write at once, so that the others know the
// command should its manager die; so does any manager for a command to an
// agent not connected.
const storeDefer = 250 * time.Millisecond

func cmdKey(agent, id string) string { return agent + "." + id }

// Dispatch is one response to carry out on a set of agents.
type Dispatch struct {
	// DecisionID links the commands to the decision that made them.
	DecisionID string
	// Name is the <command> name; Executable the file to run.
	Name, Executable string
	// Timeout makes the response stateful.
	Timeout time.Duration
	// ExtraArgs go to parameters.extra_args; Alert is the alert document.
	ExtraArgs []string
	Alert     json.RawMessage
	// Ladder is the repeated_offenders ladder in minutes, counted by the
	// agent unless central counting is enabled.
	Ladder []int
	// SrcIP is the address the response acts on (for the central state
	// and repeat offenders); may be invalid.
	SrcIP netip.Addr
	// Targets are agent ids; "000" is the manager host.
	Targets []string
	// AllAgents adds every enrolled agent that is not revoked, connected
	// or not (and 000 when Options.AllIncludesManager is set).
	AllAgents bool
}

// Dispatch stores one command per target and sends it, returning per agent
// id Sent, Queued, or a NotDeliverable reason. A disconnected agent gets
// its command when it comes back, if it is still valid then.
func (m *Manager) Dispatch(d Dispatch) map[string]string {
	now := m.o.Now().UTC()
	targets := slices.Clone(d.Targets)
	if d.AllAgents {
		m.mu.RLock()
		for id, e := range m.agents {
			if !e.a.Revoked {
				targets = append(targets, id)
			}
		}
		m.mu.RUnlock()
		if m.o.AllIncludesManager {
			targets = append(targets, fleet.ManagerID)
		}
	}
	slices.SortFunc(targets, cmpID)
	targets = slices.Compact(targets)
	if !fleet.ValidExecutable(d.Executable) {
		out := make(map[string]string, len(targets))
		for _, id := range targets {
			out[id] = InvalidExecutable
		}
		return out
	}
	timeout, ladder := d.Timeout, d.Ladder
	if m.o.Offenders.Enabled && timeout > 0 && d.SrcIP.IsValid() {
		timeout, _ = m.Timeout(timeout, d.Ladder, d.SrcIP)
		ladder = nil
	}
	expires := now.Add(m.o.CommandTTL)
	if timeout > 0 {
		expires = now.Add(timeout)
	}
	cmds := make([]fleet.Command, 0, len(targets))
	for _, id := range targets {
		cmds = append(cmds, fleet.Command{
			ID: nuid.Next(), Kind: fleet.KindRun, Agent: id, Issued: now, Expires: expires,
			Origin: m.o.Node, DecisionID: d.DecisionID,
			Name: d.Name, Executable: d.Executable, Timeout: fleet.Duration(timeout),
			ExtraArgs: d.ExtraArgs, Alert: d.Alert, Ladder: ladder,
		})
	}
	if i := slices.IndexFunc(cmds, func(c fleet.Command) bool { return c.Agent != fleet.ManagerID }); i >= 0 {
		// Every command of a dispatch has the same size but for the agent
		// id; an agent drops what exceeds fleet.MaxMessage. A command for
		// this host does not travel.
		if b, err := json.Marshal(cmds[i]); err != nil || len(b)+16 > fleet.MaxMessage {
			out := make(map[string]string, len(targets))
			for _, id := range targets {
				out[id] = TooLarge
			}
			return out
		}
	}
	var srcs []string
	if d.SrcIP.IsValid() {
		srcs = make([]string, len(cmds))
		for i := range srcs {
			srcs[i] = d.SrcIP.String()
		}
	}
	return m.issue(cmds, srcs)
}

// issue stores commands, publishes those of connected agents and hands
// those of 000 to Local. srcIPs, if not nil, holds the address of each
// command.
//
// The writes of the records are pipelined and go out before the commands
// (so the bucket sees them first; on a lone manager the write of a command
// sent to a connected agent is put off, see storeDefer), but nobody waits
// for the server's acknowledgements here: the commands are in memory,
// which is what sends them again and expires them, and a caller (an API
// request for a hundred agents) is answered at once. Writes the server
// refuses are tried again in the background, and one that never lands is
// recorded in the audit trail.
func (m *Manager) issue(cmds []fleet.Command, srcIPs []string) map[string]string {
	out := make(map[string]string, len(cmds))
	now := m.o.Now()
	var (
		local    []fleet.Command
		localSrc []string
		stored   []*cmdEntry
		send     []fleet.Command
		records  []Record
	)
	m.mu.Lock()
	for i, c := range cmds {
		var srcIP string
		if srcIPs != nil {
			srcIP = srcIPs[i]
		}
		if c.Agent == fleet.ManagerID {
			local = append(local, c)
			localSrc = append(localSrc, srcIP)
			continue
		}
		known, revoked, connected := m.agentState(c.Agent, now)
		if !known || revoked {
			out[c.Agent] = UnknownAgent
			if revoked {
				out[c.Agent] = RevokedAgent
			}
			records = append(records, Record{Kind: "undeliverable", Agent: c.Agent, CommandID: c.ID, Name: c.Name, Note: strings.TrimPrefix(out[c.Agent], NotDeliverable)})
			continue
		}
		e := &cmdEntry{rec: CommandRecord{Command: c, Status: CmdPending, SrcIP: srcIP, Node: m.o.Node}}
		out[c.Agent] = Queued
		m.cmdMap(c.Agent)[c.ID] = e
		if connected {
			e.rec.Sent, e.rec.Sends = now, 1
			m.sends++
			e.sentSeq = m.sends
			send = append(send, c)
			out[c.Agent] = Sent
		}
		if connected && m.o.Alone {
			m.deferred = append(m.deferred, e)
		} else {
			stored = append(stored, e)
		}
		records = append(records, Record{Kind: "command", Agent: c.Agent, CommandID: c.ID, Name: c.Name, Note: string(c.Kind) + " " + out[c.Agent]})
	}
	recs := recordsOf(stored)
	m.mu.Unlock()
	m.store(stored, recs, now)

	for i := range send {
		m.publish(&send[i])
	}
	for i, c := range local {
		out[c.Agent] = m.runLocal(c, localSrc[i])
		records = append(records, Record{Kind: "command", Agent: c.Agent, CommandID: c.ID, Name: c.Name, Note: string(c.Kind) + " " + out[c.Agent]})
	}
	for _, r := range records {
		if r.Kind == "command" {
			// The command's own record in the bucket is the durable
			// trace; the stream keeps what has no other.
			m.notify(r)
			continue
		}
		m.record(r)
	}
	return out
}

// store starts the first writes of the entries' records (recs, copied
// under m.mu) and confirms them in the background. Not under m.mu: a full
// window of asynchronous writes waits for acknowledgements, whose handler
// takes m.mu.
func (m *Manager) store(entries []*cmdEntry, recs []CommandRecord, now time.Time) {
	if len(entries) == 0 {
		return
	}
	futs, errs := m.putCommands(m.commandWrites(recs, now))
	select {
	case <-m.closed:
		// Closing: Close waits a moment for the writes itself.
	default:
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.confirmStored(entries, futs, errs, now)
		}()
	}
}

// storeDeferred writes the records whose deferred write is due (every
// one, with all set) and that no final status has written meanwhile. The
// queue is in the order of sending, so the due ones are its head.
func (m *Manager) storeDeferred(all bool) {
	now := m.o.Now()
	m.mu.Lock()
	n := 0
	var entries []*cmdEntry
	for _, e := range m.deferred {
		if !all && now.Sub(e.rec.Sent) < storeDefer {
			break
		}
		n++
		if statusRank(e.rec.Status) < 2 {
			// Not final yet: no final status has taken the place of the
			// deferred write.
			entries = append(entries, e)
		}
	}
	m.deferred = slices.Delete(m.deferred, 0, n)
	recs := recordsOf(entries)
	m.mu.Unlock()
	m.store(entries, recs, now)
}

// recordsOf copies the entries' records. Callers hold m.mu.
func recordsOf(entries []*cmdEntry) []CommandRecord {
	recs := make([]CommandRecord, len(entries))
	for i, e := range entries {
		recs[i] = e.rec
	}
	return recs
}

// cmdWrite is the write of one command's record.
type cmdWrite struct {
	key  string
	data []byte
	ttl  time.Duration
	err  error
}

// commandWrites encodes records.
func (m *Manager) commandWrites(recs []CommandRecord, now time.Time) []cmdWrite {
	ws := make([]cmdWrite, len(recs))
	for i := range recs {
		c := &recs[i].Command
		ws[i].key = cmdKey(c.Agent, c.ID)
		ws[i].ttl = c.Expires.Sub(now) + m.o.Retention
		ws[i].data, ws[i].err = json.Marshal(&recs[i])
	}
	return ws
}

// putCommands starts the first writes of records. A first write only
// creates the record: if a newer version (the command's final status)
// landed before it, that stands, and the write fails with a conflict.
func (m *Manager) putCommands(ws []cmdWrite) ([]jetstream.PubAckFuture, []error) {
	futs := make([]jetstream.PubAckFuture, len(ws))
	errs := make([]error, len(ws))
	for i, w := range ws {
		if errs[i] = w.err; w.err != nil {
			continue
		}
		futs[i], errs[i] = m.putAsync(fleet.BucketCommands, w.key, w.data, w.ttl, jetstream.WithExpectLastSequencePerSubject(0))
	}
	return futs, errs
}

// confirmStored waits for the writes of putCommands and writes again, a
// few times, the records the server refused: while a cluster elects a new
// leader for the bucket (a node died), writes fail for a moment. A record
// that never lands is noted in the audit trail; its command stays in
// memory and is delivered all the same.
func (m *Manager) confirmStored(entries []*cmdEntry, futs []jetstream.PubAckFuture, putErrs []error, now time.Time) {
	ctx := m.life
	wait := m.storeWait
	for attempt := 1; ; attempt++ {
		// A write the server has not acknowledged yet is queued, not
		// lost: wait for its answer (asyncTimeout bounds it), so that a
		// busy server is not handed the same writes again.
		_, ackErrs := waitAll(ctx, futs)
		var again []*cmdEntry
		var last error
		for i, e := range entries {
			if err := errors.Join(putErrs[i], ackErrs[i]); err != nil && !isConflict(ackErrs[i]) {
				again, last = append(again, e), err
			}
		}
		if len(again) == 0 || ctx.Err() != nil {
			// Done, or closing: Close waits a moment for the writes.
			return
		}
		if attempt == storeAttempts {
			m.storeErrors.Add(uint64(len(again)))
			for _, e := range again {
				c := e.rec.Command
				m.record(Record{Kind: "unstored", Agent: c.Agent, CommandID: c.ID, Name: c.Name, Note: "the command's record could not be stored: " + last.Error()})
			}
			return
		}
		m.log.Warn("command store failed; trying again", "commands", len(again), "wait", wait, "err", last)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		entries, wait = again, 2*wait
		m.mu.RLock()
		recs := recordsOf(entries)
		m.mu.RUnlock()
		futs, putErrs = m.putCommands(m.commandWrites(recs, now))
	}
}

// storeAttempts is how many times a command's record is written before it
// is recorded as unstored (100 ms to 3.2 s apart).
const storeAttempts = 7

// runLocal hands a command for 000 to Local.
func (m *Manager) runLocal(c fleet.Command, srcIP string) string {
	if m.o.Local == nil {
		return NoLocalExecutor
	}
	e := &cmdEntry{rec: CommandRecord{Command: c, Status: CmdAccepted, SrcIP: srcIP, Node: m.o.Node, Sent: m.o.Now(), Sends: 1, Acked: m.o.Now()}}
	// In memory before Local runs it: its result may come back at once.
	m.mu.Lock()
	m.cmdMap(c.Agent)[c.ID] = e
	m.mu.Unlock()
	if err := m.o.Local(c); err != nil {
		m.mu.Lock()
		e.rec.Status, e.rec.Outcome, e.rec.Note, e.rec.Finished = CmdFailed, "error", err.Error(), m.o.Now()
		m.mu.Unlock()
		return "failed: " + err.Error()
	}
	return Sent
}

// LocalResult takes the result of a run on the manager host (000). A
// manager alone on its store (Options.Alone) applies it at once; managers
// sharing a cluster pass it through the audit stream like an agent's, so
// that each of them applies it.
func (m *Manager) LocalResult(r fleet.Result) {
	if m.o.Alone {
		m.applyResult(fleet.ManagerID, r, 0)
		return
	}
	b, err := json.Marshal(r)
	if err == nil {
		_, err = m.js.PublishAsync(m.subj.Result(fleet.ManagerID), b)
	}
	if err != nil {
		m.storeErrors.Add(1)
		m.log.Warn("local result not stored", "command", r.CommandID, "err", err)
	}
}

func (m *Manager) cmdMap(agent string) map[string]*cmdEntry {
	mm := m.cmds[agent]
	if mm == nil {
		mm = make(map[string]*cmdEntry)
		m.cmds[agent] = mm
	}
	return mm
}

// publish sends a command to its agent (core NATS; the agent dedupes).
func (m *Manager) publish(c *fleet.Command) {
	b, err := json.Marshal(c)
	if err == nil {
		err = m.nc.Publish(m.subj.Command(c.Agent), b)
	}
	if err != nil {
		m.log.Warn("command not sent", "agent", c.Agent, "command", c.ID, "err", err)
	}
}

// resend publishes again the pending, still valid commands of agent that
// were last sent at least minAge ago and not after the send numbered upTo
// (on an agent's hello, those sent since it arrived need no resending),
// and returns how many.
func (m *Manager) resend(agent string, now time.Time, minAge time.Duration, upTo uint64) int {
	var send []fleet.Command
	m.mu.Lock()
	for _, e := range m.cmds[agent] {
		if e.rec.Status != CmdPending || !now.Before(e.rec.Command.Expires) || now.Sub(e.rec.Sent) < minAge || e.sentSeq > upTo {
			continue
		}
		e.rec.Sent, e.rec.Sends = now, e.rec.Sends+1
		m.sends++
		e.sentSeq = m.sends
		send = append(send, e.rec.Command)
	}
	m.mu.Unlock()
	slices.SortFunc(send, func(a, b fleet.Command) int { return a.Issued.Compare(b.Issued) })
	for i := range send {
		m.publish(&send[i])
	}
	return len(send)
}

// retry sends again the pending commands of connected agents.
func (m *Manager) retry() {
	now := m.o.Now()
	m.mu.RLock()
	var due []string
	for agent, cmds := range m.cmds {
		if len(cmds) == 0 || agent == fleet.ManagerID {
			continue
		}
		if _, _, connected := m.agentState(agent, now); connected {
			due = append(due, agent)
		}
	}
	m.mu.RUnlock()
	for _, agent := range due {
		m.resend(agent, now, m.o.RetryInterval, math.MaxUint64)
	}
}

// expire records pending commands past their expiry and forgets finished
// ones older than the retention.
func (m *Manager) expire(ctx context.Context) {
	now := m.o.Now()
	var expired []*cmdEntry
	// One agent at a time, so that in a fleet dispatches do not wait for
	// the whole scan.
	for _, agent := range m.cmdAgents() {
		m.mu.Lock()
		cmds := m.cmds[agent]
		for id, e := range cmds {
			switch {
			case e.rec.Status == CmdPending && !now.Before(e.rec.Command.Expires):
				expired = append(expired, e)
			case statusRank(e.rec.Status) == 2 && now.Sub(e.rec.Finished) > m.o.Retention:
				delete(cmds, id)
			case agent == fleet.ManagerID && e.rec.Status == CmdAccepted && now.Sub(e.rec.Command.Expires) > m.o.Retention:
				delete(cmds, id)
			}
		}
		if len(cmds) == 0 {
			delete(m.cmds, agent)
		}
		m.mu.Unlock()
	}
	m.finish(ctx, expired, CmdExpired, "expired", "expired before the agent acknowledged it")
}

// pendingOf returns the pending commands of agent.
func (m *Manager) pendingOf(agent string) []*cmdEntry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []*cmdEntry
	for _, e := range m.cmds[agent] {
		if e.rec.Status == CmdPending {
			out = append(out, e)
		}
	}
	return out
}

// finish moves pending commands to a final status and records each. The
// stored entry is replaced only if nobody changed it meanwhile (another
// manager may have seen the acknowledgement); only the manager that
// succeeds records it.
func (m *Manager) finish(ctx context.Context, entries []*cmdEntry, status, kind, note string) {
	if len(entries) == 0 {
		return
	}
	now := m.o.Now()
	type job struct {
		e        *cmdEntry
		rec      CommandRecord
		rev      uint64
		prevNote string
	}
	var jobs []job
	m.mu.Lock()
	for _, e := range entries {
		if e.rec.Status != CmdPending {
			continue
		}
		prev := e.rec.Note
		e.rec.Status, e.rec.Finished, e.rec.Note = status, now, note
		jobs = append(jobs, job{e, e.rec, e.rev, prev})
	}
	m.mu.Unlock()
	futs := make([]jetstream.PubAckFuture, len(jobs))
	for i, j := range jobs {
		b, err := json.Marshal(j.rec)
		if err != nil {
			continue
		}
		msg := newKVMsg(fleet.BucketCommands, cmdKey(j.rec.Command.Agent, j.rec.Command.ID), b)
		opts := []jetstream.PublishOpt{jetstream.WithStallWait(stallWait), jetstream.WithMsgTTL(m.o.Retention)}
		if j.rev != 0 {
			opts = append(opts, jetstream.WithExpectLastSequencePerSubject(j.rev))
		}
		futs[i], err = m.js.PublishMsgAsync(msg, opts...)
		if err != nil {
			m.storeErrors.Add(1)
		}
	}
	revs, errs := waitAll(ctx, futs)
	for i, j := range jobs {
		if isConflict(errs[i]) {
			// Another manager changed it first (it may have seen the
			// acknowledgement): back to pending until the watcher brings
			// the stored status, or the next attempt.
			m.mu.Lock()
			if j.e.rev == j.rev && j.e.rec.Status == status {
				j.e.rec.Status, j.e.rec.Finished, j.e.rec.Note = CmdPending, time.Time{}, j.prevNote
			}
			m.mu.Unlock()
			continue
		}
		m.mu.Lock()
		j.e.rev = max(j.e.rev, revs[i])
		m.mu.Unlock()
		m.record(Record{Kind: kind, Agent: j.rec.Command.Agent, CommandID: j.rec.Command.ID, Name: j.rec.Command.Name, Note: note})
		m.log.Info("command "+kind, "agent", j.rec.Command.Agent, "command", j.rec.Command.ID, "name", j.rec.Command.Name, "note", note)
	}
}

func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == 10164)
}

// Commands lists the pending and recent commands of agent (of every agent
// when empty), oldest first.
func (m *Manager) Commands(agent string) []CommandRecord {
	m.mu.RLock()
	var out []CommandRecord
	for id, cmds := range m.cmds {
		if agent != "" && id != agent {
			continue
		}
		for _, e := range cmds {
			out = append(out, e.rec)
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b CommandRecord) int {
		if c := a.Command.Issued.Compare(b.Command.Issued); c != 0 {
			return c
		}
		return strings.Compare(a.Command.ID, b.Command.ID)
	})
	return out
}

// applyCommand merges a command entry read from the bucket.
func (m *Manager) applyCommand(e jetstream.KeyValueEntry) {
	agent, id, ok := strings.Cut(e.Key(), ".")
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.cmds[agent][id]
	if isDelete(e) {
		if cur != nil && cur.rev != 0 && e.Revision() > cur.rev {
			delete(m.cmds[agent], id)
		}
		return
	}
	if cur != nil && cur.rev == 0 {
		// The first stored version of a command issued here: what is in
		// memory is at least as new.
		cur.rev = e.Revision()
		return
	}
	if cur != nil && e.Revision() <= cur.rev {
		return
	}
	var rec CommandRecord
	if !m.decode(e, &rec) || rec.Command.Agent != agent || rec.Command.ID != id {
		return
	}
	if cur == nil {
		// Issued by another manager (or before a restart): count it as
		// sent now, so the first retry waits a retry interval (a hello
		// gets it at once).
		rec.Sent = m.o.Now()
		m.cmdMap(agent)[id] = &cmdEntry{rec: rec, rev: e.Revision()}
		return
	}
	cur.rev = e.Revision()
	if statusRank(rec.Status) > statusRank(cur.rec.Status) {
		sent, sends := cur.rec.Sent, cur.rec.Sends
		cur.rec = rec
		cur.rec.Sent, cur.rec.Sends = sent, sends
	}
}

// handleResult processes an acknowledgement or a run result of agent.
func (m *Manager) handleResult(agent string, data []byte) {
	var r fleet.Result
	if !m.decodeMessage("result", agent, data, &r) {
		return
	}
	if agent != fleet.ManagerID {
		// Results of an agent revoked since are still its own (the broker
		// checked them when they were published).
		m.mu.RLock()
		known := m.agents[agent] != nil
		m.mu.RUnlock()
		if !known {
			m.drop("result", agent, "unknown agent", len(data))
			return
		}
	}
	m.applyResult(agent, r, len(data))
}

// applyResult counts and applies a result of agent (size bytes, for the
// log of one dropped).
func (m *Manager) applyResult(agent string, r fleet.Result, size int) {
	m.results.Add(1)
	switch r.Kind {
	case fleet.Ack:
		m.applyAck(agent, r)
	case fleet.Run:
		m.applyRun(agent, r)
	default:
		m.drop("result", agent, "unknown kind "+string(r.Kind), size)
	}
}

// applyAck moves an acknowledged command out of pending.
func (m *Manager) applyAck(agent string, r fleet.Result) {
	now := m.o.Now()
	var status string
	switch r.Outcome {
	case fleet.AckAccepted, fleet.AckDuplicate:
		status = CmdAccepted
	case fleet.AckExpired:
		status = CmdExpired
	default:
		status = CmdFailed
	}
	rec := Record{Time: r.Time, Kind: "ack", Agent: agent, CommandID: r.CommandID, Outcome: r.Outcome, Note: r.Note}
	m.mu.Lock()
	e := m.cmds[agent][r.CommandID]
	var (
		b      []byte
		extend func()
	)
	if e != nil {
		rec.Name = e.rec.Command.Name
		if e.rec.Acked.IsZero() {
			e.rec.Acked = now
		}
		if statusRank(status) > statusRank(e.rec.Status) {
			e.rec.Status, e.rec.Outcome, e.rec.Note = status, r.Outcome, r.Note
			if statusRank(status) == 2 {
				e.rec.Finished = now
			}
			if e.rec.Command.Kind == fleet.KindExtend && status == CmdAccepted {
				extend = m.extendActive(agent, e.rec.Command.Key, e.rec.Command.Until)
			}
			// An accepted command's result follows at once and writes
			// the record then; until then, after a restart, it is sent
			// again and the agent answers duplicate. Final statuses are
			// written now.
			if agent != fleet.ManagerID && (status != CmdAccepted || extend != nil) {
				b, _ = json.Marshal(e.rec)
			}
		}
	} else {
		rec.Note = strings.TrimSpace(rec.Note + " (command unknown here)")
	}
	m.mu.Unlock()
	if b != nil {
		m.fireAndForget(m.putAsync(fleet.BucketCommands, cmdKey(agent, r.CommandID), b, m.o.Retention))
	}
	if extend != nil {
		extend()
	}
	m.notify(rec)
}

// applyRun records a run's result and updates the central state.
func (m *Manager) applyRun(agent string, r fleet.Result) {
	now := m.o.Now()
	rec := Record{Time: r.Time, Kind: "result", Agent: agent, CommandID: r.CommandID, Name: r.Name, Outcome: r.Outcome, Note: strings.TrimSpace(r.Verb + " " + r.Note)}
	var (
		cmdBytes []byte
		srcIP    string
	)
	m.mu.Lock()
	if e := m.cmds[agent][r.CommandID]; e != nil && r.CommandID != "" {
		srcIP = e.rec.SrcIP
		status := CmdDone
		switch r.Outcome {
		case "ok", "aborted", "not-found":
		default:
			status = CmdFailed
		}
		if e.rec.Acked.IsZero() {
			// An agent leaves out the acceptance of a run whose result
			// it sends with it.
			e.rec.Acked = now
		}
		if statusRank(e.rec.Status) < 2 || e.rec.Status == CmdExpired {
			e.rec.Status, e.rec.Outcome, e.rec.Note, e.rec.Finished = status, r.Outcome, r.Note, now
			if agent != fleet.ManagerID {
				cmdBytes, _ = json.Marshal(e.rec)
			}
		}
	}
	write := m.applyRunState(agent, r, srcIP)
	m.mu.Unlock()
	if cmdBytes != nil {
		m.fireAndForget(m.putAsync(fleet.BucketCommands, cmdKey(agent, r.CommandID), cmdBytes, m.o.Retention))
	}
	if write != nil {
		write()
	}
	m.notify(rec)
}
