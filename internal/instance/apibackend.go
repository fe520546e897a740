package instance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/audit"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
	"github.com/riposte/riposte/internal/httpapi"
)

// bucketAllowlist keeps the white-list entries added through the API, so
// that every manager of a cluster and every restart sees them.
const bucketAllowlist = "riposte_allowlist"

// permanent is how far "make permanent" moves a deadline.
const permanent = 10 * 365 * 24 * time.Hour

// apiBackend is the instance as the HTTPS API sees it.
type apiBackend struct{ *Instance }

var _ httpapi.Backend = apiBackend{}

// ARNames are the names of Wazuh's ar.conf: for every <active-response>
// block its command and timeout ("firewall-drop600"), and for every
// command the stateless form ("firewall-drop0").
func (b apiBackend) ARNames() map[string]httpapi.ARCommand {
	out := make(map[string]httpapi.ARCommand)
	for _, c := range b.cfg.Commands {
		out[c.Name+"0"] = httpapi.ARCommand{Name: c.Name + "0", Command: c.Name, Executable: c.Executable}
	}
	for _, r := range b.cfg.Responses {
		out[r.ARName()] = httpapi.ARCommand{Name: r.ARName(), Command: r.Command, Executable: r.Cmd.Executable, Timeout: r.Timeout}
	}
	return out
}

// Send carries a command to agents for PUT /active-response.
func (b apiBackend) Send(ctx context.Context, agents []string, c httpapi.ARCommand, extraArgs []string, alertDoc json.RawMessage) map[string]string {
	if len(alertDoc) == 0 {
		alertDoc = json.RawMessage(`{}`)
	}
	// The address, for central repeat-offender counting.
	var src netip.Addr
	if s, err := alert.SourceIP(alertDoc); err == nil {
		if a, err := netip.ParseAddr(s); err == nil {
			src = a.Unmap()
		}
	}
	args := extraArgs
	if cmd := b.command(c.Command); cmd != nil {
		args = append(slices.Clone(cmd.ExtraArgs), extraArgs...)
	}
	delivery := b.mgr.Dispatch(manager.Dispatch{
		DecisionID: "api-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Name:       c.Command,
		Executable: c.Executable,
		Timeout:    c.Timeout,
		ExtraArgs:  args,
		Alert:      alertDoc,
		SrcIP:      src,
		Targets:    agents,
	})
	return delivery
}

// ARDisabled: Riposte's agents always accept active responses.
func (b apiBackend) ARDisabled(string) bool { return false }

// Active lists active responses, filtered and paged on the server. The
// sorted list is computed at most every 250 ms while things change, and
// reused until the next change otherwise, so that paging through 100,000
// responses does not sort them for every page.
func (b apiBackend) Active(q httpapi.ActiveQuery) ([]manager.Active, int) {
	all := b.activeSnapshot()
	limit := q.Limit
	if limit <= 0 {
		limit = 500
	}
	out := []manager.Active{}
	total := 0
	for i := range all {
		a := &all[i]
		if (q.Agent != "" && a.Agent != q.Agent) || (q.Command != "" && a.Name != q.Command) ||
			(q.IP.IsValid() && !activeIn(*a, q.IP)) || (q.Search != "" && !activeMentions(*a, q.Search)) {
			continue
		}
		if total >= q.Offset && len(out) < limit {
			out = append(out, *a)
		}
		total++
	}
	return out, total
}

// activeSnapshot returns every active response, soonest end first. The
// list is rebuilt after a change, at most every 250 ms. A short list is
// rebuilt by the request that finds it old; a long one (snapSyncMax
// entries or more, which takes tens of milliseconds) is rebuilt in the
// background while requests keep reading the previous list, and live views
// are woken when the new one is ready, so that paging stays fast while a
// large attack comes and goes.
func (in *Instance) activeSnapshot() []manager.Active {
	seq := in.mgr.ActiveVersion()
	s := in.snap.Load()
	switch {
	case s != nil && (s.seq == seq || time.Since(s.at) < snapInterval):
		return s.list
	case s != nil && len(s.list) >= in.snapSyncMax:
		in.rebuildLater()
		return s.list
	}
	in.snapMu.Lock()
	defer in.snapMu.Unlock()
	if s := in.snap.Load(); s != nil && s.seq == in.mgr.ActiveVersion() {
		return s.list // built meanwhile
	}
	return in.rebuildSnapshot().list
}

