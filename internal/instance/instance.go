package instance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte/riposte/internal/action"
	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/analysis"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/arlog"
	"github.com/riposte/riposte/internal/audit"
	"github.com/riposte/riposte/internal/broker"
	"github.com/riposte/riposte/internal/collect"
	"github.com/riposte/riposte/internal/config"
	"github.com/riposte/riposte/internal/enroll"
	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
	"github.com/riposte/riposte/internal/httpapi"
	"github.com/riposte/riposte/internal/metrics"
	"github.com/riposte/riposte/internal/pki"
	"github.com/riposte/riposte/internal/respond"
)

// LocalAgent is the agent id of the host an all-in-one instance runs on.
const LocalAgent = alert.ManagerID

// Layout names the files of a data directory.
type Layout struct{ Dir string }

// open makes the directories of the layout, takes the data directory's
// lock and links the built-in actions into the bin directory, under their
// Wazuh names, pointing at this binary (the operator's own files of the
// same names are left alone and win).
func (l Layout) open(log *slog.Logger) (io.Closer, error) {
	for _, d := range []string{l.Dir, l.BinDir(), filepath.Dir(l.ARLog()), l.StateDir()} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	lock, err := lockDir(l.Dir)
	if err != nil {
		return nil, err
	}
	if exe, err := os.Executable(); err == nil {
		if err := action.Install(l.BinDir(), exe); err != nil {
			log.Warn("cannot install the built-in actions in the bin directory", "dir", l.BinDir(), "err", err)
		}
	}
	return lock, nil
}

// BinDir is where the response executables live.
func (l Layout) BinDir() string { return filepath.Join(l.Dir, execd.BinDir) }

// ARLog is active-responses.log.
func (l Layout) ARLog() string { return filepath.Join(l.Dir, "logs", "active-responses.log") }

// Socket is the control socket.
func (l Layout) Socket() string { return filepath.Join(l.Dir, "riposte.sock") }

// StateDir holds durable state.
func (l Layout) StateDir() string { return filepath.Join(l.Dir, "state") }

// Options configure an Instance.
type Options struct {
	// Dir is the data directory.
	Dir string
	// Logger receives the structured log.
	Logger *slog.Logger
	// DryRun forces dry-run mode whatever the configuration says.
	DryRun bool
	// OnResult, when set, is also called with every run's result.
	OnResult func(execd.Result)
	// Manager makes the instance a fleet manager: it listens for agents
	// (<fleet><agent_listen>) and enrollments (<enrollment_listen>), with a
	// CA of its own. Without it (riposte run) the embedded NATS server has
	// no network listener and the host is the only agent.
	Manager bool
}

// maxRuns is how many results are kept for GET /v1/runs.
const maxRuns = 1000

// Instance is a running all-in-one Riposte.
type Instance struct {
	cfg    *config.Config
	layout Layout
	log    *slog.Logger
	engine *respond.Engine
	exec   *execd.Execd
	arlog  *arlog.Logger

	accepted, malformed, inputErrors, decisions, runs, runsFailed atomic.Uint64

	onResultHook func(execd.Result)
	analysis     *analysis.Engine // nil without <localfile>
	lock         io.Closer        // held while the instance owns the data directory

	results recentRuns

	// The fleet: transport, manager state and, for a manager, enrollment.
	subjects   fleet.Subjects
	broker     *broker.Broker // nil on an external NATS cluster
	nc         *nats.Conn
	mgr        *manager.Manager
	ca         *pki.CA
	serverCert tls.Certificate
	enroll     *enroll.Server
	events     chan sourceLine // lines to analyse: this host's and agents'
	js         jetstream.JetStream

	// The audit trail, the white list entries added at run time, and the
	// wake-up of live views.
	trail   *audit.Trail
	allowMu sync.Mutex
	allowed map[string]httpapi.AllowEntry
	allowKV jetstream.KeyValue
	chg     changes
	auditq  chan audit.Record

	// The sorted list of active responses, see activeSnapshot.
	snapMu      sync.Mutex // held while building it
	snap        atomic.Pointer[activeList]
	snapBusy    atomic.Bool // a rebuild is on its way
	snapSyncMax int         // lists this long are rebuilt in the background

	// The HTTPS API and the metrics.
	metrics     *metrics.Metrics
	apiServer   *httpapi.Server
	apiListener net.Listener
	apiCert     tls.Certificate
}

