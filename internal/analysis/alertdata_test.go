package analysis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestAlertData checks what AlertData says of the data object of an alert
// against what encoding/json reads from it.
func TestAlertData(t *testing.T) {
	f := func(name, value string) Field { return Field{Name: name, Value: value} }
	const ip, srcip = "win.eventdata.ipAddress", "srcip"
	for _, tc := range []struct {
		fields []Field
		path   string
		want   string
		ok     bool
	}{
		{nil, srcip, "", true},
		{[]Field{f("srcport", "22"), f("srcip", "203.0.113.7")}, srcip, "203.0.113.7", true},
		{[]Field{f("srcip", "")}, srcip, "", true},
		{[]Field{f("src_ip", "203.0.113.7"), f("srcipx", "x"), f("xsrcip", "x")}, srcip, "", true},
		{[]Field{f("srcip", "\xff")}, srcip, "", false},
		{[]Field{{Name: "srcip", Value: `["203.0.113.7"]`, raw: true}}, srcip, "", false},
		{[]Field{f("srcip", "203.0.113.7"), f("srcip.v", "x")}, srcip, "", false},
		{[]Field{f("SrcIP", "203.0.113.7")}, srcip, "", false},
		{[]Field{f("srcıp", "203.0.113.7")}, srcip, "", false},
		{[]Field{f("ſrcip", "203.0.113.7")}, srcip, "", false},
		{[]Field{f("win.eventdata.ipAddress", "192.0.2.9"), f("win.system.id", "4625")}, ip, "192.0.2.9", true},
		{[]Field{f("win.system.id", "4625"), {Name: "win.eventdata.other", Value: "[1]", raw: true}}, ip, "", true},
		{[]Field{f("win.eventdata.ipAddress", "192.0.2.9")}, srcip, "", true},
		{[]Field{f("win", "x"), f("win.eventdata.ipAddress", "192.0.2.9")}, ip, "", false},
		{[]Field{f("win.eventdata", "x")}, ip, "", false},
		{[]Field{f("win.eventdata.ipAddress.v", "x")}, ip, "", false},
		{[]Field{f("win.eventData.ipAddress", "192.0.2.9")}, ip, "", false},
		{[]Field{f("win.eventdata.ipaddress", "192.0.2.9")}, ip, "", false},
		{[]Field{f("Win.eventdata.ipAddress", "192.0.2.9")}, ip, "", false},
		{[]Field{f("Win.eventdata.ipAddress", "192.0.2.9"), f("srcip", "203.0.113.7")}, srcip, "203.0.113.7", true},
	} {
		ev := &Event{Fields: tc.fields}
		v, ok := ev.AlertData(tc.path)
		if v != tc.want || ok != tc.ok {
			t.Errorf("%v: AlertData(%q) = %q, %v; want %q, %v", tc.fields, tc.path, v, ok, tc.want, tc.ok)
		}
		if !ok {
			continue
		}
		// A reader of the document finds the same.
		var d struct {
			SrcIP json.RawMessage `json:"srcip"`
			Win   *struct {
				EventData *struct {
					IPAddress json.RawMessage `json:"ipAddress"`
				} `json:"eventdata"`
			} `json:"win"`
		}
		doc := appendFields(nil, tc.fields)
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		raw := d.SrcIP
		if tc.path == ip {
			raw = nil
			if d.Win != nil && d.Win.EventData != nil {
				raw = d.Win.EventData.IPAddress
			}
		}
		var s string
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Errorf("%s: %s is %s: %v", doc, tc.path, raw, err)
			}
		}
		if s != v {
			t.Errorf("%s: %s is %q, AlertData says %q", doc, tc.path, s, v)
		}
	}
}

// TestAlertIDAndGroups checks Result.AlertID and Rule.AlertGroups against
// the alert documents.
func TestAlertIDAndGroups(t *testing.T) {
	dir := filepath.Join("testdata", "sshd-bruteforce")
	e, err := Load(Options{
		Decoders: []string{filepath.Join(dir, "decoders.xml")},
		Rules:    []string{filepath.Join(dir, "rules.xml")},
	})
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.ReadFile(filepath.Join(dir, "input.log"))
	if err != nil {
		t.Fatal(err)
	}
	sess := NewSession()
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(in))
	for sc.Scan() {
		res, err := e.Process(sess, "/var/log/auth.log", sc.Text())
		if err != nil {
			t.Fatal(err)
		}
		if res.Alert == nil {
			if res.AlertID != "" {
				t.Errorf("AlertID %q without an alert", res.AlertID)
			}
			continue
		}
		n++
		var doc struct {
			ID   string
			Rule struct{ Groups []string }
		}
		if err := json.Unmarshal(res.Alert, &doc); err != nil {
			t.Fatal(err)
		}
		if res.AlertID != doc.ID || res.AlertID == "" {
			t.Errorf("AlertID %q, document id %q", res.AlertID, doc.ID)
		}
		if g := res.Rule.AlertGroups(); !reflect.DeepEqual(g, doc.Rule.Groups) {
			t.Errorf("AlertGroups %#v, document %#v", g, doc.Rule.Groups)
		}
	}
	if n == 0 {
		t.Fatal("no alert")
	}

	// Groups that are not UTF-8, or all compliance groups.
	for _, groups := range [][]string{{"a\xffb", "pci_dss_1", "\xed\xa0\x80"}, {"gdpr_x"}, nil} {
		r := &Rule{ID: 1, Level: 3, Groups: groups}
		r.splitGroups()
		b := (&Engine{}).alertDoc(&Event{}, r, 1, e.clock(), nil, "0.1")
		var doc struct{ Rule struct{ Groups []string } }
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if g := r.AlertGroups(); !reflect.DeepEqual(g, doc.Rule.Groups) {
			t.Errorf("AlertGroups %#v, document %#v", g, doc.Rule.Groups)
		}
		r.prepareAlert()
		if g := r.AlertGroups(); !reflect.DeepEqual(g, doc.Rule.Groups) {
			t.Errorf("AlertGroups %#v after Load, document %#v", g, doc.Rule.Groups)
		}
	}
}
