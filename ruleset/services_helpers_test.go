package ruleset_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/riposte/riposte/internal/analysis"
)

// lineCase is one log line of a service table test.
type lineCase struct {
	line    string
	decoder string // "" for no decoder
	rule    int    // 0: no rule
	level   int
	fields  map[string]string
}

// checkLines runs each line in a fresh session and checks the decoder, the
// rule, its level and the fields. Fields named in absent must not be set
// unless the case names them.
func checkLines(t *testing.T, e *analysis.Engine, tests []lineCase, absent ...string) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			res, err := e.Process(analysis.NewSession(), "journald", tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if res.Decoder != tt.decoder {
				t.Fatalf("decoder %q, want %q", res.Decoder, tt.decoder)
			}
			id, level := 0, 0
			if res.Rule != nil {
				id, level = res.Rule.ID, res.Rule.Level
			}
			if id != tt.rule || level != tt.level {
				t.Errorf("rule %d level %d, want %d level %d", id, level, tt.rule, tt.level)
			}
			for k, want := range tt.fields {
				if got, _ := res.Event.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			for _, k := range absent {
				if _, ok := tt.fields[k]; ok {
					continue
				}
				if got, ok := res.Event.Get(k); ok {
					t.Errorf("unexpected %s = %q", k, got)
				}
			}
			if tt.rule != 0 && tt.level >= 3 && res.Alert == nil {
				t.Error("no alert document")
			}
		})
	}
}

// freqCase is a sequence of lines fed to one session; the last one must
// end on rule, and when that is a correlation rule (level 10 or more) the
// alert must carry the decoder, the source address and group.
type freqCase struct {
	name    string
	lines   []string
	rule    int
	decoder string
	group   string
}

func checkFrequency(t *testing.T, e *analysis.Engine, tests []freqCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, e, tt.lines)
			if res.Rule == nil || res.Rule.ID != tt.rule {
				t.Fatalf("rule %v, want %d", res.Rule, tt.rule)
			}
			if res.Rule.Level < 10 {
				return
			}
			var a alertData
			if err := json.Unmarshal(res.Alert, &a); err != nil {
				t.Fatal(err)
			}
			if a.Rule.ID != fmt.Sprint(tt.rule) || a.Rule.Level != res.Rule.Level || a.Decoder.Name != tt.decoder ||
				a.Data.SrcIP == "" || !slices.Contains(a.Rule.Groups, tt.group) {
				t.Errorf("alert %s", res.Alert)
			}
		})
	}
}
