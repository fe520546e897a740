package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte/riposte/internal/fleet"
)

// Writes to the buckets go straight to their stream subjects with
// asynchronous publishes, so that thousands of them are pipelined and
// their acknowledgements awaited once (see waitAll). The headers are those
// of the key-value protocol.
const (
	hdrKVOp     = "KV-Operation"
	hdrRollup   = "Nats-Rollup"
	kvOpPurge   = "PURGE"
	rollupSubj  = "sub"
	minTTL      = time.Second
	stallWait   = 5 * time.Second
	kvSubjectFm = "$KV.%s.%s"
)

// putAsync writes value under key. A ttl above zero makes the server
// remove the entry after it.
func (m *Manager) putAsync(bucket, key string, value []byte, ttl time.Duration, extra ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	msg := &nats.Msg{Subject: fmt.Sprintf(kvSubjectFm, bucket, key), Data: value}
	opts := append([]jetstream.PublishOpt{jetstream.WithStallWait(stallWait)}, extra...)
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(max(ttl, minTTL)))
	}
	return m.js.PublishMsgAsync(msg, opts...)
}

// purgeAsync removes key; its marker expires after markerTTL.
func (m *Manager) purgeAsync(bucket, key string) (jetstream.PubAckFuture, error) {
	msg := nats.NewMsg(fmt.Sprintf(kvSubjectFm, bucket, key))
	msg.Header.Set(hdrKVOp, kvOpPurge)
	msg.Header.Set(hdrRollup, rollupSubj)
	return m.js.PublishMsgAsync(msg, jetstream.WithStallWait(stallWait), jetstream.WithMsgTTL(markerTTL))
}

// A manager alone on its store (Options.Alone) puts off its writes of its
// own host's active list and of the offense counts until a burst is over:
// during an attack from thousands of addresses the blocks go in first, and
// the bookkeeping follows. Memory is up to date at once; only the store
// lags, by about lazyMax at most (the flushes run on the manager's ticks),
// and nobody else reads it meanwhile. A crash loses what waits: the active
// list of this host is rebuilt from execd's timers (Reconcile); the offense
// counts of the last moments are lost, and those addresses start their
// ladder again. The writes are keyed: a later write of a key replaces one
// still waiting. Managers of a cluster write at once, so that the others
// follow.
type lazyWrites struct {
	mu      sync.Mutex
	pending map[lazyKey]lazyWrite
	oldest  time.Time // when the oldest waiting write was put off
	busy    bool      // a write was put off since the last flush
	closed  bool      // the manager is closing: nothing is put off

	// flushing is held while waiting writes are published, and by the
	// writes made at once after Close, so that the writes of a key reach
	// the store in the order they were made.
	flushing sync.Mutex
}

type lazyKey struct{ bucket, key string }

type lazyWrite struct {
	value []byte // nil: a purge
	ttl   time.Duration
}

// Bounds of lazyWrites: the longest a write waits, and the most writes
// that wait.
const (
	lazyMax  = 2 * time.Second
	lazyMost = 100_000
)

// putLater writes value under key, at once or put off (see lazyWrites).
func (m *Manager) putLater(bucket, key string, value []byte, ttl time.Duration) {
	m.writeLater(lazyKey{bucket, key}, lazyWrite{value: value, ttl: ttl})
}

// purgeLater removes key, at once or put off (see lazyWrites).
func (m *Manager) purgeLater(bucket, key string) {
	m.writeLater(lazyKey{bucket, key}, lazyWrite{})
}

func (m *Manager) writeLater(k lazyKey, w lazyWrite) {
	switch {
	case !m.o.Alone:
		m.write(k, w)
	case !m.later(k, w):
		m.lazy.flushing.Lock()
		m.write(k, w)
		m.lazy.flushing.Unlock()
	}
}

// write makes w at once.
func (m *Manager) write(k lazyKey, w lazyWrite) {
	if w.value == nil {
		m.fireAndForget(m.purgeAsync(k.bucket, k.key))
	} else {
		m.fireAndForget(m.putAsync(k.bucket, k.key, w.value, w.ttl))
	}
}

// later puts w off, unless the manager is closing (then the caller
// writes at once).
func (m *Manager) later(k lazyKey, w lazyWrite) bool {
	l := &m.lazy
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	if len(l.pending) == 0 {
		l.oldest = m.o.Now()
	}
	if l.pending == nil {
		l.pending = make(map[lazyKey]lazyWrite)
	}
	l.pending[k] = w
	l.busy = true
	full := len(l.pending) >= lazyMost
	l.mu.Unlock()
	if full {
		// Not here: the caller is on the path of a block.
		m.behind(m.flushLazy)
	}
	return true
}

// writePutOff makes the writes a lone manager puts off that are due: the
// first writes of command records (storeDeferred) and lazyWrites. With
// closing set (Close) it makes them all, and later ones at once.
func (m *Manager) writePutOff(closing bool) {
	m.storeDeferred(closing)
	m.writeLazy(closing)
}

// flushLazy writes the waiting writes when no write was put off since the
// previous call (the burst is over), when the oldest has waited lazyMax or
// when lazyMost wait.
func (m *Manager) flushLazy() { m.writeLazy(false) }