// snapInterval is the shortest time between two rebuilds of the list of
// active responses.
const snapInterval = 250 * time.Millisecond

// activeList is a sorted list of the active responses, as of version seq
// of the manager's (Manager.ActiveVersion).
type activeList struct {
	list []manager.Active
	seq  uint64
	at   time.Time
}

// rebuildSnapshot builds the list anew. Callers hold snapMu.
func (in *Instance) rebuildSnapshot() *activeList {
	seq := in.mgr.ActiveVersion()
	s := &activeList{
		list: in.mgr.ActiveBy(manager.Filter{}, func(a *manager.Active) time.Time { return a.Until }),
		seq:  seq,
		at:   time.Now(),
	}
	in.snap.Store(s)
	return s
}

// rebuildLater rebuilds the list in the background (callers found it at
// least snapInterval old), unless a rebuild is already on its way; then it
// wakes the live views, which read the list again.
func (in *Instance) rebuildLater() {
	if !in.snapBusy.CompareAndSwap(false, true) {
		return
	}
	go func() {
		in.snapMu.Lock()
		in.rebuildSnapshot()
		in.snapMu.Unlock()
		in.snapBusy.Store(false)
		in.notify()
	}()
}

// activeIn reports whether a response acts on an address inside p.
func activeIn(a manager.Active, p netip.Prefix) bool {
	for _, s := range append([]string{a.SrcIP}, a.Keys...) {
		if ip, err := netip.ParseAddr(s); err == nil && p.Contains(ip.Unmap()) {
			return true
		}
		if pp, err := netip.ParsePrefix(s); err == nil && p.Overlaps(pp) {
			return true
		}
	}
	return false
}

