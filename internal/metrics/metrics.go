package metrics

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Alert sources (the source label of riposte_alerts_total and
// riposte_alerts_malformed_total).
const (
	SourceSocket     = "socket"      // the control socket's POST /v1/alerts
	SourceHTTP       = "http"        // the loopback TCP alert endpoint
	SourceAPI        = "api"         // the HTTPS API
	SourceAlertsJSON = "alerts_json" // a followed alerts.json
	SourceAnalysis   = "analysis"    // the manager's own analysis of agents' logs
)

// Other replaces a label value outside the known set or past a cap.
const Other = "other"

// Latency stages (the stage label of riposte_latency_seconds).
const (
	StageDecision = "decision"
	StageDispatch = "dispatch"
	StageRunStart = "run_start"
	StageRun      = "run"
	StageVerified = "verified"
)

const (
	// maxCommands bounds the distinct values of the command label.
	maxCommands = 64
	// maxActiveSeries bounds the series of riposte_active_responses per
	// scrape.
	maxActiveSeries = 10000
	// maxLabel is the longest free-form label value kept.
	maxLabel = 64
)

// runKey is a label combination of riposte_runs_total, after capping.
type runKey struct{ command, verb, status string }

// Metrics holds the metrics of one process. Create it with New; the zero
// value is not usable, but a nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	// Children made once in New for the closed label sets; read-only
	// afterwards.
	alerts, malformed, decisions, dispatch map[string]prometheus.Counter

	runs, verified *prometheus.CounterVec
	latency        map[string]prometheus.Observer // by stage; read-only

	// runCache and verCache map capped label values to their child. They
	// are replaced whole (copy on write) under mu, so readers need no
	// lock.
	runCache atomic.Pointer[map[runKey]prometheus.Counter]
	verCache atomic.Pointer[map[string]prometheus.Counter]
	mu       sync.Mutex
	commands map[string]bool // command label values given out, under mu

	active *activeCollector
	queues *queueCollector
}

// New makes the metrics of a process on a registry of its own, with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg:      prometheus.NewRegistry(),
		latency:  make(map[string]prometheus.Observer),
		commands: make(map[string]bool),
		active: &activeCollector{desc: prometheus.NewDesc("riposte_active_responses",
			"Stateful responses in force, by backend and agent.", []string{"backend", "agent"}, nil)},
		queues: &queueCollector{desc: prometheus.NewDesc("riposte_queue_depth",
			"Items waiting in a queue of the process.", []string{"queue"}, nil), funcs: make(map[string]func() int)},
	}
	sources := []string{SourceSocket, SourceHTTP, SourceAPI, SourceAlertsJSON, SourceAnalysis, Other}
	m.alerts = counters(m.reg, "riposte_alerts_total", "Alerts accepted, by entry point.", "source", sources)
	m.malformed = counters(m.reg, "riposte_alerts_malformed_total", "Alerts that could not be parsed, by entry point.", "source", sources)
	m.decisions = counters(m.reg, "riposte_decisions_total", "Decisions made for triggered responses, by outcome.", "outcome",
		[]string{"run", "dry-run", "allowlisted", "rejected", "duplicate", Other})
	m.dispatch = counters(m.reg, "riposte_dispatch_total", "Commands handed to the fleet, one per target agent, by how delivery went.", "delivery",
		[]string{"sent", "queued", "undeliverable", "failed", Other})
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "riposte_runs_total",
		Help: "Runs of responses reported by the agents, by command, verb (add, delete) and status.",
	}, []string{"command", "verb", "status"})
	m.verified = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "riposte_verified_total",
		Help: "Blocks the built-in actions read back in place after applying them, by command.",
	}, []string{"command"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "riposte_latency_seconds",
		Help:    "Latency of the stages from alert to enforcement: decision, dispatch, run_start, run, verified.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"stage"})
	for _, s := range []string{StageDecision, StageDispatch, StageRunStart, StageRun, StageVerified} {
		m.latency[s] = lat.WithLabelValues(s)
	}
	m.runCache.Store(&map[runKey]prometheus.Counter{})
	m.verCache.Store(&map[string]prometheus.Counter{})
	m.reg.MustRegister(m.runs, m.verified, lat, m.active, m.queues,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// counters registers a counter with one label and makes its children for
// every value of the closed set.
func counters(reg *prometheus.Registry, name, help, label string, values []string) map[string]prometheus.Counter {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
	reg.MustRegister(v)
	out := make(map[string]prometheus.Counter, len(values))
	for _, s := range values {
		out[s] = v.WithLabelValues(s)
	}
	return out
}

// Handler serves the metrics in the Prometheus exposition formats. A
// collector that fails does not hide the others.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg,
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// Registry returns the process's registry, to register other collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Alert counts an alert accepted from source (one of the Source constants).
func (m *Metrics) Alert(source string) {
	if m == nil {
		return
	}
	pick(m.alerts, source).Inc()
}

// Malformed counts an alert from source that could not be parsed.
func (m *Metrics) Malformed(source string) {
	if m == nil {
		return
	}
	pick(m.malformed, source).Inc()
}

// Decision counts a decision with its outcome (respond's Outcome.String)
// and observes how long it took from the alert's acceptance.
func (m *Metrics) Decision(outcome string, took time.Duration) {
	if m == nil {
		return
	}
	pick(m.decisions, outcome).Inc()
	observe(m.latency[StageDecision], took)
}

// Dispatch counts a command handed to the fleet for agent, with its
// delivery (the fleet manager's per-target result: "sent", "queued
// (agent disconnected)", "not deliverable: <reason>", "failed: <error>"),
// and observes the time from decision to delivery. agent is not a label
// (see the package documentation).
func (m *Metrics) Dispatch(agent, delivery string, took time.Duration) {
	if m == nil {
		return
	}
	pick(m.dispatch, deliveryClass(delivery)).Inc()
	observe(m.latency[StageDispatch], took)
}

// Run counts a run an agent reported, by command, verb (add, delete) and
// status (execd's), and observes startDelay (command issued → run started)
// and duration (the run itself). A negative duration is not observed. agent
// is not a label (see the package documentation).
func (m *Metrics) Run(agent, command, verb, status string, startDelay, duration time.Duration) {
	if m == nil {
		return
	}
	k := runKey{command: commandLabel(command), verb: verbLabel(verb), status: statusLabel(status)}
	c, ok := (*m.runCache.Load())[k]
	if !ok {
		c = m.runChild(k)
	}
	c.Inc()
	observe(m.latency[StageRunStart], startDelay)
	observe(m.latency[StageRun], duration)
}

// Verified counts a block of command confirmed in place (read back by a
// built-in action) and observes the time from the alert's acceptance.
func (m *Metrics) Verified(command string, took time.Duration) {
	if m == nil {
		return
	}
	cmd := commandLabel(command)
	c, ok := (*m.verCache.Load())[cmd]
	if !ok {
		c = m.verifiedChild(cmd)
	}
	c.Inc()
	observe(m.latency[StageVerified], took)
}

// SetActiveFunc sets the function riposte_active_responses is computed
// from at every scrape: the number of stateful responses in force per
// backend and agent. f is called from the scraping goroutine and must be
// safe for that; nil removes the gauge's series.
func (m *Metrics) SetActiveFunc(f func() map[ActiveKey]int) {
	if m == nil {
		return
	}
	if f == nil {
		m.active.f.Store(nil)
		return
	}
	m.active.f.Store(&f)
}

// SetQueueFunc sets the function the series riposte_queue_depth{queue=name}
// is read from at every scrape, replacing an earlier one for name; nil
// removes the series.
func (m *Metrics) SetQueueFunc(name string, f func() int) {
	if m == nil {
		return
	}
	m.queues.set(freeLabel(name), f)
}

// runChild returns the child of riposte_runs_total for k, applying the cap
// on command names, and caches it.
func (m *Metrics) runChild(k runKey) prometheus.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	cache := *m.runCache.Load()
	if c, ok := cache[k]; ok {
		return c
	}
	if !m.takeCommand(k.command) {
		// Past the cap: counted as other, and not cached so that the
		// cache stays bounded too.
		return m.runs.WithLabelValues(Other, k.verb, k.status)
	}
	c := m.runs.WithLabelValues(k.command, k.verb, k.status)
	next := make(map[runKey]prometheus.Counter, len(cache)+1)
	for key, v := range cache {
		next[key] = v
	}
	next[k] = c
	m.runCache.Store(&next)
	return c
}

// verifiedChild is runChild for riposte_verified_total.
func (m *Metrics) verifiedChild(cmd string) prometheus.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	cache := *m.verCache.Load()
	if c, ok := cache[cmd]; ok {
		return c
	}
	if !m.takeCommand(cmd) {
		return m.verified.WithLabelValues(Other)
	}
	c := m.verified.WithLabelValues(cmd)
	next := make(map[string]prometheus.Counter, len(cache)+1)
	for key, v := range cache {
		next[key] = v
	}
	next[cmd] = c
	m.verCache.Store(&next)
	return c
}

