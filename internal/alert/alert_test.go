package alert

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		err   string // substring; empty means success
		check func(t *testing.T, a *Alert)
	}{
		{
			name: "wazuh alert",
			doc: `{"timestamp":"2026-11-27T10:00:00.000+0000","rule":{"level":10,"description":"x","id":"5712","groups":["syslog","sshd"]},
			       "agent":{"id":"7","name":"web"},"id":"1764237600.1","data":{"srcip":"203.0.113.7","dstuser":"bob"}}`,
			check: func(t *testing.T, a *Alert) {
				if a.RuleID != "5712" || a.RuleLevel != 10 || a.AgentID != "007" || a.AgentName != "web" ||
					a.SrcIP != "203.0.113.7" || a.SrcIPField != "data.srcip" || a.DstUser != "bob" || a.ID != "1764237600.1" {
					t.Errorf("%+v", a)
				}
				if a.GroupString() != "syslog,sshd," {
					t.Errorf("groups %q", a.GroupString())
				}
				if strings.ContainsAny(string(a.Raw), "\n\t") {
					t.Errorf("raw not compact: %s", a.Raw)
				}
			},
		},
		{
			name: "numeric rule id, no agent is the manager",
			doc:  `{"rule":{"id":100,"level":"3"}}`,
			check: func(t *testing.T, a *Alert) {
				if a.RuleID != "100" || a.RuleLevel != 3 || a.AgentID != "000" {
					t.Errorf("%+v", a)
				}
			},
		},
		{
			name: "windows address first",
			doc:  `{"rule":{"id":"60122","level":5},"data":{"srcip":"1.1.1.1","win":{"eventdata":{"ipAddress":"192.0.2.9"}}}}`,
			check: func(t *testing.T, a *Alert) {
				if a.SrcIP != "192.0.2.9" || a.SrcIPField != "data.win.eventdata.ipAddress" {
					t.Errorf("%+v", a)
				}
			},
		},
		{
			name: "5.x shape",
			doc:  `{"rule":{"id":"1","level":5},"source":{"ip":"2001:db8::1"},"user":{"name":"eve"}}`,
			check: func(t *testing.T, a *Alert) {
				if a.SrcIP != "2001:db8::1" || a.DstUser != "eve" {
					t.Errorf("%+v", a)
				}
			},
		},
		{
			name: "no_ar option list",
			doc:  `{"rule":{"id":"1","level":5,"options":["no_log","no_ar"]}}`,
			check: func(t *testing.T, a *Alert) {
				if !a.NoAR {
					t.Error("no_ar not seen")
				}
			},
		},
		{name: "no rule", doc: `{"agent":{"id":"001"}}`, err: "rule: missing"},
		{name: "no level", doc: `{"rule":{"id":"1"}}`, err: "rule.level: missing"},
		{name: "bad level", doc: `{"rule":{"id":"1","level":99}}`, err: "rule.level"},
		{name: "bad id", doc: `{"rule":{"id":"1; rm","level":3}}`, err: "rule.id"},
		{name: "bad agent", doc: `{"rule":{"id":"1","level":3},"agent":{"id":"../x"}}`, err: "agent.id"},
		{name: "srcip not a string", doc: `{"rule":{"id":"1","level":3},"data":{"srcip":[1]}}`, err: "data.srcip: must be a string"},
		{name: "not an object", doc: `[1]`, err: "not a JSON object"},
		{name: "trailing garbage", doc: `{"rule":{"id":"1","level":3}} x`, err: "after the document"},
		{name: "broken", doc: `{"rule":`, err: "invalid alert JSON"},
		{name: "too large", doc: `{"rule":{"id":"1","level":3},"full_log":"` + strings.Repeat("a", MaxSize) + `"}`, err: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse([]byte(tt.doc))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, a)
		})
	}
}

