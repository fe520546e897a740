package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte/riposte/internal/fleet"
)

// Defaults of Options.
const (
	DefaultCommandTTL      = 10 * time.Minute
	DefaultDisconnectAfter = 30 * time.Second
	DefaultRetryInterval   = 5 * time.Second
	DefaultRetention       = time.Hour
	DefaultOffenderCap     = 24 * time.Hour
	DefaultOffenderDecay   = 24 * time.Hour
)

// Limits of the audit stream.
const (
	auditMaxAge   = 7 * 24 * time.Hour
	auditMaxBytes = 1 << 30
)

const (
	// activeGrace is how long an active response may stay past its Until
	// before a sweep drops it (its agent was offline when it deleted it).
	activeGrace = time.Minute
	// persistEvery bounds how often a heartbeat that changes nothing but
	// times is written to the registry bucket.
	persistEvery = time.Minute
	// markerTTL is how long delete markers stay in the buckets.
	markerTTL = time.Hour
	// closeWait bounds how long Close waits for asynchronous writes.
	closeWait = 2 * time.Second
	// kvTimeout bounds synchronous key-value operations without a context.
	kvTimeout = 10 * time.Second
	// asyncTimeout bounds the wait for the acknowledgement of an
	// asynchronous write.
	asyncTimeout = 30 * time.Second
)

// Errors callers may test with errors.Is.
var (
	ErrUnknownAgent  = errors.New("unknown agent")
	ErrRevoked       = errors.New("agent revoked")
	ErrFingerprint   = errors.New("certificate fingerprint does not match")
	ErrDuplicateName = errors.New("an agent with this name is already enrolled")
	ErrNotFound      = errors.New("no matching active response")
)

// OffenderPolicy configures central repeat-offender counting.
type OffenderPolicy struct {
	// Enabled makes Dispatch lengthen the timeout of repeat offenders
	// itself (and send no ladder to the agent).
	Enabled bool
	// Cap is the longest timeout given (default 24h).
	Cap time.Duration
	// Decay resets an address's count after this long without an offense
	// (default 24h).
	Decay time.Duration
}