func activeMentions(a manager.Active, s string) bool {
	if strings.Contains(a.ID, s) || strings.Contains(a.Agent, s) || strings.Contains(a.Name, s) || strings.Contains(a.SrcIP, s) {
		return true
	}
	for _, k := range a.Keys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// Extend moves deadlines; a zero until makes the responses permanent (ten
// years).
func (b apiBackend) Extend(ctx context.Context, id string, ip netip.Addr, until time.Time) ([]manager.Active, error) {
	if until.IsZero() {
		until = time.Now().Add(permanent)
	}
	return b.Instance.Extend(ctx, id, ip, until)
}

// Audit queries the trail.
func (b apiBackend) Audit(_ context.Context, q httpapi.AuditQuery) ([]httpapi.AuditRecord, int, error) {
	items, total := b.trail.Query(q)
	return items, total, nil
}

// Record appends a change made through the API.
func (b apiBackend) Record(_ context.Context, r httpapi.AuditRecord) { b.audit(r) }

// Config is the effective configuration.
func (b apiBackend) Config() []byte { return b.cfg.Format() }

// Allowlist lists the configuration's white list and the entries added at
// run time.
func (b apiBackend) Allowlist() []httpapi.AllowEntry {
	var out []httpapi.AllowEntry
	for _, e := range b.cfg.Global.WhiteList {
		out = append(out, httpapi.AllowEntry{Entry: e.Raw, Source: fmt.Sprintf("config %s:%d", e.File, e.Line)})
	}
	b.allowMu.Lock()
	defer b.allowMu.Unlock()
	for _, e := range b.allowed {
		out = append(out, e)
	}
	slices.SortStableFunc(out[len(b.cfg.Global.WhiteList):], func(x, y httpapi.AllowEntry) int { return x.Added.Compare(y.Added) })
	return out
}

// Allow adds an address or CIDR block to the white list, persists it and
// lifts the active responses it covers.
func (b apiBackend) Allow(ctx context.Context, entry, comment string) ([]manager.Active, error) {
	p, err := parseAllowEntry(entry)
	if err != nil {
		return nil, err
	}
	who := "api"
	if u, ok := httpapi.UserFrom(ctx); ok {
		who = u.Name
	}
	e := httpapi.AllowEntry{Entry: p.String(), Source: "api", Comment: comment, AddedBy: who, Added: time.Now().UTC()}
	if err := b.storeAllow(ctx, e); err != nil {
		return nil, err
	}
	b.addAllow(e)
	var lifted []manager.Active
	for _, a := range b.mgr.Active(manager.Filter{}) {
		if !activeIn(a, p) {
			continue
		}
		done, err := b.mgr.Undo(a.ID, netip.Addr{})
		if err != nil && !errors.Is(err, manager.ErrNotFound) {
			return lifted, fmt.Errorf("lifting %s on agent %s: %w", a.ID, a.Agent, err)
		}
		lifted = append(lifted, done...)
	}
	b.log.Info("white list entry added", "entry", e.Entry, "by", who, "lifted", len(lifted))
	return lifted, nil
}

// Disallow removes an entry added at run time.
func (b apiBackend) Disallow(ctx context.Context, entry string) error {
	p, err := parseAllowEntry(entry)
	if err != nil {
		return err
	}
	b.allowMu.Lock()
	_, ok := b.allowed[p.String()]
	b.allowMu.Unlock()
	if !ok {
		return fmt.Errorf("%s was not added through the API (entries of the configuration are changed there): %w", p, api.ErrNotFound)
	}
	if b.allowKV != nil {
		if err := b.allowKV.Delete(ctx, allowKey(p)); err != nil {
			return fmt.Errorf("white list store: %w", err)
		}
	}
	b.allowMu.Lock()
	delete(b.allowed, p.String())
	b.allowMu.Unlock()
	b.engine.Allowlist().Remove(p)
	b.notify()
	return nil
}

// parseAllowEntry reads an address or CIDR block (host names belong in the
// configuration, where they are resolved again and again).
func parseAllowEntry(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return netip.PrefixFrom(p.Addr().Unmap(), min(p.Bits(), p.Addr().Unmap().BitLen())).Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap().WithZone("")
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("white list entry %q is not an address or CIDR block: %w", s, api.ErrBadRequest)
}

func allowKey(p netip.Prefix) string {
	r := strings.NewReplacer(".", "_", ":", "-", "/", "=")
	return r.Replace(p.String())
}

func (in *Instance) addAllow(e httpapi.AllowEntry) {
	p, err := parseAllowEntry(e.Entry)
	if err != nil {
		return
	}
	in.allowMu.Lock()
	if in.allowed == nil {
		in.allowed = make(map[string]httpapi.AllowEntry)
	}
	in.allowed[p.String()] = e
	in.allowMu.Unlock()
	in.engine.Allowlist().Add(p, "api: "+p.String())
	in.notify()
}

// storeAllow persists an entry added through the API.
func (in *Instance) storeAllow(ctx context.Context, e httpapi.AllowEntry) error {
	if in.allowKV == nil {
		return nil
	}
	p, _ := parseAllowEntry(e.Entry)
	b, _ := json.Marshal(e)
	if _, err := in.allowKV.Put(ctx, allowKey(p), b); err != nil {
		return fmt.Errorf("white list store: %w", err)
	}
	return nil
}

// loadAllowlist opens the bucket of API-added white-list entries and puts
// them on the list.
func (in *Instance) loadAllowlist(ctx context.Context) error {
	js, err := jetstream.New(in.nc)
	if err != nil {
		return err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucketAllowlist, Replicas: in.cfg.Riposte.Fleet.Replicas, History: 1})
	if err != nil {
		return fmt.Errorf("white list store: %w", err)
	}
	in.allowKV = kv
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("white list store: %w", err)
	}
	for k := range keys.Keys() {
		ent, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var e httpapi.AllowEntry
		if json.Unmarshal(ent.Value(), &e) == nil {
			in.addAllow(e)
		}
	}
	return nil
}

// audit appends a record to the trail and the durable stream.
func (in *Instance) audit(r audit.Record) {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	in.trail.Add(r)
	in.keep(r)
	in.notify()
}

// keep queues r for the audit stream.
func (in *Instance) keep(r audit.Record) {
	if in.js == nil {
		return
	}
	select {
	case in.auditq <- r:
	default:
		in.publishAudit(r) // the writer is far behind
	}
}