// managerFilterAll selects every active response.
var managerFilterAll = manager.Filter{}

// New prepares an instance: directories, logs, state and the engine.
func New(cfg *config.Config, opts Options) (*Instance, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
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
	engine, err := respond.New(cfg, nil)
	if err != nil {
		return nil, err
	}
	if opts.DryRun {
		engine.SetDryRun(true)
	}
	al, err := arlog.Open(l.ARLog())
	if err != nil {
		return nil, err
	}
	in := &Instance{cfg: cfg, layout: l, log: log, engine: engine, arlog: al, onResultHook: opts.OnResult, lock: lock, trail: audit.New(100000), auditq: make(chan audit.Record, auditQueue), snapSyncMax: 5000}
	in.metrics = in.newMetrics()
	if len(cfg.LocalFiles) > 0 || opts.Manager {
		if in.analysis, err = in.loadRuleset(); err != nil {
			al.Close()
			return nil, err
		}
		in.events = make(chan sourceLine, 4096)
	}
	// The fleet first: execd is not started yet, and a command for this
	// host only reaches it once Run serves.
	if err := in.startFleet(opts); err != nil {
		al.Close()
		return nil, err
	}
	x, err := execd.Open(execdOptions(cfg, l, log, al, in.onResult))
	if err != nil {
		in.closeFleet()
		al.Close()
		return nil, err
	}
	in.exec = x
	if in.alone() {
		// Alone on its store, the manager takes this host's active
		// responses from execd's timers (see manager.Reconcile).
		in.reconcileActive()
	}
	if err := in.prepareAPI(); err != nil {
		in.closeFleet()
		al.Close()
		return nil, err
	}
	ok = true
	return in, nil
}

// Layout returns the instance's data directory layout.
func (in *Instance) Layout() Layout { return in.layout }

// Run serves until ctx ends, then stops cleanly: pending deletes stay
// pending and are re-armed by the next start.
func (in *Instance) Run(ctx context.Context) error {
	var stopAt atomic.Int64
	context.AfterFunc(ctx, func() { stopAt.Store(time.Now().UnixNano()) })
	defer func() {
		if t := stopAt.Load(); t != 0 {
			in.log.Info("stopped", "took", time.Since(time.Unix(0, t)).Round(time.Millisecond))
		}
	}()
	defer in.lock.Close()
	defer in.arlog.Close()
	defer in.closeFleet()

	// What can fail at start is opened before anything runs.
	var offsets collect.OffsetStore
	if len(in.cfg.Riposte.AlertsJSON) > 0 || in.analysis != nil {
		// One offsets file for every follower: it is safe for several.
		fo, err := collect.OpenFileOffsets(filepath.Join(in.layout.StateDir(), "offsets.json"))
		if err != nil {
			return err
		}
		offsets = fo
	}
	var tl net.Listener
	if addr := in.cfg.Riposte.HTTPListen; addr != "" {
		var err error
		if tl, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("http listener %s: %w", addr, err)
		}
	}
	sock := in.layout.Socket()
	ln, err := listenSocket(sock)
	if err != nil {
		if tl != nil {
			tl.Close()
		}
		return err
	}
	defer os.Remove(sock)

	g := newRunGroup(ctx, in.log)
	ctx = g.ctx
	g.Go("execd", in.exec.Run)
	g.Go("manager", in.mgr.Run)
	if in.enroll != nil {
		g.Go("enrollment", in.enroll.ListenAndServe)
		agents := in.cfg.Riposte.Fleet.NATSURL
		if in.broker != nil {
			agents = in.broker.AgentURL()
		}
		in.log.Info("accepting agents", "agents", agents, "enrollment", in.cfg.Riposte.Fleet.EnrollmentListen,
			"token_file", in.layout.TokenFile(), "ca_pin", in.ca.Pin(), "ca_file", filepath.Join(in.layout.PKIDir(), "ca.pem"))
	}
	in.loadTrail(ctx)
	g.Go("audit", in.auditWriter)
	if in.apiListener != nil {
		g.Go("api", in.serveAPI)
	}
	h := in.socketHandler()
	g.Go("control socket", func(ctx context.Context) error { return serve(ctx, ln, h) })
	if tl != nil {
		in.log.Info("accepting alerts over HTTP", "addr", tl.Addr().String())
		lh := api.LoopbackHandler(in, in.log)
		g.Go("http", func(ctx context.Context) error { return serve(ctx, tl, lh) })
	}
	for _, path := range in.cfg.Riposte.AlertsJSON {
		g.Go("alerts.json "+path, func(ctx context.Context) error { return in.followAlerts(ctx, path, offsets) })
	}
	if in.analysis != nil {
		g.Go("analysis", func(ctx context.Context) error { return in.runAnalysis(ctx, in.analysis, offsets) })
	}
	if hosts := in.engine.Allowlist().Hosts(); len(hosts) > 0 {
		g.Go("white list resolver", func(ctx context.Context) error { return in.resolveLoop(ctx, hosts) })
	}
	in.log.Info("riposte running", "data_dir", in.layout.Dir, "socket", sock,
		"responses", len(in.cfg.Responses), "active_responses_log", in.layout.ARLog())
	return g.Wait()
}

