package instance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/analysis"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/collect"
	"github.com/riposte/riposte/internal/config"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/jsonstr"
	"github.com/riposte/riposte/ruleset"
)

// logAlertLevel is the lowest rule level written to alerts.json, as
// Wazuh's default log_alert_level. Responses still see every matched rule.
const logAlertLevel = 3

// sourceLine is one line read by a collector: on this host (agent is nil)
// or on an agent, which sent it over the fleet.
type sourceLine struct {
	agent    *fleet.Agent // nil for this host's lines
	location string
	text     string
}

// loadRuleset loads the <ruleset> of the configuration, or Riposte's
// built-in ruleset, written under the data directory.
func (in *Instance) loadRuleset() (*analysis.Engine, error) {
	host, _ := os.Hostname()
	opts := analysis.Options{ManagerName: host}
	if rs := in.cfg.Ruleset; rs != nil {
		opts.Decoders = append(append(opts.Decoders, rs.DecoderDirs...), rs.DecoderInclude...)
		opts.Rules = append(append(opts.Rules, rs.RuleDirs...), rs.RuleInclude...)
		opts.Exclude = append(append(opts.Exclude, rs.DecoderExclude...), rs.RuleExclude...)
		opts.Lists = rs.Lists
	} else {
		dir := filepath.Join(in.layout.Dir, "ruleset")
		if err := ruleset.WriteTo(dir); err != nil {
			return nil, fmt.Errorf("built-in ruleset: %w", err)
		}
		opts.Decoders = []string{filepath.Join(dir, "decoders")}
		opts.Rules = []string{filepath.Join(dir, "rules")}
	}
	eng, err := analysis.Load(opts)
	if err != nil {
		return nil, fmt.Errorf("ruleset: %w", err)
	}
	for _, w := range eng.Warnings() {
		in.log.Warn("ruleset", "warning", w)
	}
	in.log.Info("ruleset loaded", "decoders", eng.NumDecoders(), "rules", eng.NumRules())
	return eng, nil
}

// runAnalysis reads every <localfile>, analyses the lines in order, writes
// alerts to alerts.json and hands them to the response engine.
func (in *Instance) runAnalysis(ctx context.Context, eng *analysis.Engine, offsets collect.OffsetStore) error {
	alertsPath := filepath.Join(in.layout.Dir, "logs", "alerts", "alerts.json")
	if err := os.MkdirAll(filepath.Dir(alertsPath), 0o750); err != nil {
		return fmt.Errorf("alerts.json: %w", err)
	}
	out, err := os.OpenFile(alertsPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("alerts.json: %w", err)
	}
	defer out.Close()
	alerts := &alertsFile{f: out, log: in.log}

	lines := in.events
	var wg sync.WaitGroup
	for _, lf := range in.cfg.LocalFiles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := collector{log: in.log.With("component", "collect", "location", lf.Location), stateDir: in.layout.StateDir(), errors: &in.inputErrors}
			send := func(s sourceLine) error {
				select {
				case lines <- s:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if err := c.run(ctx, lf, offsets, send); err != nil && ctx.Err() == nil {
				in.log.Error("log collection stopped", "location", lf.Location, "err", err)
			}
		}()
	}
	defer wg.Wait()

	// Analysis is three stages, each with a goroutine of its own, so that
	// a burst of attacks keeps both cores busy: decoding, in batches of
	// the lines queued; matching, which needs the session and takes the
	// lines in order; and answering: the alert documents, alerts.json,
	// decisions and dispatch, in the order of the lines, until matching
	// closes found.
	found := make(chan analyzed, 4096)
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		in.answer(ctx, found, alerts, eng, eng.Recycle)
	}()
	defer func() {
		close(found)
		<-answered
	}()
	// A few batches decoded ahead keep both cores busy; more would only
	// hold lines a stop loses (their offsets are saved).
	decoded := make(chan []decodedLine, 4)
	decoding := make(chan struct{})
	go func() {
		defer close(decoding)
		decodeLines(ctx, eng, lines, decoded)
	}()
	defer func() { <-decoding }()

	sess := analysis.NewSession()
	var batch []decodedLine
	for {
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case batch = <-decoded:
			}
		}
		l := batch[0]
		batch = batch[1:]
		res, err := eng.Match(sess, l.d)
		if err != nil || res.AlertID == "" || res.Rule == nil {
			continue
		}
		next := analyzed{res: res, logged: res.Rule.Level >= logAlertLevel}
		if l.agent != nil && l.agent.ID != "" {
			next.agent = l.agent
		}
		// Most alerts trigger no response: the rule alone says so.
		pre := alert.Alert{RuleID: strconv.Itoa(res.Rule.ID), RuleLevel: res.Rule.Level, RuleGroups: res.Rule.AlertGroups(),
			NoAR: alert.ListsNoAR(res.Rule.Options)}
		if len(in.engine.Match(&pre)) == 0 {
			in.accepted.Add(1)
			in.metrics.Alert("analysis")
		} else {
			next.respond = true
		}
		if !next.logged && !next.respond {
			continue
		}
		select {
		case found <- next:
		case <-ctx.Done():
			return nil
		}
	}
}