func TestParseBatch(t *testing.T) {
	good := `{"rule":{"id":"1","level":3}}`
	pretty := "{\n  \"rule\": {\n    \"id\": \"2\",\n    \"level\": 4\n  }\n}\n"
	as, errs := ParseBatch([]byte(good + "\n" + good + "\n\n" + good + "\n"))
	if len(as) != 3 || len(errs) != 0 {
		t.Fatalf("json lines: %d alerts, %v", len(as), errs)
	}
	as, errs = ParseBatch([]byte(pretty))
	if len(as) != 1 || len(errs) != 0 || as[0].RuleID != "2" {
		t.Fatalf("pretty: %d alerts, %v", len(as), errs)
	}
	as, errs = ParseBatch([]byte(good + "\n{bad\n" + good + "\n" + `{"rule":{"id":"1"}}` + "\n"))
	if len(as) != 2 || len(errs) != 2 {
		t.Fatalf("mixed: %d alerts, %d errs", len(as), len(errs))
	}
	if errs[0].Line != 2 || errs[1].Line != 4 {
		t.Errorf("lines %d %d", errs[0].Line, errs[1].Line)
	}
	var fe *FieldError
	if !errors.As(errs[1], &fe) || fe.Field != "rule.level" {
		t.Errorf("second error %v", errs[1])
	}
	_, errs = ParseBatch([]byte(good + "\n" + `{"rule":{"id":"x","level":1}}`))
	if len(errs) != 1 || errs[0].Line != 2 {
		t.Fatalf("valid JSON, bad field: %v", errs)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"rule":{"id":"5712","level":10,"groups":["a"]},"data":{"srcip":"1.2.3.4"}}`))
	f.Add([]byte(`{"rule":{"id":1,"level":"3"},"agent":{"id":"1"},"source":{"ip":"::1"}}`))
	f.Add([]byte(`{"rule":{"id":"1","level":3,"options":"no_ar"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Parse(b)
		if err == nil && (a.RuleID == "" || a.RuleLevel < 0 || a.RuleLevel > 20 || len(a.AgentID) < 3) {
			t.Fatalf("accepted inconsistent alert %+v", a)
		}
		ParseBatch(b)
	})
}

func TestParseBatchResync(t *testing.T) {
	pretty := "{\n  \"rule\": {\"id\": \"2\", \"level\": 4}\n}\n"
	broken := "{\n  \"rule\": {\"id\": \"3\",\n"
	good := `{"rule":{"id":"1","level":3}}` + "\n"
	as, errs := ParseBatch([]byte(pretty + broken + good))
	if len(as) != 2 || len(errs) != 1 || errs[0].Line != 4 {
		t.Fatalf("%d alerts, errs %v", len(as), errs)
	}
}

