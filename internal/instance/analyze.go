package instance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/analysis"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/collect"
	"github.com/riposte/riposte/internal/config"
	"github.com/riposte/riposte/ruleset"
)

// logAlertLevel is the lowest rule level written to alerts.json, as
// Wazuh's default log_alert_level. Responses still see every matched rule.
const logAlertLevel = 3

// sourceLine is one line read by a collector.
type sourceLine struct {
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

	lines := make(chan sourceLine, 4096)
	var wg sync.WaitGroup
	for _, lf := range in.cfg.LocalFiles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.collect(ctx, lf, offsets, lines); err != nil && ctx.Err() == nil {
				in.log.Error("log collection stopped", "location", lf.Location, "err", err)
			}
		}()
	}
	go func() { wg.Wait(); close(lines) }()

	sess := analysis.NewSession()
	for l := range lines {
		res, err := eng.Process(sess, l.location, l.text)
		if err != nil || res.Alert == nil || res.Rule == nil {
			continue
		}
		if res.Rule.Level >= logAlertLevel {
			if _, err := out.Write(append(res.Alert, '\n')); err != nil {
				in.log.Error("cannot write alerts.json", "err", err)
			}
		}
		a, err := alert.Parse(res.Alert)
		if err != nil {
			in.log.Error("analysis produced an unusable alert", "err", err)
			continue
		}
		in.Ingest(ctx, []*alert.Alert{a}, api.IngestOptions{})
	}
	return nil
}

// collect feeds the lines of one <localfile> into lines until ctx ends.
func (in *Instance) collect(ctx context.Context, lf config.LocalFile, offsets collect.OffsetStore, lines chan<- sourceLine) error {
	log := in.log.With("component", "collect", "location", lf.Location)
	send := func(s sourceLine) error {
		select {
		case lines <- s:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	switch lf.LogFormat {
	case "journald":
		if !collect.JournalAvailable() {
			log.Warn("no systemd journal on this host; this <localfile> reads nothing")
			return nil
		}
		j := collect.NewJournal(collect.JournalOptions{
			CursorFile: filepath.Join(in.layout.StateDir(), "journal.cursor"),
			OnError:    func(err error) { in.inputErrors.Add(1); log.Warn("journal", "err", err) },
		})
		log.Info("reading the systemd journal")
		return j.Run(ctx, func(e collect.JournalEntry) error {
			return send(sourceLine{location: "journald", text: e.SyslogLine()})
		})
	default:
		t := collect.NewTailer(lf.Location, offsets, collect.TailerOptions{
			StartAtEnd: true,
			OnError:    func(err error) { in.inputErrors.Add(1); log.Warn("collect", "err", err) },
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
