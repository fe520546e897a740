package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/riposte/riposte/internal/analysis"
	"github.com/riposte/riposte/internal/config"
	"github.com/riposte/riposte/ruleset"
)

// logtestAlertLevel is the lowest rule level that produces an alert
// document, as Wazuh's default log_alert_level.
const logtestAlertLevel = 3

// maxLogtestLine bounds one input line.
const maxLogtestLine = 1 << 20

func newLogtestCmd(s *streams) *cobra.Command {
	var (
		files    []string
		jsonOut  bool
		unit     string
		location string
	)
	c := &cobra.Command{
		Use:   "logtest",
		Short: "Run log lines from standard input through the decoders and rules, like wazuh-logtest",
		Long: "Read log lines from standard input and show, for each non-empty line, the pre-decoding, decoding " +
			"and rule matching phases, as wazuh-logtest does. All lines share one session, so correlation " +
			"(frequency, if_matched_sid, ...) accumulates across them. Without --config the built-in ruleset " +
			"is used; with it, the configuration's <ruleset> (or the built-in one when it has none).\n\n" +
			"-U rule:level:decoder judges the last line as wazuh-logtest -U does: the exit code is the number of " +
			"empty fields of the expectation when the last line's rule id, level and decoder name equal it, " +
			"and 1 otherwise.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var want []string
			if cmd.Flags().Changed("unit-test") {
				want = strings.Split(unit, ":")
				if len(want) != 3 {
					fmt.Fprintf(s.err, "%s: -U %q: use rule:level:decoder\n", cmd.CommandPath(), unit)
					return exitError{code: 2}
				}
			}
			eng, cleanup, err := logtestEngine(s, files)
			if cleanup != nil {
				defer cleanup()
			}
			if err != nil {
				return err
			}
			sess := analysis.NewSession()
			got := []string{"", "", ""}
			sc := bufio.NewScanner(s.in)
			sc.Buffer(make([]byte, 0, 64*1024), maxLogtestLine)
			first := true
			for sc.Scan() {
				line := strings.TrimRight(sc.Text(), "\r")
				if strings.TrimSpace(line) == "" {
					continue
				}
				res, err := eng.Process(sess, location, line)
				if err != nil {
					return err
				}
				got = logtestRecord(res)
				if jsonOut {
					err = writeLogtestJSON(s.out, res)
				} else {
					if !first {
						fmt.Fprintln(s.out)
					}
					err = writeLogtestText(s.out, res)
				}
				if err != nil {
					return err
				}
				first = false
			}
			if err := sc.Err(); err != nil {
				return fmt.Errorf("reading standard input: %w", err)
			}
			if want == nil {
				return nil
			}
			if slices.Equal(got, want) {
				code := 0
				for _, w := range want {
					if w == "" {
						code++
					}
				}
				if code != 0 {
					return exitError{code: code}
				}
				return nil
			}
			fmt.Fprintf(s.err, "%s: unit test failed: expected %s, got %s\n", cmd.CommandPath(),
				strings.Join(want, ":"), strings.Join(got, ":"))
			return exitError{code: 1}
		},
	}
	f := c.Flags()
	f.StringArrayVarP(&files, "config", "c", nil, "configuration file (repeatable) whose <ruleset> is used; default: the built-in ruleset")
	f.BoolVar(&jsonOut, "json", false, "print one JSON object per line instead of the three phases")
	f.StringVarP(&unit, "unit-test", "U", "", "expect rule:level:decoder for the last line, as wazuh-logtest -U")
	f.StringVar(&location, "location", "stdin", "location the lines are reported as coming from")
	return c
}

// logtestEngine loads the ruleset of the configuration files, or the
// built-in one, which is written to a temporary directory that cleanup
// removes.
func logtestEngine(s *streams, files []string) (*analysis.Engine, func(), error) {
	var rs *config.Ruleset
	if len(files) > 0 {
		cfg, problems, err := config.Load(files...)
		for _, p := range problems {
			fmt.Fprintln(s.err, p.String())
		}
		if err != nil {
			return nil, nil, exitError{code: 1}
		}
		rs = cfg.Ruleset
	}
	host, _ := os.Hostname()
	opts := analysis.Options{ManagerName: host, MinAlertLevel: logtestAlertLevel}
	var cleanup func()
	if rs != nil {
		opts.Decoders = append(append(opts.Decoders, rs.DecoderDirs...), rs.DecoderInclude...)
		opts.Rules = append(append(opts.Rules, rs.RuleDirs...), rs.RuleInclude...)
		opts.Exclude = append(append(opts.Exclude, rs.DecoderExclude...), rs.RuleExclude...)
		opts.Lists = rs.Lists
	} else {
		dir, err := os.MkdirTemp("", "riposte-logtest-")
		if err != nil {
			return nil, nil, fmt.Errorf("built-in ruleset: %w", err)
		}
		cleanup = func() { os.RemoveAll(dir) }
		if err := ruleset.WriteTo(dir); err != nil {
			return nil, cleanup, fmt.Errorf("built-in ruleset: %w", err)
		}
		opts.Decoders = []string{filepath.Join(dir, ruleset.DecodersDir)}
		opts.Rules = []string{filepath.Join(dir, ruleset.RulesDir)}
	}
	eng, err := analysis.Load(opts)
	if err != nil {
		return nil, cleanup, fmt.Errorf("ruleset: %w", err)
	}
	for _, w := range eng.Warnings() {
		fmt.Fprintf(s.err, "warning: ruleset: %s\n", w)
	}
	return eng, cleanup, nil
}

