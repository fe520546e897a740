package analysis

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// jsonNormal is s as encoding/json would carry it: marshalled (invalid
// UTF-8 becomes U+FFFD) and read back.
func jsonNormal(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

var escapeCases = []string{
	"", "plain", `quote " and backslash \`, "\x00\x01\x1f\x7f", "tab\tnl\nret\r",
	"é ü 日本 🙂", "\xff", "a\xc3", "\xc3(", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	"<script>&amp;</script>", "\u2028\u2029", "12345678\"12345678", "1234567\x80abcdefgh",
	"abcdefghijklmnop\\", "abcdefgh\x1fabcdefgh",
}

// checkAlert renders an alert with the given values everywhere a value can
// go and checks that encoding/json reads each of them back.
func checkAlert(t *testing.T, manager, desc, v1, v2, v3 string) {
	t.Helper()
	r := &Rule{ID: 100200, Level: 7, Description: "lit $(a)-$(b.c) $(d).",
		Groups: []string{"g1", "pci_dss_10.2", v1}, Options: []string{"no_email_alert"}, Mitre: []string{"T1110"}}
	r.descVars = true
	r.splitGroups()
	e := &Engine{opts: Options{ManagerName: manager}, byID: map[int]*Rule{r.ID: r}}
	e.prepareAlerts()
	dec := &Decoder{Name: v2}
	ev := &Event{FullLog: v1 + v2, Log: v3, Location: v3, ProgramName: v1, Hostname: v2, decoder: dec,
		Fields: []Field{{Name: "a", Value: v1}, {Name: "b.c", Value: v2}, {Name: "d", Value: v3}, {Name: v1, Value: v3}}}
	if v1 == "a" || v1 == "b" || v1 == "d" || strings.Contains(v1, ".") {
		ev.Fields = ev.Fields[:3]
	}
	now := time.Date(2026, 11, 27, 10, 0, 5, 123456789, time.FixedZone("x", 3600))
	b := e.alertDoc(ev, r, 3, now, nil, "0.1")
	if !r.alert.simple {
		t.Fatal("description not rendered piecewise")
	}
	// The piecewise description and the general one agree.
	r.alert.simple = false
	if b2 := e.alertDoc(ev, r, 3, now, nil, "0.1"); string(b2) != string(b) {
		t.Fatalf("piecewise %s\ngeneral   %s", b, b2)
	}
	// A description that cannot be escaped piecewise.
	r2 := *r
	r2.Description = "é" + desc + "$(a)$(d)"
	r2.prepareAlert()
	if r2.alert.simple {
		t.Fatal("description rendered piecewise")
	}
	var d2 struct{ Rule struct{ Description string } }
	b3 := e.alertDoc(ev, &r2, 1, now, nil, "0.1")
	if err := json.Unmarshal(b3, &d2); err != nil {
		t.Fatal(err)
	}
	if want := jsonNormal(t, "é"+desc+v1+v3); d2.Rule.Description != want {
		t.Fatalf("description %q, want %q", d2.Rule.Description, want)
	}
	var doc struct {
		Timestamp string `json:"timestamp"`
		Rule      struct {
			Level       int      `json:"level"`
			Description string   `json:"description"`
			ID          string   `json:"id"`
			Groups      []string `json:"groups"`
		} `json:"rule"`
		Agent      struct{ Name string } `json:"agent"`
		FullLog    string                `json:"full_log"`
		Predecoder struct {
			ProgramName string `json:"program_name"`
			Hostname    string `json:"hostname"`
		} `json:"predecoder"`
		Decoder  struct{ Name string } `json:"decoder"`
		Data     map[string]any        `json:"data"`
		Location string                `json:"location"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	n := func(s string) string { return jsonNormal(t, s) }
	wantDesc := n("lit " + v1 + "-" + v2 + " " + v3 + ".")
	for _, c := range [][2]string{
		{doc.Timestamp, "2026-11-27T09:00:05.123+0000"},
		{doc.Rule.Description, wantDesc},
		{doc.Rule.ID, "100200"},
		{doc.Agent.Name, n(manager)},
		{doc.FullLog, n(v1 + v2)},
		{doc.Predecoder.ProgramName, n(v1)},
		{doc.Predecoder.Hostname, n(v2)},
		{doc.Decoder.Name, n(v2)},
		{doc.Location, n(v3)},
		{doc.Data["a"].(string), n(v1)},
		{doc.Data["b"].(map[string]any)["c"].(string), n(v2)},
		{doc.Data["d"].(string), n(v3)},
	} {
		if c[0] != c[1] {
			t.Fatalf("got %q, want %q in %s", c[0], c[1], b)
		}
	}
	if len(doc.Rule.Groups) != 2 || doc.Rule.Groups[1] != n(v1) {
		t.Fatalf("groups %q in %s", doc.Rule.Groups, b)
	}
}

func TestAlertJSONEscaping(t *testing.T) {
	for i, s := range escapeCases {
		o := escapeCases[(i+1)%len(escapeCases)]
		checkAlert(t, s, o, s, o, s+o)
	}
}

func FuzzAlertJSON(f *testing.F) {
	for i, s := range escapeCases {
		f.Add(s, escapeCases[(i+3)%len(escapeCases)], s, "x\xc3", "\xa9y")
	}
	f.Fuzz(func(t *testing.T, manager, desc, v1, v2, v3 string) {
		checkAlert(t, manager, desc, v1, v2, v3)
	})
}

func TestAppendTimestamp(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 0, time.FixedZone("y", -7*3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 1e6, time.UTC),
		time.Date(5, 6, 7, 8, 9, 10, 11e6, time.UTC),
	} {
		want := tm.UTC().Format("2006-01-02T15:04:05.000-0700")
		if got := string(appendTimestamp(nil, tm)); got != want {
			t.Errorf("appendTimestamp(%v) = %q, want %q", tm, got, want)
		}
		e := &Engine{}
		for _, d := range []time.Duration{0, 0, time.Millisecond, 5 * time.Millisecond, time.Second, -time.Second} {
			tm := tm.Add(d)
			want := tm.UTC().Format("2006-01-02T15:04:05.000-0700")
			if got := string(e.appendTimestamp([]byte("x"), tm)); got != "x"+want {
				t.Errorf("cached appendTimestamp(%v) = %q, want %q", tm, got, want)
			}
		}
	}
}