func (m *Manager) writeLazy(closing bool) {
	l := &m.lazy
	l.flushing.Lock()
	defer l.flushing.Unlock()
	l.mu.Lock()
	if closing {
		l.closed = true
	}
	if len(l.pending) == 0 {
		l.mu.Unlock()
		return
	}
	if !closing && l.busy && m.o.Now().Sub(l.oldest) < lazyMax && len(l.pending) < lazyMost {
		l.busy = false
		l.mu.Unlock()
		return
	}
	pending := l.pending
	l.pending = nil
	l.busy = false
	l.mu.Unlock()
	for k, w := range pending {
		m.write(k, w)
	}
}

// fireAndForget notes the error of an asynchronous write that nobody waits
// for (its acknowledgement error goes to the error handler of New).
// behind runs a write on the manager's writer goroutine, so that the
// caller (a dispatch in an attack from thousands of addresses) does not
// wait for the connection; when the writer is far behind, it runs here.
func (m *Manager) behind(write func()) {
	select {
	case m.writes <- write:
	default:
		write()
	}
}

// writer runs the writes queued by behind until the manager closes, then
// the ones still queued.
func (m *Manager) writer() {
	defer m.wg.Done()
	for {
		select {
		case w := <-m.writes:
			w()
		case <-m.closed:
			for {
				select {
				case w := <-m.writes:
					w()
				default:
					return
				}
			}
		}
	}
}

func (m *Manager) fireAndForget(_ jetstream.PubAckFuture, err error) {
	if err != nil {
		m.storeErrors.Add(1)
		m.log.Warn("store failed", "err", err)
	}
}

// waitAll waits for every future and returns, per index, the stored
// revision or the error.
func waitAll(ctx context.Context, futs []jetstream.PubAckFuture) ([]uint64, []error) {
	revs := make([]uint64, len(futs))
	errs := make([]error, len(futs))
	for i, f := range futs {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			revs[i] = ack.Sequence
		case err := <-f.Err():
			errs[i] = err
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	return revs, errs
}

// load reads the buckets through watchers that keep following them (unless
// the manager is alone), so changes made by other managers reach memory.
func (m *Manager) load(ctx context.Context) error {
	for _, b := range []struct {
		kv    jetstream.KeyValue
		apply func(jetstream.KeyValueEntry)
	}{
		{m.kvAgents, m.applyAgent},
		{m.kvCommands, m.applyCommand},
		{m.kvActive, m.applyActive},
		{m.kvOffenders, m.applyOffender},
	} {
		w, err := b.kv.WatchAll(context.Background())
		if err != nil {
			return fmt.Errorf("manager: watch %s: %w", b.kv.Bucket(), err)
		}
		m.watchers = append(m.watchers, w)
	initial:
		for {
			select {
			case e, ok := <-w.Updates():
				if !ok {
					return fmt.Errorf("manager: watch %s: stopped", b.kv.Bucket())
				}
				if e == nil {
					break initial
				}
				b.apply(e)
			case <-ctx.Done():
				return fmt.Errorf("manager: load %s: %w", b.kv.Bucket(), ctx.Err())
			}
		}
		if m.o.Alone {
			if err := w.Stop(); err != nil {
				m.log.Debug("stop following", "bucket", b.kv.Bucket(), "err", err)
			}
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			for {
				select {
				case e, ok := <-w.Updates():
					if !ok {
						return
					}
					if e != nil {
						b.apply(e)
					}
				case <-m.closed:
					return
				}
			}
		}()
	}
	return nil
}

func isDelete(e jetstream.KeyValueEntry) bool {
	return e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge
}

// decode unmarshals a bucket entry, logging what it cannot read.
func (m *Manager) decode(e jetstream.KeyValueEntry, v any) bool {
	if err := json.Unmarshal(e.Value(), v); err != nil {
		m.log.Warn("unreadable bucket entry", "bucket", e.Bucket(), "key", e.Key(), "err", err)
		return false
	}
	return true
}

// noteRevision records the revision of this manager's own write, so that
// the watcher does not decode it again and compare-and-set writes use it.
func (m *Manager) noteRevision(msg *nats.Msg, rev uint64) {
	rest, ok := strings.CutPrefix(msg.Subject, "$KV.")
	if !ok || msg.Header.Get(hdrKVOp) != "" {
		return
	}
	bucket, key, _ := strings.Cut(rest, ".")
	m.mu.Lock()
	defer m.mu.Unlock()
	switch bucket {
	case fleet.BucketAgents:
		if e := m.agents[key]; e != nil {
			e.rev = max(e.rev, rev)
		}
	case fleet.BucketCommands:
		agent, id, _ := strings.Cut(key, ".")
		if e := m.cmds[agent][id]; e != nil {
			e.rev = max(e.rev, rev)
		}
	case fleet.BucketActive:
		if e := m.active[key]; e != nil {
			e.rev = max(e.rev, rev)
		}
	}
}

// newKVMsg is a put of value under key in bucket.
func newKVMsg(bucket, key string, value []byte) *nats.Msg {
	return &nats.Msg{Subject: fmt.Sprintf(kvSubjectFm, bucket, key), Data: value, Header: nats.Header{}}
}