// logtestRecord is what wazuh-logtest -U compares: rule id, level as a
// decimal string and decoder name, empty when absent.
func logtestRecord(res *analysis.Result) []string {
	rec := []string{"", "", res.Decoder}
	if res.Rule != nil {
		rec[0] = strconv.Itoa(res.Rule.ID)
		rec[1] = strconv.Itoa(res.Rule.Level)
	}
	return rec
}

// sortedFields returns the decoded fields sorted by name.
func sortedFields(ev *analysis.Event) []analysis.Field {
	fs := append([]analysis.Field(nil), ev.Fields...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	return fs
}

// alertDescription is the rule description of the alert document, with
// $(field) substituted, or the rule's text when there is no document.
func alertDescription(res *analysis.Result) string {
	if res.Alert != nil {
		var a struct {
			Rule struct {
				Description string `json:"description"`
			} `json:"rule"`
		}
		if json.Unmarshal(res.Alert, &a) == nil && a.Rule.Description != "" {
			return a.Rule.Description
		}
	}
	return res.Rule.Description
}

func chainIDs(res *analysis.Result) []string {
	ids := make([]string, 0, len(res.Chain))
	for _, r := range res.Chain {
		ids = append(ids, strconv.Itoa(r.ID))
	}
	return ids
}

func writeLogtestText(w io.Writer, res *analysis.Result) error {
	bw := bufio.NewWriter(w)
	ev := res.Event
	fmt.Fprintln(bw, "**Phase 1: Completed pre-decoding.")
	fmt.Fprintf(bw, "\tfull event: '%s'\n", ev.FullLog)
	if ev.Timestamp != "" {
		fmt.Fprintf(bw, "\ttimestamp: '%s'\n", ev.Timestamp)
	}
	if ev.Hostname != "" {
		fmt.Fprintf(bw, "\thostname: '%s'\n", ev.Hostname)
	}
	if ev.ProgramName != "" {
		fmt.Fprintf(bw, "\tprogram_name: '%s'\n", ev.ProgramName)
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "**Phase 2: Completed decoding.")
	if res.Decoder == "" {
		fmt.Fprintln(bw, "\tNo decoder matched.")
	} else {
		fmt.Fprintf(bw, "\tname: '%s'\n", res.Decoder)
		for _, f := range sortedFields(ev) {
			fmt.Fprintf(bw, "\t%s: '%s'\n", f.Name, f.Value)
		}
	}
	if r := res.Rule; r != nil {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "**Phase 3: Completed filtering (rules).")
		fmt.Fprintf(bw, "\tid: '%d'\n", r.ID)
		fmt.Fprintf(bw, "\tlevel: '%d'\n", r.Level)
		fmt.Fprintf(bw, "\tdescription: '%s'\n", alertDescription(res))
		groups := make([]string, len(r.Groups))
		for i, g := range r.Groups {
			groups[i] = "'" + g + "'"
		}
		fmt.Fprintf(bw, "\tgroups: '[%s]'\n", strings.Join(groups, ", "))
		fmt.Fprintf(bw, "\tfiredtimes: '%d'\n", res.FiredTimes)
		fmt.Fprintf(bw, "\tchain: '%s'\n", strings.Join(chainIDs(res), " > "))
		if res.Alert != nil {
			fmt.Fprintln(bw, "**Alert to be generated.")
		}
	}
	return bw.Flush()
}

// logtestJSON is the --json form of one processed line.
type logtestJSON struct {
	Predecoder logtestPredecoder `json:"predecoder"`
	Decoder    *logtestDecoder   `json:"decoder"`
	Fields     map[string]string `json:"fields"`
	Rule       *logtestRule      `json:"rule"`
	Chain      []string          `json:"chain"`
	Alert      json.RawMessage   `json:"alert"`
}

type logtestPredecoder struct {
	FullLog     string `json:"full_log"`
	Timestamp   string `json:"timestamp,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	ProgramName string `json:"program_name,omitempty"`
	Location    string `json:"location"`
}

type logtestDecoder struct {
	Name string `json:"name"`
}

type logtestRule struct {
	ID          string   `json:"id"`
	Level       int      `json:"level"`
	Description string   `json:"description"`
	Groups      []string `json:"groups"`
	FiredTimes  int      `json:"firedtimes"`
}

func writeLogtestJSON(w io.Writer, res *analysis.Result) error {
	ev := res.Event
	o := logtestJSON{
		Predecoder: logtestPredecoder{
			FullLog: ev.FullLog, Timestamp: ev.Timestamp, Hostname: ev.Hostname,
			ProgramName: ev.ProgramName, Location: ev.Location,
		},
		Fields: map[string]string{},
		Chain:  chainIDs(res),
		Alert:  json.RawMessage("null"),
	}
	if res.Decoder != "" {
		o.Decoder = &logtestDecoder{Name: res.Decoder}
	}
	for _, f := range ev.Fields {
		o.Fields[f.Name] = f.Value
	}
	if r := res.Rule; r != nil {
		groups := r.Groups
		if groups == nil {
			groups = []string{}
		}
		o.Rule = &logtestRule{
			ID: strconv.Itoa(r.ID), Level: r.Level, Description: alertDescription(res),
			Groups: groups, FiredTimes: res.FiredTimes,
		}
	}
	if res.Alert != nil {
		o.Alert = json.RawMessage(res.Alert)
	}
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
