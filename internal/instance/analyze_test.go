package instance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/analysis"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/ruleset"
)

// jsonDecoders and jsonRules add JSON events to the built-in ruleset, so
// that alerts carry nested data (win.eventdata.ipAddress, ...).
const (
	jsonDecoders = `<decoder name="json">
  <prematch>^{\s*"</prematch>
  <plugin_decoder>JSON_Decoder</plugin_decoder>
</decoder>`
	jsonRules = `<group name="json,test,">
  <rule id="300000" level="5">
    <decoded_as>json</decoded_as>
    <description>JSON event from $(srcip).</description>
    <group>pci_dss_10.2.4,gdpr_IV_35.7.d,</group>
  </rule>
  <rule id="300001" level="7">
    <if_sid>300000</if_sid>
    <field name="action">drop</field>
    <description>Dropped.</description>
    <options>no_full_log,no_ar</options>
  </rule>
</group>
<group name="pci_dss_1,">
  <rule id="300002" level="4">
    <if_sid>300000</if_sid>
    <field name="action">compliance</field>
    <description>Compliance groups only.</description>
  </rule>
</group>`
)

// loadTestRuleset loads the built-in ruleset and the JSON test rules.
func loadTestRuleset(tb testing.TB, managerName string) *analysis.Engine {
	tb.Helper()
	dir := tb.TempDir()
	if err := ruleset.WriteTo(dir); err != nil {
		tb.Fatal(err)
	}
	decs := filepath.Join(dir, "9000-json-decoders.xml")
	rules := filepath.Join(dir, "9000-json-rules.xml")
	if err := os.WriteFile(decs, []byte(jsonDecoders), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(rules, []byte(jsonRules), 0o644); err != nil {
		tb.Fatal(err)
	}
	eng, err := analysis.Load(analysis.Options{
		Decoders:    []string{filepath.Join(dir, ruleset.DecodersDir), decs},
		Rules:       []string{filepath.Join(dir, ruleset.RulesDir), rules},
		ManagerName: managerName,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return eng
}

// plainLines are log lines of every kind the built-in ruleset and the JSON
// test rules alert on.
func plainLines() []string {
	var lines []string
	sshd := func(format string, a ...any) {
		lines = append(lines, "Nov 27 10:00:00 bastion sshd[123]: "+fmt.Sprintf(format, a...))
	}
	// Brute force (5763, with previous_output) from IPv4 and IPv6.
	for _, ip := range []string{"203.0.113.7", "2001:db8::7", "::ffff:198.51.100.9"} {
		for i := range 10 {
			sshd("Failed password for root from %s port %d ssh2", ip, 40000+i)
		}
	}
	for i := range 9 {
		sshd("Failed password for invalid user oracle from 198.51.100.9 port %d ssh2", 51000+i)
	}
	sshd("Invalid user oracle from 198.51.100.9 port 51234")
	sshd("Failed password for invalid user \xff\xfeadmin from 198.51.100.10 port 1 ssh2")
	sshd("Failed password for invalid user a\"b\\c<d>&e\u2028 from 198.51.100.11 port 1 ssh2")
	sshd("Failed password for invalid user  from 198.51.100.12 port 1 ssh2")
	sshd("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=root")
	sshd("Accepted publickey for alice from 192.0.2.10 port 50514 ssh2: ED25519 SHA256:Xyz")
	sshd("Connection closed by authenticating user root 203.0.113.7 port 40001 [preauth]")
	lines = append(lines,
		"Nov 27 10:00:00 bastion su[2001]: pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root",
		"Nov 27 10:00:00 bastion sudo[900]: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice",
		"Nov 27 10:00:07 bastion sudo[900]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/true",
		"Nov 27 10:00:00 mail dovecot[1]: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=ghost rhost=::ffff:203.0.113.9",
		"Nov 27 10:00:00 ftp vsftpd[812]: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=u1 rhost=198.51.100.23  user=carol",
		`2001:db8::5 - alice [27/Nov/2026:10:00:00 -0500] "POST /api/login HTTP/2.0" 401 17`,
		`203.0.113.50 - - [27/Nov/2026:10:00:00 -0500] "GET /wp-login.php HTTP/1.1" 404 17`,
	)
	for range 12 {
		lines = append(lines, "Nov 27 10:00:00 mx postfix/smtpd[1000]: warning: unknown[203.0.113.50]: SASL LOGIN authentication failed: UGFzc3dvcmQ6")
	}
	// JSON events: nested data, Windows addresses, numbers.
	lines = append(lines,
		`{"win":{"system":{"eventID":"4625"},"eventdata":{"ipAddress":"192.0.2.44","targetUserName":"admin"}}}`,
		`{"win":{"eventdata":{"ipAddress":"192.0.2.45"}},"srcip":"203.0.113.45","dstuser":"bob"}`,
		`{"win":{"eventdata":{"ipAddress":""}},"srcip":"203.0.113.46"}`,
		`{"win":{"eventdata":{"ipAddress":"2001:db8::46"}},"action":"drop"}`,
		`{"srcip":"203.0.113.47","action":"drop"}`,
		`{"srcip":"203.0.113.48","action":"compliance"}`,
		`{"srcip":"203.0.113.49","user":"mallory"}`,
		`{"srcip":12345,"dstuser":42}`,
		`{"srcip":1.5e3}`,
		`{"srcip":null,"dstuser":"x"}`,
		`{"srcip":"203.0.113.68\ud800x","dstuser":"\u00e9t\u00e9"}`,
		`{"srcip":"","dstuser":""}`,
		`{"a.b":"dotted","a":{"c":"d"},"srcip":"203.0.113.69"}`,
		`{"src_ip":"203.0.113.58","dst_user":"eve","tags":["x","y"]}`,
		`{"action":"drop"}`,
		`{}`,
	)
	return lines
}

// oddLines are JSON events whose alerts a reader may see otherwise than
// the engine's fields suggest: values that are not strings where strings
// are read, names that differ only in case.
func oddLines() []string {
	return []string{
		`{"srcip":["203.0.113.50"]}`,
		`{"srcip":{"v4":"203.0.113.51"}}`,
		`{"dstuser":["a","b"],"srcip":"203.0.113.52"}`,
		`{"SrcIP":"203.0.113.53"}`,
		`{"srcip":"203.0.113.54","SRCIP":"203.0.113.55"}`,
		`{"srcıp":"203.0.113.56"}`,
		`{"ſrcip":"203.0.113.57"}`,
		`{"Win":{"EventData":{"IpAddress":"192.0.2.59"}}}`,
		`{"win":"text","srcip":"203.0.113.60"}`,
		`{"win":{"eventdata":"text"},"srcip":"203.0.113.61"}`,
		`{"win":{"eventdata":{"ipAddress":["192.0.2.62"]}},"srcip":"203.0.113.62"}`,
		`{"win":{"eventdata":{"ipAddress":{"v":"x"}}},"srcip":"203.0.113.63"}`,
		`{"win":{"eventdata":{"ipAddress":"192.0.2.64","other":[1,2]}},"srcip":[1]}`,
		`{"win":{"eventdata":{"ipaddress":"192.0.2.65"}}}`,
		`{"data":{"srcip":"203.0.113.66"},"source":{"ip":"203.0.113.67"},"user":{"name":"u"}}`,
		`{"srcip.x":"y","srcip":"203.0.113.70"}`,
		`{"dstuser":"root","dstuser.name":"x"}`,
	}
}

// TestResultAlert checks that the alert built from an analysis result is
// the one alert.Parse reads from its document, field by field, for events
// from this host and from agents, and that the alerts of plain lines are
// built without reading the document back when the names of the manager
// and the agent are valid UTF-8.
func TestResultAlert(t *testing.T) {
	agents := []fleet.Agent{
		{},
		{ID: "001", Name: "web-1", RegisteredIP: "10.0.0.1"},
		{ID: "12", Name: "<db> & \"co\"", Last: fleet.Heartbeat{Addresses: []string{"2001:db8::1"}}},
		{ID: "003", Name: "bad\xffname"},
		{ID: "web", Name: "not a number"},
	}
	for _, manager := range []string{"mgr-1", "mgr <&> \u2028", "mgr\xff"} {
		eng := loadTestRuleset(t, manager)
		for _, ag := range agents {
			sess := analysis.NewSession()
			built, parsed, alerts := 0, 0, 0
			plain := plainLines()
			for i, line := range append(plain, oddLines()...) {
				location := "/var/log/auth.log"
				if ag.ID != "" {
					location = "(" + ag.Name + ") any->/var/log/auth.log"
				}
				res, err := eng.Process(sess, location, line)
				if err != nil {
					t.Fatal(err)
				}
				if res.Alert == nil || res.Rule == nil {
					continue
				}
				alerts++
				var c bytes.Buffer
				if err := json.Compact(&c, res.Alert); err != nil || !bytes.Equal(c.Bytes(), res.Alert) {
					t.Errorf("%q: the alert is not compact JSON (%v): %s", line, err, res.Alert)
				}
				doc := res.Alert
				var agent *fleet.Agent
				if ag.ID != "" {
					var rewritten bool
					if doc, rewritten = withAgent(doc, manager, ag); rewritten {
						agent = &ag
					}
				}
				want, wantErr := alert.Parse(doc)
				got, gotErr := resultAlert(res, doc, eng.ManagerName(), agent)
				if (wantErr == nil) != (gotErr == nil) {
					t.Errorf("%q (agent %q): error %v, alert.Parse: %v\n%s", line, ag.ID, gotErr, wantErr, doc)
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%q (agent %q):\n got %+v\nwant %+v\n%s", line, ag.ID, got, want, doc)
				}
				_, ok := alertFields(res, eng.ManagerName(), agent)
				if ok {
					built++
				} else {
					parsed++
				}
				validNames := utf8.ValidString(manager) && utf8.ValidString(ag.Name)
				if i < len(plain) && validNames && !ok {
					t.Errorf("%q (manager %q, agent %q): alert read back", line, manager, ag.ID)
				}
			}
			t.Logf("manager %q, agent %q: %d alerts, %d built, %d read back", manager, ag.ID, alerts, built, parsed)
			if alerts < 90 {
				t.Errorf("only %d alerts", alerts)
			}
		}
	}
}

// FuzzResultAlert checks, for any line, that the alert built from the
// analysis result is the one alert.Parse reads from its document.
func FuzzResultAlert(f *testing.F) {
	for _, l := range append(plainLines(), oddLines()...) {
		f.Add(l)
	}
	eng := loadTestRuleset(f, "fuzz")
	f.Fuzz(func(t *testing.T, line string) {
		res, err := eng.Process(analysis.NewSession(), "/var/log/auth.log", line)
		if err != nil || res.Alert == nil || res.Rule == nil {
			return
		}
		want, wantErr := alert.Parse(res.Alert)
		got, gotErr := resultAlert(res, res.Alert, eng.ManagerName(), nil)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("error %v, alert.Parse: %v\n%s", gotErr, wantErr, res.Alert)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("\n got %+v\nwant %+v\n%s", got, want, res.Alert)
		}
	})
}

// TestAlertsFile checks that buffered alerts reach alerts.json whole and
// in order, at a flush or once the buffer is full.
func TestAlertsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.json")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &alertsFile{f: f, log: slog.New(slog.DiscardHandler)}
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	w.write([]byte(`{"id":"1"}`))
	if got := read(); got != "" {
		t.Fatalf("written before a flush: %q", got)
	}
	w.flush()
	if got := read(); got != "{\"id\":\"1\"}\n" {
		t.Fatalf("after a flush: %q", got)
	}
	var want strings.Builder
	want.WriteString("{\"id\":\"1\"}\n")
	big := `{"id":"` + strings.Repeat("x", alertsBuffer) + `"}`
	for i := range 100 {
		doc := fmt.Sprintf(`{"id":"%d","pad":"%s"}`, i, strings.Repeat("y", i*37))
		if i == 50 {
			doc = big
		}
		w.write([]byte(doc))
		want.WriteString(doc + "\n")
		// Only whole lines are written.
		got := read()
		if !strings.HasSuffix(got, "\n") || !strings.HasPrefix(want.String(), got) {
			t.Fatalf("after alert %d the file holds part of what was written (%d of %d bytes)", i, len(got), want.Len())
		}
		// An alert longer than the buffer fills it: all so far is written.
		if i == 50 && got != want.String() {
			t.Fatalf("a full buffer was not written: %d of %d bytes", len(got), want.Len())
		}
	}
	w.flush()
	if got := read(); got != want.String() {
		t.Fatalf("alerts.json holds %d bytes, want %d", len(got), want.Len())
	}
}

// bruteForce returns an engine and a session in which every further
// failed password from 100.64.0.1 ends on rule 5763 (with previous_output),
// and such a line.
func bruteForce(b *testing.B) (*analysis.Engine, *analysis.Session, string) {
	eng := loadTestRuleset(b, "bench")
	sess := analysis.NewSession()
	line := "Nov 27 10:00:00 web01 sshd[4000]: Failed password for root from 100.64.0.1 port 50000 ssh2"
	for range 8 {
		if _, err := eng.Process(sess, "/var/log/auth.log", line); err != nil {
			b.Fatal(err)
		}
	}
	res, err := eng.Process(sess, "/var/log/auth.log", line)
	if err != nil || res.Rule == nil || res.Rule.ID != 5763 {
		b.Fatalf("not a 5763 alert: %v", err)
	}
	return eng, sess, line
}

// BenchmarkAlert5763 measures the alert of a 5763 line as the analysis
// loop gets it: read back from the document (parse) or taken from the
// result (built), alone and with Engine.Process (line).
func BenchmarkAlert5763(b *testing.B) {
	eng, sess, line := bruteForce(b)
	res, _ := eng.Process(sess, "/var/log/auth.log", line)
	name := eng.ManagerName()
	get := map[string]func(*analysis.Result) (*alert.Alert, error){
		"parse": func(res *analysis.Result) (*alert.Alert, error) { return alert.Parse(res.Alert) },
		"built": func(res *analysis.Result) (*alert.Alert, error) { return resultAlert(res, res.Alert, name, nil) },
	}
	for _, how := range []string{"parse", "built"} {
		b.Run("alert/"+how, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := get[how](res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, how := range []string{"parse", "built"} {
		b.Run("line/"+how, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := eng.Process(sess, "/var/log/auth.log", line)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := get[how](res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAlertsFile measures writing the alerts of a brute force to
// alerts.json, eight alerts an address of which the last triggers a
// response: one write an alert (direct), or buffered and written before
// the response (buffered).
func BenchmarkAlertsFile(b *testing.B) {
	eng, sess, line := bruteForce(b)
	res, _ := eng.Process(sess, "/var/log/auth.log", line)
	doc := res.Alert
	open := func(b *testing.B) *os.File {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "alerts.json"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		return f
	}
	b.Run("direct", func(b *testing.B) {
		f := open(b)
		b.SetBytes(int64(len(doc) + 1))
		for b.Loop() {
			if _, err := f.Write(append(doc, '\n')); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("buffered", func(b *testing.B) {
		w := &alertsFile{f: open(b), log: slog.New(slog.DiscardHandler)}
		b.SetBytes(int64(len(doc) + 1))
		i := 0
		for b.Loop() {
			w.write(doc)
			if i++; i%8 == 0 {
				w.flush()
			}
		}
		w.flush()
	})
}

// TestAnswerAfterTheEnd: alerts still queued when the instance stops reach
// alerts.json, in order, and are not answered.
func TestAnswerAfterTheEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	found := make(chan analyzed, 10)
	a, err := alert.Parse([]byte(`{"rule":{"id":"5763","level":10},"data":{"srcip":"203.0.113.7"}}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		found <- analyzed{doc: fmt.Appendf(nil, `{"n":%d}`, i), alert: a}
	}
	close(found)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A zero Instance: answering would use its engine and fail.
	(&Instance{}).answer(ctx, found, &alertsFile{f: f, log: slog.New(slog.DiscardHandler)}, nil, func([]byte) {})
	b, _ := os.ReadFile(path)
	if want := "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n"; string(b) != want {
		t.Errorf("alerts.json = %q, want %q", b, want)
	}
}

// TestAnswerRecycles: the documents of alerts that are only written go to
// recycle once copied for alerts.json (scribbling over them changes
// nothing written); those of alerts to answer are kept.
func TestAnswerRecycles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := alert.Parse([]byte(`{"rule":{"id":"5763","level":10},"data":{"srcip":"203.0.113.7"}}`))
	if err != nil {
		t.Fatal(err)
	}
	found := make(chan analyzed, 10)
	var kept [][]byte
	var want strings.Builder
	for i := range 6 {
		doc := fmt.Appendf(nil, `{"n":%d}`, i)
		fmt.Fprintf(&want, "%s\n", doc)
		item := analyzed{doc: doc}
		if i%3 == 0 {
			item.alert = a
			kept = append(kept, doc)
		}
		found <- item
	}
	close(found)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // written, not answered
	recycled := 0
	(&Instance{}).answer(ctx, found, &alertsFile{f: f, log: slog.New(slog.DiscardHandler)}, nil, func(doc []byte) {
		for _, k := range kept {
			if &k[0] == &doc[0] {
				t.Errorf("the document of an alert to answer, %s, was recycled", doc)
			}
		}
		for i := range doc {
			doc[i] = 'X'
		}
		recycled++
	})
	if recycled != 4 {
		t.Errorf("%d documents recycled, want 4", recycled)
	}
	if b, _ := os.ReadFile(path); string(b) != want.String() {
		t.Errorf("alerts.json = %q, want %q", b, want.String())
	}
}

// BenchmarkAttackAnalysis analyses what the attack measurement writes
// (10,000 addresses failing eight passwords each: rule 5760 seven times,
// then 5763) as the analysis loop does: each line through Engine.Process,
// and the alerts that may trigger a response made into alerts. The figure
// is per line; consecutive has each address's lines follow each other,
// interleaved has the addresses take turns.
func BenchmarkAttackAnalysis(b *testing.B) {
	const addrs = 10000
	for _, interleaved := range []bool{false, true} {
		name := "consecutive"
		if interleaved {
			name = "interleaved"
		}
		b.Run(name, func(b *testing.B) {
			eng := loadTestRuleset(b, "bench")
			lines := make([]string, 0, 8*addrs)
			for i := range addrs * 8 {
				addr, round := i/8, i%8
				if interleaved {
					addr, round = i%addrs, i/addrs
				}
				lines = append(lines, fmt.Sprintf("Nov 27 10:00:00 web01 sshd[%d]: Failed password for root from 100.%d.%d.%d port 50000 ssh2", round, 64+(addr>>16), addr>>8&255, addr&255))
			}
			name := eng.ManagerName()
			var sess *analysis.Session
			alerts := 0
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%len(lines) == 0 {
					if sess != nil && alerts != addrs {
						b.Fatalf("%d 5763 alerts for %d addresses", alerts, addrs)
					}
					sess, alerts = analysis.NewSession(), 0
				}
				res, err := eng.Process(sess, "/var/log/auth.log", lines[i%len(lines)])
				if err != nil || res.Rule == nil {
					b.Fatalf("line %q: no rule (%v)", lines[i%len(lines)], err)
				}
				if res.Rule.ID == 5763 {
					if _, err := resultAlert(res, res.Alert, name, nil); err != nil {
						b.Fatal(err)
					}
					alerts++
				}
			}
		})
	}
}