// Options configure a Manager.
type Options struct {
	// Conn is a privileged connection (JetStream and every fleet subject).
	Conn *nats.Conn
	// Subjects names the fleet subjects.
	Subjects fleet.Subjects
	// Node is this manager's name: the origin of its commands and the name
	// of its durable result consumer. Default "manager".
	Node string
	// Replicas of the buckets and the audit stream: 1 on an embedded
	// server, 3 on a cluster. Default 1.
	Replicas int
	// Alone says no other manager shares the store (an embedded server):
	// the buckets are read at start and not followed afterwards, since
	// every change is this manager's own, already in memory.
	Alone bool
	// Local carries out commands for agent 000 (the manager host). Nil
	// means the manager runs nothing itself. Results of those runs come
	// back through LocalResult.
	Local func(cmd fleet.Command) error
	// OnRevoke is called after an agent is revoked, so the broker drops
	// its connections. Optional.
	OnRevoke func(id string)
	// CommandTTL is the validity of stateless runs, undos and extends
	// (default 10m); a stateful run is valid until Issued+Timeout.
	CommandTTL time.Duration
	// Retention is how long finished commands stay listed by Commands
	// (default 1h).
	Retention time.Duration
	// DisconnectAfter is how long without a heartbeat before an agent is
	// shown disconnected (default 30s).
	DisconnectAfter time.Duration
	// RetryInterval is how often pending commands of connected agents are
	// sent again (default 5s).
	RetryInterval time.Duration
	// AllIncludesManager makes Dispatch to all agents also run on 000.
	AllIncludesManager bool
	// Offenders configures central repeat-offender counting.
	Offenders OffenderPolicy
	// OnEvents receives the log lines agents publish. Optional.
	OnEvents func(agent fleet.Agent, ev fleet.Events)
	// OnRecord receives every audit record. Optional. It is called with
	// the manager's lock released but must not block for long. Records of
	// kind ack and result describe an agent's message that is itself in
	// the audit stream; the others are published there on
	// Subjects.Audit(kind).
	OnRecord func(Record)
	// Logger receives the manager's logs; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Record is one audit record: a command issued, acknowledged, answered,
// expired or undeliverable, an agent registered or revoked.
type Record struct {
	Time time.Time `json:"time"`
	// Kind is command, ack, result, expired, undeliverable, unstored (a
	// command sent whose record could not be written), registered or
	// revoked.
	Kind      string `json:"kind"`
	Agent     string `json:"agent,omitempty"`
	CommandID string `json:"command_id,omitempty"`
	Name      string `json:"name,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
	Note      string `json:"note,omitempty"`
	// Node is the manager that made the record.
	Node string `json:"node,omitempty"`
}

// Stats counts what the manager received.
type Stats struct {
	Results, Heartbeats, Events uint64
	// Dropped counts messages dropped as oversized, unparsable or from an
	// unknown or revoked agent.
	Dropped uint64
	// StoreErrors counts failed asynchronous writes to the buckets.
	StoreErrors uint64
}

// Manager is the manager side of the fleet. Its methods are safe for
// concurrent use.
type Manager struct {
	o    Options
	log  *slog.Logger
	nc   *nats.Conn
	js   jetstream.JetStream
	subj fleet.Subjects

	kvAgents, kvCommands, kvActive, kvOffenders jetstream.KeyValue
	consumer                                    jetstream.Consumer

	mu        sync.RWMutex
	agents    map[string]*agentEntry
	cmds      map[string]map[string]*cmdEntry // agent → command id → entry
	active    map[string]*activeEntry         // Active.ID → entry
	activeVer atomic.Uint64                   // counts changes to active
	deferred  []*cmdEntry                     // first writes of records put off, in the order sent (see storeDefer)
	lazy      lazyWrites                      // writes of a lone manager put off until a burst is over
	offenders map[string]Offender             // the counts, following the offenders bucket
	maxID     int                             // highest agent id known

	// sends numbers the publications of commands (under mu).
	sends uint64

	watchers []jetstream.KeyWatcher
	writes   chan func() // writes queued by behind
	// storeWait is the first pause before a command's record is written
	// again.
	storeWait time.Duration
	wg        sync.WaitGroup
	closed    chan struct{}
	// life ends when the manager closes (endLife), for the waits of
	// background work.
	life    context.Context
	endLife context.CancelFunc
	once    sync.Once
	kick    chan struct{} // asks Run for an early maintenance pass
	ready   chan struct{} // closed once Run has subscribed
	running atomic.Bool

	results, heartbeats, events, dropped, storeErrors atomic.Uint64
}

// New opens (creating when missing) the buckets and the audit stream,
// loads the registry, pending commands and active responses, and starts
// following changes other managers make. Call Run to serve agents and
// Close to release it.
func New(ctx context.Context, o Options) (*Manager, error) {
	if o.Conn == nil {
		return nil, errors.New("manager: no NATS connection")
	}
	if o.Node == "" {
		o.Node = "manager"
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.CommandTTL <= 0 {
		o.CommandTTL = DefaultCommandTTL
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.DisconnectAfter <= 0 {
		o.DisconnectAfter = DefaultDisconnectAfter
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = DefaultRetryInterval
	}
	if o.Offenders.Cap <= 0 {
		o.Offenders.Cap = DefaultOffenderCap
	}
	if o.Offenders.Decay <= 0 {
		o.Offenders.Decay = DefaultOffenderDecay
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Manager{
		o:         o,
		log:       o.Logger.With("component", "fleet-manager"),
		nc:        o.Conn,
		subj:      o.Subjects,
		agents:    make(map[string]*agentEntry),
		cmds:      make(map[string]map[string]*cmdEntry),
		active:    make(map[string]*activeEntry),
		offenders: make(map[string]Offender),
		closed:    make(chan struct{}),
		kick:      make(chan struct{}, 1),
		writes:    make(chan func(), 1<<16),
		storeWait: 100 * time.Millisecond,
		ready:     make(chan struct{}),
	}
	m.life, m.endLife = context.WithCancel(context.Background())
	js, err := jetstream.New(o.Conn,
		jetstream.WithPublishAsyncMaxPending(1<<16),
		jetstream.WithPublishAsyncTimeout(asyncTimeout),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, msg *nats.Msg, ack *jetstream.PubAck) {
			m.noteRevision(msg, ack.Sequence)
		}),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, msg *nats.Msg, err error) {
			if isConflict(err) {
				// A compare-and-set lost to another writer. For a
				// registry entry, the next heartbeat writes it again.
				m.log.Debug("store conflict", "subject", msg.Subject)
				if id, ok := strings.CutPrefix(msg.Subject, "$KV."+fleet.BucketAgents+"."); ok {
					m.mu.Lock()
					if e := m.agents[id]; e != nil {
						e.persisted = time.Time{}
					}
					m.mu.Unlock()
				}
				return
			}
			m.storeErrors.Add(1)
			m.log.Warn("asynchronous store failed", "subject", msg.Subject, "err", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("manager: jetstream: %w", err)
	}
	m.js = js
	if err := m.open(ctx); err != nil {
		return nil, err
	}
	if err := m.load(ctx); err != nil {
		m.Close()
		return nil, err
	}
	m.wg.Add(1)
	go m.writer()
	return m, nil
}

func (m *Manager) open(ctx context.Context) error {
	var err error
	bucket := func(name, desc string, ttlMarkers bool) jetstream.KeyValue {
		if err != nil {
			return nil
		}
		cfg := jetstream.KeyValueConfig{
			Bucket:      name,
			Description: desc,
			Storage:     jetstream.FileStorage,
			Replicas:    m.o.Replicas,
		}
		if ttlMarkers {
			cfg.LimitMarkerTTL = markerTTL
		}
		var kv jetstream.KeyValue
		kv, err = m.js.CreateOrUpdateKeyValue(ctx, cfg)
		if err != nil {
			err = fmt.Errorf("manager: bucket %s: %w", name, err)
		}
		return kv
	}
	m.kvAgents = bucket(fleet.BucketAgents, "Riposte agent registry", false)
	m.kvCommands = bucket(fleet.BucketCommands, "Riposte pending and recent commands", true)
	m.kvActive = bucket(fleet.BucketActive, "Riposte active responses", true)
	m.kvOffenders = bucket(fleet.BucketOffenders, "Riposte repeat offenders", false)
	if err != nil {
		return err
	}
	_, err = m.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        fleet.StreamAudit,
		Description: "Riposte results and audit records",
		Subjects:    []string{m.subj.AllResults(), m.subj.AllAudit()},
		Storage:     jetstream.FileStorage,
		Replicas:    m.o.Replicas,
		MaxAge:      auditMaxAge,
		MaxBytes:    auditMaxBytes,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("manager: stream %s: %w", fleet.StreamAudit, err)
	}
	// The durable consumer is created here, not in Run, so that results
	// published from now on are kept for this manager even before Run.
	name := "manager_" + tokenSafe(m.o.Node)
	m.consumer, err = m.js.Consumer(ctx, fleet.StreamAudit, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		m.consumer, err = m.js.CreateConsumer(ctx, fleet.StreamAudit, jetstream.ConsumerConfig{
			Durable:           name,
			Description:       "results for manager " + m.o.Node,
			FilterSubject:     m.subj.AllResults(),
			DeliverPolicy:     jetstream.DeliverNewPolicy,
			AckPolicy:         jetstream.AckExplicitPolicy,
			MaxAckPending:     1 << 16,
			InactiveThreshold: auditMaxAge,
			Replicas:          m.o.Replicas,
		})
	}
	if err != nil {
		return fmt.Errorf("manager: result consumer: %w", err)
	}
	return nil
}

// tokenSafe maps s to a string fit for a consumer name.
func tokenSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// Close ends Run, stops following the buckets, and waits for the
// manager's goroutines and for writes in flight.
func (m *Manager) Close() {
	m.once.Do(func() {
		close(m.closed)
		m.writePutOff(true)
		m.endLife()
		// Stopping a watcher asks the server to drop its consumer; when
		// a node of a cluster died, that request waits out its timeout.
		// The server drops the consumers of a closed connection anyway,
		// so nobody waits for these.
		for _, w := range m.watchers {
			go func() { _ = w.Stop() }()
		}
		m.wg.Wait()
		// Let pending asynchronous writes reach the server, for a
		// moment: a write to a node that died is never acknowledged.
		select {
		case <-m.js.PublishAsyncComplete():
		case <-time.After(closeWait):
		}
	})
}

// Stats returns counters of what the manager received.
func (m *Manager) Stats() Stats {
	return Stats{
		Results:     m.results.Load(),
		Heartbeats:  m.heartbeats.Load(),
		Events:      m.events.Load(),
		Dropped:     m.dropped.Load(),
		StoreErrors: m.storeErrors.Load(),
	}
}

// Run serves the fleet until ctx ends: it consumes results (from a durable
// consumer, so none published while the manager was down are lost),
// heartbeats and events, sends pending commands again, expires them, and
// drops active responses whose agent never reported their end.
func (m *Manager) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("manager: Run called twice")
	}
	hb, err := m.nc.Subscribe(m.subj.AllHeartbeats(), func(msg *nats.Msg) {
		m.handleHeartbeat(fleet.AgentOf(msg.Subject), msg.Data)
	})
	if err != nil {
		return fmt.Errorf("manager: subscribe heartbeats: %w", err)
	}
	defer hb.Unsubscribe()
	ev, err := m.nc.Subscribe(m.subj.AllEvents(), func(msg *nats.Msg) {
		m.handleEvents(fleet.AgentOf(msg.Subject), msg.Data)
	})
	if err != nil {
		return fmt.Errorf("manager: subscribe events: %w", err)
	}
	defer ev.Unsubscribe()
	// Without these, a burst of messages overflows the default pending
	// limits of the subscriptions.
	_ = hb.SetPendingLimits(1<<20, 1<<30)
	_ = ev.SetPendingLimits(1<<20, 1<<30)

	cc, err := m.consumer.Consume(func(msg jetstream.Msg) {
		m.handleResult(fleet.AgentOf(msg.Subject()), msg.Data())
		_ = msg.Ack()
	}, jetstream.PullMaxMessages(1000), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		m.log.Debug("result consumer", "err", err)
	}))
	if err != nil {
		return fmt.Errorf("manager: consume results: %w", err)
	}
	defer cc.Stop()
	// The server knows the subscriptions once the connection is flushed.
	if err := m.nc.FlushTimeout(kvTimeout); err != nil {
		m.log.Warn("flush after subscribing", "err", err)
	}
	close(m.ready)

	tick := min(m.o.RetryInterval, time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	st := time.NewTicker(storeDefer / 2)
	defer st.Stop()
	ticks := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.closed:
			return nil
		case <-t.C:
			ticks++
			m.maintain(ctx, ticks%10 == 0)
		case <-m.kick:
			m.maintain(ctx, false)
		case <-st.C:
			m.writePutOff(false)
		}
	}
}

// maintain runs the periodic work: resend, expiry and offline detection
// at every tick; with full also the sweep of active responses and the trim
// of finished commands, which scan everything and need not run as often.
func (m *Manager) maintain(ctx context.Context, full bool) {
	m.retry()
	m.expire(ctx)
	m.detectOffline()
	if full {
		m.sweepActive()
		m.forgetFinished(maxFinished)
	}
}

// record publishes r on its audit subject and passes it to OnRecord.
func (m *Manager) record(r Record) {
	if r.Time.IsZero() {
		r.Time = m.o.Now()
	}
	r.Node = m.o.Node
	if b, err := json.Marshal(r); err == nil {
		if _, err := m.js.PublishAsync(m.subj.Audit(r.Kind), b, jetstream.WithStallWait(stallWait)); err != nil {
			m.storeErrors.Add(1)
			m.log.Warn("audit record not stored", "kind", r.Kind, "err", err)
		}
	}
	m.notify(r)
}

// notify passes r to OnRecord only (for records whose message is already
// in the audit stream, such as agents' results).
func (m *Manager) notify(r Record) {
	if r.Time.IsZero() {
		r.Time = m.o.Now()
	}
	if m.o.OnRecord != nil {
		m.o.OnRecord(r)
	}
}

// decodeMessage reads an agent's message of kind what into v, or counts
// and logs it as dropped (too large or unreadable) and returns false.
func (m *Manager) decodeMessage(what, agent string, data []byte, v any) bool {
	if len(data) > fleet.MaxMessage {
		m.drop(what, agent, "oversized", len(data))
		return false
	}
	if err := json.Unmarshal(data, v); err != nil {
		m.drop(what, agent, "unparsable: "+err.Error(), len(data))
		return false
	}
	return true
}

// drop counts and logs a message that is not processed.
func (m *Manager) drop(what, agent, why string, size int) {
	m.dropped.Add(1)
	m.log.Warn("message dropped", "kind", what, "agent", agent, "reason", why, "size", size)
}