// takeCommand reports whether cmd may be a command label value: other, one
// already given out, or a new one within the cap. m.mu is held.
func (m *Metrics) takeCommand(cmd string) bool {
	if cmd == Other || m.commands[cmd] {
		return true
	}
	if len(m.commands) >= maxCommands {
		return false
	}
	m.commands[cmd] = true
	return true
}

// pick returns the child for value, or the one for Other.
func pick(children map[string]prometheus.Counter, value string) prometheus.Counter {
	if c, ok := children[value]; ok {
		return c
	}
	return children[Other]
}

func observe(o prometheus.Observer, d time.Duration) {
	if d >= 0 {
		o.Observe(d.Seconds())
	}
}

// deliveryClass maps the fleet manager's per-target result to a delivery
// label value.
func deliveryClass(d string) string {
	switch {
	case d == "sent":
		return "sent"
	case strings.HasPrefix(d, "queued"):
		return "queued"
	case strings.HasPrefix(d, "not deliverable"):
		return "undeliverable"
	case strings.HasPrefix(d, "failed"):
		return "failed"
	}
	return Other
}

func verbLabel(v string) string {
	switch v {
	case "add", "delete":
		return v
	}
	return Other
}

func statusLabel(s string) string {
	switch s {
	case "ok", "aborted", "failed", "killed", "not-found", "error":
		return s
	}
	return Other
}

// commandLabel returns cmd if it is fit for the command label, else Other.
// The cap on distinct values is applied later, under the lock.
func commandLabel(cmd string) string {
	if !validLabel(cmd, true) {
		return Other
	}
	return cmd
}

// freeLabel returns s if it is fit for a free-form label value (backend,
// agent, queue), else Other.
func freeLabel(s string) string {
	if !validLabel(s, false) {
		return Other
	}
	return s
}

// validLabel reports whether s is 1 to maxLabel of A-Z a-z 0-9 . _ - (and
// !, with bang).
func validLabel(s string, bang bool) bool {
	if s == "" || len(s) > maxLabel {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		case c == '!' && bang:
		default:
			return false
		}
	}
	return true
}