// decodeBatch bounds the lines decoded at once.
const decodeBatch = 256

// decodedLine is a line and what decoding made of it.
type decodedLine struct {
	sourceLine
	d analysis.Decoded
}

// decodeLines decodes the lines queued in lines, in batches of what is
// queued (up to decodeBatch), until ctx ends: a burst costs a hand-over per
// batch, not per line. lines is never closed: agents' events may arrive at
// any time.
func decodeLines(ctx context.Context, eng *analysis.Engine, lines <-chan sourceLine, out chan<- []decodedLine) {
	for ctx.Err() == nil {
		var batch []decodedLine
		add := func(l sourceLine) bool {
			batch = append(batch, decodedLine{l, eng.Decode(l.location, l.text)})
			return len(batch) < decodeBatch
		}
		select {
		case <-ctx.Done():
			return
		case l := <-lines:
			if add(l) {
				takeQueued(lines, add)
			}
		}
		select {
		case out <- batch:
		case <-ctx.Done():
			return
		}
	}
}

// analyzed is what analysis found in one line, for the answer stage:
// either the result of matching, whose alert is still to be made, or the
// document and alert made of it.
type analyzed struct {
	res     *analysis.Result // the result, its document not built yet
	agent   *fleet.Agent     // the agent the line came from, when not this host
	logged  bool             // the document goes to alerts.json
	respond bool             // a response may match: an alert is made

	doc   []byte       // the alert's line in alerts.json; nil below logAlertLevel
	alert *alert.Alert // the alert to answer; nil when no response may match
}

// build builds the document of a's result and, if a response may match,
// its alert.
func (a *analyzed) build(in *Instance, eng *analysis.Engine) {
	doc := eng.BuildAlert(a.res)
	var agent *fleet.Agent // the agent doc names, when not this host
	if a.agent != nil {
		var rewritten bool
		if doc, rewritten = withAgent(doc, eng.ManagerName(), *a.agent); rewritten {
			agent = a.agent
		}
	}
	if a.logged {
		a.doc = doc
	}
	if a.respond {
		var err error
		if a.alert, err = resultAlert(a.res, doc, eng.ManagerName(), agent); err != nil {
			in.log.Error("analysis produced an unusable alert", "err", err)
		}
	}
	a.res = nil
}

// answer is the last stage of analysis: it builds the alert documents
// (with eng), writes the alerts to alerts.json and hands those that may
// trigger a response to Ingest, an alert always reaching the file before
// anything is done about it. It takes what is queued at once, up to
// maxAnswered, so that a burst costs one write and one Ingest per handful
// of alerts. It returns once found is closed and drained; after ctx ends,
// the alerts still queued are written, not answered. The documents of
// alerts that are only written go to recycle once written.
func (in *Instance) answer(ctx context.Context, found <-chan analyzed, alerts *alertsFile, eng *analysis.Engine, recycle func([]byte)) {
	defer alerts.flush()
	var answer []*alert.Alert
	take := func(a analyzed) {
		if a.res != nil {
			a.build(in, eng)
		}
		if a.doc != nil {
			alerts.write(a.doc)
		}
		if a.alert != nil {
			answer = append(answer, a.alert)
		} else if a.doc != nil {
			recycle(a.doc) // copied into the file's buffer
		}
	}
	for a := range found {
		take(a)
		if len(answer) < maxAnswered {
			takeQueued(found, func(a analyzed) bool {
				take(a)
				return len(answer) < maxAnswered
			})
		}
		alerts.flush()
		if len(answer) > 0 && ctx.Err() == nil {
			in.Ingest(ctx, answer, api.IngestOptions{Source: "analysis"})
		}
		clear(answer)
		answer = answer[:0]
	}
}

// maxAnswered bounds the alerts answer hands to Ingest at once.
const maxAnswered = 256

// alertsFile buffers the lines of alerts.json, so that a burst of alerts
// takes few writes. It writes whole lines only: no alert is split between
// two writes.
type alertsFile struct {
	f   *os.File
	log *slog.Logger
	buf []byte
}

// alertsBuffer is how many bytes of alerts wait for a write at most,
// unless a single alert is longer.
const alertsBuffer = 64 << 10

// write adds an alert to the file.
func (w *alertsFile) write(doc []byte) {
	if len(w.buf) > 0 && len(w.buf)+len(doc)+1 > alertsBuffer {
		w.flush()
	}
	w.buf = append(w.buf, doc...)
	w.buf = append(w.buf, '\n')
	if len(w.buf) >= alertsBuffer {
		w.flush()
	}
}

// flush writes the buffered alerts. Those a failed write did not write are
// dropped, as an alert was when it could not be written.
func (w *alertsFile) flush() {
	if len(w.buf) == 0 {
		return
	}
	if _, err := w.f.Write(w.buf); err != nil {
		w.log.Error("cannot write alerts.json", "err", err)
	}
	w.buf = w.buf[:0]
}