// auditWriter publishes the audit records to the durable stream, away from
// the path of decisions, until ctx ends. It takes what is queued at once,
// up to auditBatch records, so that a burst of decisions costs a few
// messages instead of one each.
func (in *Instance) auditWriter(ctx context.Context) error {
	batch := make([]audit.Record, 0, auditBatch)
	add := func(r audit.Record) bool {
		batch = append(batch, r)
		return len(batch) < auditBatch
	}
	publish := func() {
		in.publishAudit(batch...)
		clear(batch)
		batch = batch[:0]
	}
	for {
		select {
		case r := <-in.auditq:
			if add(r) {
				takeQueued(in.auditq, add)
			}
			publish()
		case <-ctx.Done():
			for {
				takeQueued(in.auditq, add)
				if len(batch) == 0 {
					return nil
				}
				publish()
			}
		}
	}
}

// auditQueue is how many audit records wait for the writer at most; past
// that, the caller publishes its record itself.
const auditQueue = 8192

// Limits of one batch of audit records: how many records the writer takes
// at once, and the size of one message (unless a single record is larger).
const (
	auditBatch    = 512
	auditMsgBytes = 64 << 10
)

// publishAudit publishes records to the audit stream. Records of one kind
// that follow each other share a message on that kind's subject, one JSON
// document per line (JSON has no raw line breaks); a message of one record
// is that record's document.
func (in *Instance) publishAudit(records ...audit.Record) {
	var (
		buf  []byte
		kind string
	)
	send := func() {
		if len(buf) > 0 {
			_, _ = in.js.PublishAsync(in.subjects.Audit(kind), buf)
			buf = nil // the pending publish keeps it
		}
	}
	for _, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			continue
		}
		if len(buf) > 0 && (r.Kind != kind || len(buf)+1+len(b) > auditMsgBytes) {
			send()
		}
		kind = r.Kind
		if len(buf) > 0 {
			buf = append(buf, '\n')
		}
		buf = append(buf, b...)
	}
	send()
}

// onRecord takes the manager's records into the trail.
func (in *Instance) onRecord(r manager.Record) {
	if r.Kind == "result" && r.Agent != fleet.ManagerID {
		in.metrics.Run(r.Agent, r.Name, "", r.Outcome, 0, 0)
	}
	rec := audit.Record{Time: r.Time, Kind: r.Kind, Agent: r.Agent, Command: r.Name, CommandID: r.CommandID, Outcome: r.Outcome, Note: r.Note}
	in.trail.Add(rec)
	if r.Kind == "result" && r.Agent == fleet.ManagerID && in.alone() {
		// A lone manager applies this host's results without passing
		// them through the stream (manager.LocalResult): their record
		// goes there instead, with the other audit records.
		in.keep(rec)
	}
	in.notify()
}

// loadTrail rebuilds the trail from the audit stream: the last records
// of the past day.
func (in *Instance) loadTrail(ctx context.Context) {
	if in.js == nil {
		return
	}
	since := time.Now().Add(-24 * time.Hour)
	cons, err := in.js.OrderedConsumer(ctx, fleet.StreamAudit, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{in.subjects.AllAudit()},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	})
	if err != nil {
		in.log.Warn("audit trail not reloaded", "err", err)
		return
	}
	info, err := cons.Info(ctx)
	if err != nil || info.NumPending == 0 {
		return
	}
	left := info.NumPending
	for left > 0 {
		batch, err := cons.Fetch(int(min(left, 1000)), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			break
		}
		n := 0
		for m := range batch.Messages() {
			n++
			for doc := range bytes.SplitSeq(m.Data(), []byte{'\n'}) {
				var r struct {
					audit.Record
					Name string `json:"name"`
				}
				if json.Unmarshal(doc, &r) == nil {
					if r.Command == "" {
						r.Command = r.Name
					}
					in.trail.Add(r.Record)
				}
			}
		}
		if n == 0 {
			break
		}
		left -= uint64(n)
	}
	in.log.Info("audit trail reloaded", "records", in.trail.Len())
}

// changes wakes live views (server-sent events) when something changed.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

// Changes returns a channel closed at the next change.
func (in *Instance) Changes() <-chan struct{} {
	in.chg.mu.Lock()
	defer in.chg.mu.Unlock()
	if in.chg.ch == nil {
		in.chg.ch = make(chan struct{})
	}
	return in.chg.ch
}

// notify wakes the live views: it closes the channel of the current
// waiters.
func (in *Instance) notify() {
	in.chg.mu.Lock()
	if in.chg.ch != nil {
		close(in.chg.ch)
		in.chg.ch = nil
	}
	in.chg.mu.Unlock()
}