func TestSourceIP(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"data":{"srcip":"203.0.113.7"}}`, "203.0.113.7"},
		{`{"data":{"win":{"eventdata":{"ipAddress":"198.51.100.1"}},"srcip":"203.0.113.7"}}`, "198.51.100.1"},
		{`{"source":{"ip":"2001:db8::1"}}`, "2001:db8::1"},
		{`{}`, ""},
	} {
		if got, err := SourceIP([]byte(tc.doc)); err != nil || got != tc.want {
			t.Errorf("SourceIP(%s) = %q, %v; want %q", tc.doc, got, err, tc.want)
		}
	}
	if _, err := SourceIP([]byte(`{"data":{"srcip":[1]}}`)); err == nil {
		t.Error("a srcip that is not a string accepted")
	}
}

// TestFromFields checks that FromFields returns what Parse reads from a
// document holding the given values, and refuses what Parse refuses.
func TestFromFields(t *testing.T) {
	for _, tc := range []struct {
		doc string
		f   Fields
	}{
		{`{"rule":{"level":10,"id":"5763","groups":["syslog","sshd"]},"agent":{"id":"000","name":"mgr"},"id":"1.2","data":{"srcip":"203.0.113.7","dstuser":"root"}}`,
			Fields{ID: "1.2", RuleID: "5763", RuleLevel: 10, RuleGroups: []string{"syslog", "sshd"}, AgentID: "000", AgentName: "mgr",
				SrcIP: "203.0.113.7", DstUser: "root"}},
		{`{"rule":{"level":0,"id":"1","groups":[],"options":["no_full_log"," no_ar"]},"agent":{"id":"7","ip":"::1","name":"web"}}`,
			Fields{RuleID: "1", RuleGroups: []string{}, RuleOptions: []string{"no_full_log", " no_ar"}, AgentID: "7", AgentName: "web"}},
		{`{"rule":{"level":5,"id":"60122"},"data":{"srcip":"1.1.1.1","win":{"eventdata":{"ipAddress":"192.0.2.9"}}}}`,
			Fields{RuleID: "60122", RuleLevel: 5, WinIPAddress: "192.0.2.9", SrcIP: "1.1.1.1"}},
		{`{"rule":{"level":5,"id":"1"},"data":{"srcip":"","win":{"eventdata":{"ipAddress":""}},"dstuser":""},"source":{"ip":"2001:db8::1"},"user":{"name":"eve"}}`,
			Fields{RuleID: "1", RuleLevel: 5, SourceIP: "2001:db8::1", UserName: "eve"}},
		{`{"rule":{"level":20,"id":"100"},"data":{"dstuser":"bob"},"user":{"name":"eve"}}`,
			Fields{RuleID: "100", RuleLevel: 20, DstUser: "bob", UserName: "eve"}},
	} {
		want, err := Parse([]byte(tc.doc))
		if err != nil {
			t.Fatalf("%s: %v", tc.doc, err)
		}
		got, err := FromFields([]byte(tc.doc), tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.doc, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("FromFields:\n got %+v\nwant %+v", got, want)
		}
	}

	ok := Fields{RuleID: "1", RuleLevel: 3}
	doc := []byte(`{"rule":{"id":"1","level":3}}`)
	for _, tc := range []struct {
		name string
		doc  []byte
		edit func(*Fields)
		err  string
	}{
		{"no rule id", doc, func(f *Fields) { f.RuleID = "" }, "rule.id: missing"},
		{"bad rule id", doc, func(f *Fields) { f.RuleID = "-1" }, "rule.id"},
		{"level below 0", doc, func(f *Fields) { f.RuleLevel = -1 }, "rule.level"},
		{"level above 20", doc, func(f *Fields) { f.RuleLevel = 21 }, "rule.level"},
		{"bad agent", doc, func(f *Fields) { f.AgentID = "../x" }, "agent.id"},
		{"not an object", []byte(`[1]`), func(*Fields) {}, "not a JSON object"},
		{"empty", nil, func(*Fields) {}, "not a JSON object"},
		{"too large", []byte(`{"full_log":"` + strings.Repeat("a", MaxSize) + `"}`), func(*Fields) {}, "too large"},
	} {
		f := ok
		tc.edit(&f)
		if _, err := FromFields(tc.doc, f); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
		}
	}
	var fe *FieldError
	if _, err := FromFields(doc, Fields{RuleID: "1", RuleLevel: 3, AgentID: "x"}); !errors.As(err, &fe) || fe.Field != "agent.id" {
		t.Errorf("bad agent id: %v", err)
	}
}

func TestPadID(t *testing.T) {
	slow := func(id string) string {
		id = strings.TrimLeft(id, "0")
		for len(id) < 3 {
			id = "0" + id
		}
		return id
	}
	for _, id := range []string{"", "0", "00", "000", "0000", "1", "01", "001", "0001", "12", "123", "1234", "01234", "100", "1000", "ab", "0ab", "abc", "00abc"} {
		if got, want := PadID(id), slow(id); got != want {
			t.Errorf("PadID(%q) = %q, want %q", id, got, want)
		}
	}
}