// resultAlert returns the alert of an analysis result whose document is
// doc: res.Alert, with the agent part rewritten for agent when it is not
// nil (see withAgent). It is what alert.Parse reads from doc, taken from
// the result itself when the engine can tell.
func resultAlert(res *analysis.Result, doc []byte, managerName string, agent *fleet.Agent) (*alert.Alert, error) {
	if f, ok := alertFields(res, managerName, agent); ok {
		return alert.FromFields(doc, f)
	}
	return alert.Parse(doc)
}

// alertFields returns the values of an analysis result's alert document
// that an alert.Alert holds; ok is false when the result cannot tell them
// all for certain. managerName and agent are as for resultAlert.
func alertFields(res *analysis.Result, managerName string, agent *fleet.Agent) (f alert.Fields, ok bool) {
	r := res.Rule
	f = alert.Fields{ID: res.AlertID, RuleID: strconv.Itoa(r.ID), RuleLevel: r.Level, RuleGroups: r.AlertGroups(),
		RuleOptions: r.Options, AgentID: alert.ManagerID, AgentName: managerName}
	if agent != nil {
		f.AgentID, f.AgentName = agent.ID, agent.Name
	}
	if res.AlertID == "" || !utf8.ValidString(f.AgentName) {
		return f, false
	}
	var okIP, okSrc, okUser bool
	f.WinIPAddress, okIP = res.Event.AlertData("win.eventdata.ipAddress")
	f.SrcIP, okSrc = res.Event.AlertData("srcip")
	f.DstUser, okUser = res.Event.AlertData("dstuser")
	return f, okIP && okSrc && okUser
}

// withAgent rewrites the agent part of an alert the engine built for this
// host ("agent":{"id":"000","name":host}) to name the agent that collected
// the line, as Wazuh's alerts do. It reports whether it found the part to
// rewrite; doc is returned unchanged when it did not.
func withAgent(doc []byte, host string, a fleet.Agent) ([]byte, bool) {
	// The name as the engine writes it (jsonstr, not encoding/json, which
	// would escape &, < and >).
	old := append(jsonstr.Append([]byte(`"agent":{"id":"000","name":`), host), '}')
	i := bytes.Index(doc, old)
	if i < 0 {
		return doc, false
	}
	part := map[string]string{"id": a.ID, "name": a.Name}
	if len(a.Last.Addresses) > 0 {
		part["ip"] = a.Last.Addresses[0]
	} else if a.RegisteredIP != "" {
		part["ip"] = a.RegisteredIP
	}
	b, _ := json.Marshal(part)
	out := make([]byte, 0, len(doc)+len(b))
	out = append(out, doc[:i]...)
	out = append(out, `"agent":`...)
	out = append(out, b...)
	return append(out, doc[i+len(old):]...), true
}

// collector reads <localfile> sources for an instance or an agent.
type collector struct {
	log      *slog.Logger
	stateDir string
	errors   *atomic.Uint64
}

// run feeds the lines of one <localfile> to send until ctx ends.
func (c collector) run(ctx context.Context, lf config.LocalFile, offsets collect.OffsetStore, send func(sourceLine) error) error {
	log := c.log
	switch lf.LogFormat {
	case "journald":
		if !collect.JournalAvailable() {
			log.Warn("no systemd journal on this host; this <localfile> reads nothing")
			return nil
		}
		j := collect.NewJournal(collect.JournalOptions{
			CursorFile: filepath.Join(c.stateDir, "journal.cursor"),
			OnError:    func(err error) { c.errors.Add(1); log.Warn("journal", "err", err) },
		})
		log.Info("reading the systemd journal")
		return j.Run(ctx, func(e collect.JournalEntry) error {
			return send(sourceLine{location: "journald", text: e.SyslogLine()})
		})
	default:
		t := collect.NewTailer(lf.Location, offsets, collect.TailerOptions{
			StartAtEnd: true,
			OnError:    func(err error) { c.errors.Add(1); log.Warn("collect", "err", err) },
		})
		log.Info("following log file", "format", lf.LogFormat)
		if lf.LogFormat == "multi-line" {
			// Every Lines lines make one event, joined with a space.
			var parts []string
			return t.Run(ctx, func(l collect.Line) error {
				parts = append(parts, string(l.Text))
				if len(parts) < lf.Lines {
					return nil
				}
				text := strings.Join(parts, " ")
				parts = parts[:0]
				return send(sourceLine{location: lf.Location, text: text})
			})
		}
		return t.Run(ctx, func(l collect.Line) error {
			return send(sourceLine{location: lf.Location, text: string(l.Text)})
		})
	}
}

// takeQueued hands take the values ch holds at once, one at a time, until
// ch is empty or closed, or take returns false: a stage that takes a batch
// of what waits, without waiting for more.
func takeQueued[T any](ch <-chan T, take func(T) bool) {
	for {
		select {
		case v, ok := <-ch:
			if !ok || !take(v) {
				return
			}
		default:
			return
		}
	}
}