func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// resolveLoop resolves white-listed host names now and every
// ResolveInterval.
func (in *Instance) resolveLoop(ctx context.Context, hosts []string) error {
	var r net.Resolver
	t := time.NewTicker(in.cfg.Riposte.ResolveInterval)
	defer t.Stop()
	for {
		for _, h := range hosts {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			addrs, err := r.LookupNetIP(lctx, "ip", h)
			cancel()
			if err != nil {
				in.log.Warn("cannot resolve white-listed host; keeping its previous addresses", "host", h, "err", err)
				continue
			}
			in.engine.Allowlist().SetResolved(h, addrs)
			in.log.Debug("white-listed host resolved", "host", h, "addrs", fmt.Sprint(addrs))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Ingest decides and runs the responses for alerts. It implements
// api.Backend.
func (in *Instance) Ingest(_ context.Context, alerts []*alert.Alert, opts api.IngestOptions) []api.AlertReport {
	now := time.Now()
	reports := make([]api.AlertReport, 0, len(alerts))
	source := opts.Source
	if source == "" {
		source = "api"
	}
	for i, a := range alerts {
		in.accepted.Add(1)
		in.metrics.Alert(source)
		var ds []respond.Decision
		var exps []respond.Explanation
		if opts.Explain {
			ds, exps = in.engine.Explain(a, now)
		} else {
			ds = in.engine.Decide(a, now)
		}
		rep := api.AlertReport{Item: i + 1, RuleID: a.RuleID, RuleLevel: a.RuleLevel, AgentID: a.AgentID, SrcIP: a.SrcIP, Explanations: exps, Decisions: []api.DecisionReport{}}
		for j := range ds {
			rep.Decisions = append(rep.Decisions, in.carryOut(&ds[j], opts.DryRun, now))
		}
		reports = append(reports, rep)
	}
	return reports
}

// carryOut hands a decision to the local executor, or says why not.
func (in *Instance) carryOut(d *respond.Decision, dryRun bool, accepted time.Time) api.DecisionReport {
	in.decisions.Add(1)
	r := d.Response
	rep := api.DecisionReport{ID: d.ID, Command: r.Command, Outcome: d.Outcome.String(), Reason: d.Reason, Targets: d.Targets}
	if d.AllAgents {
		rep.Targets = []string{"all"}
	}
	if d.Outcome == respond.Run && dryRun {
		rep.Outcome, rep.Reason = respond.DryRun.String(), "dry-run requested: nothing is executed"
	}
	in.metrics.Decision(rep.Outcome, time.Since(accepted))
	defer func() {
		rec := audit.Record{Kind: "decision", Agent: d.Alert.AgentID, Command: r.Command, Outcome: rep.Outcome, Note: rep.Reason}
		if d.SrcIP.IsValid() {
			rec.IP = d.SrcIP.String()
		}
		if len(rep.Delivery) > 0 {
			parts := make([]string, 0, len(rep.Delivery))
			for t, what := range rep.Delivery {
				parts = append(parts, t+": "+what)
			}
			slices.Sort(parts)
			rec.Note += "; " + strings.Join(parts, ", ")
		}
		in.audit(rec)
	}()
	// Typed attributes: this is logged for every block of an attack.
	attrs := make([]slog.Attr, 0, 13)
	attrs = append(attrs, slog.String("decision", d.ID), slog.String("rule", d.Alert.RuleID), slog.Int("level", d.Alert.RuleLevel),
		slog.String("agent", d.Alert.AgentID), slog.String("command", r.Command), slog.String("location", r.Location.String()),
		slog.String("response", r.File+":"+strconv.Itoa(r.Line)), slog.String("outcome", rep.Outcome), slog.String("reason", rep.Reason))
	if d.SrcIP.IsValid() {
		attrs = append(attrs, slog.String("srcip", d.SrcIP.String()))
	} else if d.Alert.SrcIP != "" {
		attrs = append(attrs, slog.String("srcip_raw", truncate(d.Alert.SrcIP, 64)))
	}
	ctx := context.Background()
	if rep.Outcome != respond.Run.String() {
		lvl := slog.LevelInfo
		if d.Outcome == respond.Rejected {
			lvl = slog.LevelWarn
		}
		in.log.LogAttrs(ctx, lvl, "response not run", attrs...)
		return rep
	}
	rep.Delivery = in.dispatch(d)
	for t, what := range rep.Delivery {
		in.metrics.Dispatch(t, what, time.Since(accepted))
		lvl, msg := slog.LevelInfo, "response dispatched"
		if strings.HasPrefix(what, "not ") {
			lvl, msg = slog.LevelWarn, "response not delivered"
		}
		in.log.LogAttrs(ctx, lvl, msg, append(attrs, slog.String("target", t), slog.String("delivery", what))...)
	}
	return rep
}

func (in *Instance) onResult(r execd.Result) {
	in.runs.Add(1)
	if r.Status != execd.StatusOK && r.Status != execd.StatusAborted {
		in.runsFailed.Add(1)
	}
	in.results.add(r)
	in.metrics.Run(fleet.ManagerID, r.Command, r.Verb, string(r.Status), r.StartDelay, r.Duration)
	if in.mgr != nil {
		in.mgr.LocalResult(fleetResult(r))
	}
	if in.onResultHook != nil {
		in.onResultHook(r)
	}
}

// Rejected counts malformed alerts. It implements api.Backend.
func (in *Instance) Rejected(n int) { in.malformed.Add(uint64(n)) }

// Pending lists active stateful responses. It implements api.Backend.
func (in *Instance) Pending() []execd.Pending { return in.exec.Pending() }

// Runs lists recent results. It implements api.Backend.
func (in *Instance) Runs() []execd.Result { return in.results.list() }

// Stats returns the counters. It implements api.Backend.
func (in *Instance) Stats() api.Stats {
	return api.Stats{
		AlertsAccepted:  in.accepted.Load(),
		AlertsMalformed: in.malformed.Load(),
		InputErrors:     in.inputErrors.Load(),
		Decisions:       in.decisions.Load(),
		Runs:            in.runs.Load(),
		RunsFailed:      in.runsFailed.Load(),
	}
}

var _ api.Backend = (*Instance)(nil)

// execdOptions are the options of this host's execd.
func execdOptions(cfg *config.Config, l Layout, log *slog.Logger, al *arlog.Logger, onResult func(execd.Result)) execd.Options {
	return execd.Options{
		Dir:              l.Dir,
		StatePath:        filepath.Join(l.StateDir(), "execd.db"),
		NodeName:         cfg.NodeName,
		HandshakeTimeout: cfg.Riposte.HandshakeTimeout,
		RunTimeout:       cfg.Riposte.RunTimeout,
		Logger:           log,
		ARLog:            al,
		OnResult:         onResult,
		Actions:          actionOptions(cfg.Riposte.Actions),
	}
}

// actionOptions maps the configuration's action settings.
func actionOptions(s config.ActionSettings) action.Options {
	return action.Options{
		Backend:            s.FirewallBackend,
		Output:             s.BlockOutput,
		Ingress:            s.IngressDevice,
		IPv6Prefix:         s.IPv6Prefix,
		FirewalldPermanent: s.FirewalldPermanent,
		KillSessions:       s.KillSessions,
		SlackOnDelete:      s.SlackOnDelete,
	}
}

// truncate shortens hostile values before they are logged.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