func TestSplitDescription(t *testing.T) {
	ev := &Event{Fields: []Field{{Name: "a", Value: "A"}, {Name: "$(a", Value: "X"}, {Name: "", Value: "E"}}}
	for _, d := range []string{
		"", "plain", "$(a)", "x $(a) y", "$(a)$(a)", "$(", "x $(a", "$()", "$($(a))", "a)$(a)b$(", "$$(a))", "$(missing) z",
	} {
		r := &Rule{Description: d, descVars: true}
		var got strings.Builder
		for _, sg := range splitDescription(d) {
			if sg.isVar {
				v, _ := value(ev, sg.field)
				got.WriteString(v)
			} else {
				got.WriteString(sg.lit)
			}
		}
		if want := r.description(ev); got.String() != want {
			t.Errorf("%q: segments give %q, description %q", d, got.String(), want)
		}
	}
}

// TestRecycle: documents handed back are reused for later alerts, which
// come out the same as without reuse, whatever was left in the buffers.
func TestRecycle(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	fresh, reuse := newEngine(t, ruleDecoders, rules), newEngine(t, ruleDecoders, rules)
	fresh.now, reuse.now = func() time.Time { return now }, func() time.Time { return now }
	s1, s2 := NewSession(), NewSession()
	reused := 0
	var last []byte
	for i := range 50 {
		line := fmt.Sprintf("Jan  1 00:00:00 h app: login user=%s ip=1.1.%d.%d n=%d", strings.Repeat("b", i%7), i%3, i, i)
		want, err := fresh.Process(s1, "/var/log/auth.log", line)
		if err != nil {
			t.Fatal(err)
		}
		got, err := reuse.Process(s2, "/var/log/auth.log", line)
		if err != nil {
			t.Fatal(err)
		}
		if want.Alert == nil {
			t.Fatalf("line %d: no alert", i)
		}
		if string(got.Alert) != string(want.Alert) {
			t.Fatalf("line %d: reused document\n %s\nwant %s", i, got.Alert, want.Alert)
		}
		if last != nil && &got.Alert[:1][0] == &last[:1][0] {
			reused++
		}
		for j := range got.Alert {
			got.Alert[j] = 'X' // what a reused buffer may hold
		}
		last = got.Alert
		reuse.Recycle(got.Alert)
	}
	if reused == 0 {
		t.Error("no document reused a recycled buffer")
	}
}
