package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/execd"
)

// quietWindow is how long tests watch for something that must not happen.
const quietWindow = 800 * time.Millisecond

// TestWhiteList: white-listed sources (IPv4 CIDR, IPv4-mapped IPv6, IPv6
// CIDR) run nothing; another source runs.
func TestWhiteList(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, statefulScripts)
	cfg := writeConfig(t, dir, cmdStateful+"\n  "+response("stateful", "5712", 30, "")+
		"\n  <global><white_list>10.0.0.0/8</white_list><white_list>2001:db8::/32</white_list></global>", "", "")
	in := startRiposte(t, dir, cfg)

	allowed := []string{"10.1.2.3", "::ffff:10.9.9.9", "2001:db8::5"}
	body := ""
	for _, ip := range allowed {
		body += sshAlert(ip) + "\n"
	}
	resp := sendJSON(t, dir, body)
	if got := outcomes(resp); !slices.Equal(got, []string{"allowlisted", "allowlisted", "allowlisted"}) {
		t.Fatalf("outcomes %v, want allowlisted x3", got)
	}
	for i, r := range resp.Results {
		if d := r.Decisions[0]; !strings.Contains(d.Reason, "white list") || len(d.Delivery) != 0 {
			t.Errorf("alert %d (%s): decision %+v", i+1, allowed[i], d)
		}
	}
	in.expectLog(3, `msg="response not run"`, "outcome=allowlisted")
	time.Sleep(quietWindow)
	if recs := records(t, dir, "stateful"); len(recs) != 0 {
		t.Fatalf("the script ran for a white-listed source: %q", recs)
	}
	if rs := in.runs(); len(rs) != 0 {
		t.Fatalf("runs for white-listed sources: %+v", rs)
	}

	resp = sendJSON(t, dir, sshAlert("11.0.0.1"))
	if got := outcomes(resp); !slices.Equal(got, []string{"run"}) {
		t.Fatalf("outcome for 11.0.0.1: %v", got)
	}
	waitFor(t, 5*time.Second, "the script to run for 11.0.0.1", func() bool {
		return len(recorded(t, dir, "stateful", "continue", "11.0.0.1")) == 1
	})
	if all := recorded(t, dir, "stateful", "", ""); len(all) != 2 {
		t.Errorf("recorded %d messages, want the add and continue for 11.0.0.1 only", len(all))
	}
	in.stop()
}

// TestHostileValues: values that would be unsafe to hand to a script are
// rejected, logged with the reason, and nothing runs.
func TestHostileValues(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, map[string]string{"stateful": "stateful.py", "stateless": "stateless.py"})
	cfg := writeConfig(t, dir, cmdStateful+"\n  "+cmdStateless+"\n  "+
		response("stateful", "5712", 30, "")+"\n  "+response("stateless", "5720", 0, ""), "", "")
	in := startRiposte(t, dir, cfg)

	long := strings.Repeat("A", 5000)
	cases := []struct {
		name, alert, reason string
	}{
		{"semicolon", sshAlert("; rm -rf /"), `data.srcip "; rm -rf /" contains ';': possible logging attack`},
		{"command substitution", sshAlert("$(id)"), `data.srcip "$(id)" contains '$': possible logging attack`},
		{"5000 characters", sshAlert(long), `data.srcip is 5000 bytes long (limit 64): possible logging attack`},
		{"option-like user", alertDoc(alertSpec{RuleID: "5720", SrcIP: "198.51.100.9", DstUser: "-froot"}), `data.dstuser "-froot" starts with '-'`},
	}
	for _, c := range cases {
		resp := sendJSON(t, dir, c.alert)
		if len(resp.Results) != 1 || len(resp.Results[0].Decisions) != 1 {
			t.Fatalf("%s: answer %+v", c.name, resp)
		}
		d := resp.Results[0].Decisions[0]
		if d.Outcome != "rejected" || d.Reason != c.reason || len(d.Delivery) != 0 {
			t.Errorf("%s: decision %+v, want rejected with reason %q", c.name, d, c.reason)
		}
		in.expectLog(1, `msg="response not run"`, "outcome=rejected", "reason="+strconv.Quote(c.reason))
	}
	time.Sleep(quietWindow)
	for _, name := range []string{"stateful", "stateless"} {
		if recs := records(t, dir, name); len(recs) != 0 {
			t.Errorf("%s ran for a hostile value: %q", name, truncate(strings.Join(recs, "\n"), 300))
		}
	}
	if rs := in.runs(); len(rs) != 0 {
		t.Errorf("runs: %+v", rs)
	}
	if _, err := os.Stat(filepath.Join(dir, "records")); err == nil {
		t.Error("a fixture script was started")
	}
	// Control: a clean user name runs the stateless script.
	sendJSON(t, dir, alertDoc(alertSpec{RuleID: "5720", SrcIP: "198.51.100.9", DstUser: "mallory"}))
	waitFor(t, 5*time.Second, "the stateless script to run", func() bool { return len(records(t, dir, "stateless")) == 2 })
	if m := parseMessage(t, records(t, dir, "stateless")[1]); m.Command != "continue" || m.Parameters.Alert.Data.DstUser != "mallory" {
		t.Errorf("stateless reply %+v", m)
	}
	in.stop()
}

// TestMalformedBatch: one broken line makes alert send fail, naming it, and
// none of the good alerts of the batch runs.
func TestMalformedBatch(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, statefulScripts)
	cfg := writeConfig(t, dir, cmdStateful+"\n  "+response("stateful", "5712", 30, ""), "", "")
	in := startRiposte(t, dir, cfg)

	body := sshAlert("198.51.100.1") + "\n" + `{"rule": {"level": 10, "id": "5712"}, "data": {"srcip": ` + "\n" + sshAlert("198.51.100.2") + "\n"
	r := runCLI(t, body, "alert", "send", "--data-dir", dir, "-")
	if r.code == 0 {
		t.Fatalf("alert send of a batch with a broken line exited 0:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "line 2") || !strings.Contains(r.stderr, "none was accepted") {
		t.Errorf("alert send error does not name line 2:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "line 1)") || strings.Contains(r.stderr, "line 3)") {
		t.Errorf("alert send blames good lines:\n%s", r.stderr)
	}
	time.Sleep(quietWindow)
	if recs := records(t, dir, "stateful"); len(recs) != 0 {
		t.Fatalf("good alerts of a rejected batch ran: %q", recs)
	}
	if rs := in.runs(); len(rs) != 0 {
		t.Fatalf("runs: %+v", rs)
	}
	h := in.health()
	if h.Status != "ok" || h.Stats.AlertsMalformed != 1 || h.Stats.AlertsAccepted != 0 || h.Stats.Decisions != 0 {
		t.Errorf("health after the bad batch: %+v", h)
	}
	// Still alive and working.
	sendJSON(t, dir, sshAlert("198.51.100.3"))
	waitFor(t, 5*time.Second, "a later good alert to run", func() bool {
		return len(recorded(t, dir, "stateful", "continue", "198.51.100.3")) == 1
	})
	if n := len(recorded(t, dir, "stateful", "add", "")); n != 1 {
		t.Errorf("%d adds recorded, want 1", n)
	}
	in.stop()
}

// appendFile appends text to path.
func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAlertsJSONFollow: a followed alerts.json is read from its end on
// first sight, survives malformed lines, and remembers its offset across a
// restart.
func TestAlertsJSONFollow(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, map[string]string{"nokeys": "nokeys.sh"})
	alerts := filepath.Join(dir, "alerts.json")
	cfg := writeConfig(t, dir, cmdNokeys+"\n  "+response("nokeys", "5712", 0, ""), "", "<alerts_json>"+alerts+"</alerts_json>")
	appendFile(t, alerts, sshAlert("192.0.2.1")+"\n") // before the start: never acted on
	in := startRiposte(t, dir, cfg)

	// Sync: append alerts that trigger nothing until one is read, so that
	// the follower has certainly taken its starting position.
	probe := alertDoc(alertSpec{RuleID: "1002", Level: 2, SrcIP: "192.0.2.200"}) + "\n"
	for i := 0; ; i++ {
		appendFile(t, alerts, probe)
		deadline := time.Now().Add(600 * time.Millisecond)
		for time.Now().Before(deadline) && in.health().Stats.AlertsAccepted == 0 {
			time.Sleep(poll)
		}
		if in.health().Stats.AlertsAccepted > 0 {
			break
		}
		if i == 10 {
			t.Fatal("the followed alerts.json is not read")
		}
	}

	appendFile(t, alerts, sshAlert("192.0.2.10")+"\n"+sshAlert("192.0.2.11")+"\n")
	waitFor(t, 5*time.Second, "both appended alerts to run", func() bool { return len(records(t, dir, "nokeys")) >= 2 })

	appendFile(t, alerts, `{"rule": {"level": 10, "id": "5712"`+"\n")
	waitFor(t, 5*time.Second, "the malformed line to be counted", func() bool { return in.health().Stats.AlertsMalformed == 1 })
	in.expectLog(1, "malformed alert")
	in.stop()

	appendFile(t, alerts, sshAlert("192.0.2.12")+"\n") // while stopped
	in2 := startRiposte(t, dir, cfg)
	waitFor(t, 5*time.Second, "the alert appended while stopped to run", func() bool {
		return len(recorded(t, dir, "nokeys", "add", "192.0.2.12")) >= 1
	})
	time.Sleep(quietWindow) // nothing else may be (re)processed
	count := map[string]int{}
	for _, m := range recorded(t, dir, "nokeys", "", "") {
		if m.Command != "add" {
			t.Errorf("unexpected command %q", m.Command)
		}
		count[m.Parameters.Alert.Data.SrcIP]++
	}
	want := map[string]int{"192.0.2.10": 1, "192.0.2.11": 1, "192.0.2.12": 1}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("runs per source %v, want %v (the old line never, every other exactly once)", count, want)
	}
	if h := in2.health(); h.Stats.AlertsAccepted != 1 || h.Stats.AlertsMalformed != 0 {
		t.Errorf("health after the restart %+v, want exactly the one new alert read", h.Stats)
	}
	in2.stop()
}

// httpAddrRe finds the address of the HTTP listener in the log.
var httpAddrRe = regexp.MustCompile(`msg="accepting alerts over HTTP" addr=(\S+)`)

// TestHTTPAlerts: POST /v1/alerts on 127.0.0.1 runs responses; bad JSON is
// refused with 400 and an error naming the problem.
func TestHTTPAlerts(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, map[string]string{"nokeys": "nokeys.sh"})
	cfg := writeConfig(t, dir, cmdNokeys+"\n  "+response("nokeys", "5712", 0, ""), "127.0.0.1:0", "")
	in := startRiposte(t, dir, cfg)
	var m []string
	waitFor(t, 5*time.Second, "the 'accepting alerts over HTTP' log line with the address", func() bool {
		m = httpAddrRe.FindStringSubmatch(in.stderr.String())
		return m != nil
	})
	if !strings.HasPrefix(m[1], "127.0.0.1:") {
		t.Fatalf("HTTP listener on %s, want 127.0.0.1", m[1])
	}
	url := "http://" + m[1] + "/v1/alerts"
	hc := &http.Client{Timeout: 5 * time.Second}
	post := func(body string) (int, []byte) {
		t.Helper()
		resp, err := hc.Post(url, "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		return resp.StatusCode, b
	}

	code, b := post(sshAlert("203.0.113.50"))
	if code != http.StatusOK {
		t.Fatalf("POST alert: %d %s", code, b)
	}
	var ir api.IngestResponse
	if err := json.Unmarshal(b, &ir); err != nil || ir.Accepted != 1 || !slices.Equal(outcomes(ir), []string{"run"}) {
		t.Fatalf("POST alert answer (%v): %s", err, b)
	}
	waitFor(t, 5*time.Second, "the script to run", func() bool {
		return len(recorded(t, dir, "nokeys", "add", "203.0.113.50")) == 1
	})

	code, b = post(`{"rule": {"level": 10, "id": "5712"}, "data": {`)
	if code != http.StatusBadRequest {
		t.Fatalf("POST bad JSON: %d %s", code, b)
	}
	var eb api.ErrorBody
	if err := json.Unmarshal(b, &eb); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	if !strings.Contains(eb.Error, "malformed") || len(eb.Items) != 1 || eb.Items[0].Line != 1 ||
		!strings.Contains(eb.Items[0].Error, "invalid alert JSON") {
		t.Errorf("error body %s", b)
	}

	code, b = post(`{"rule": {"id": "5712"}, "data": {"srcip": "203.0.113.51"}}`)
	if code != http.StatusBadRequest || !strings.Contains(string(b), "rule.level") {
		t.Errorf("POST alert without rule.level: %d %s", code, b)
	}

	// What a web page in a local browser could send is refused: a simple
	// cross-site form (text/plain), a rebinding Host, and anything but
	// POST /v1/alerts on TCP.
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(sshAlert("203.0.113.52")))
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := hc.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain POST: %v %v", resp, err)
	}
	req, _ = http.NewRequest(http.MethodPost, url, strings.NewReader(sshAlert("203.0.113.53")))
	req.Header.Set("Content-Type", "application/json")
	req.Host = "evil.example"
	if resp, err := hc.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Host POST: %v %v", resp, err)
	}
	if resp, err := hc.Get("http://" + m[1] + "/v1/runs"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/runs over TCP: %v %v", resp, err)
	}

	time.Sleep(quietWindow / 2)
	if n := len(records(t, dir, "nokeys")); n != 1 {
		t.Errorf("%d runs recorded, want 1", n)
	}
	if h := in.health(); h.Stats.AlertsAccepted != 1 || h.Stats.AlertsMalformed != 2 {
		t.Errorf("stats %+v, want 1 accepted and 2 malformed", h.Stats)
	}
	in.stop()
}

// TestExplain: alert send --explain says which blocks matched and why the
// others did not.
func TestExplain(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, map[string]string{"nokeys": "nokeys.sh"})
	blocks := `<active-response>
    <command>nokeys</command>
    <location>local</location>
    <level>3</level>
  </active-response>
  <active-response>
    <command>nokeys</command>
    <location>local</location>
    <level>12</level>
  </active-response>
  <active-response>
    <command>nokeys</command>
    <location>local</location>
    <rules_group>web</rules_group>
  </active-response>`
	cfg := writeConfig(t, dir, cmdNokeys+"\n  "+blocks, "", "")
	text, _ := os.ReadFile(cfg)
	var lines []int // line of each <active-response>
	for i, l := range strings.Split(string(text), "\n") {
		if strings.Contains(l, "<active-response>") {
			lines = append(lines, i+1)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("config has %d blocks", len(lines))
	}
	in := startRiposte(t, dir, cfg)

	r := runCLI(t, alertDoc(alertSpec{RuleID: "5710", Level: 5, SrcIP: "203.0.113.60"}), "alert", "send", "--data-dir", dir, "--explain", "-")
	if r.code != 0 {
		t.Fatalf("alert send --explain: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := []string{
		fmt.Sprintf("block #0 %s:%d command nokeys location local: matched: rule level 5 >= 3", cfg, lines[0]),
		"outcome: run (triggered)",
		fmt.Sprintf("block #1 %s:%d command nokeys location local: no match: rule level 5 < 12", cfg, lines[1]),
		fmt.Sprintf(`block #2 %s:%d command nokeys location local: no match: groups "syslog,sshd,authentication_failures," do not match rules_group "web"`, cfg, lines[2]),
		"nokeys: run: triggered",
	}
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("--explain output lacks %q:\n%s", w, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, ": matched:"); n != 1 {
		t.Errorf("%d blocks reported matched, want 1:\n%s", n, r.stdout)
	}
	waitFor(t, 5*time.Second, "the matched block to run", func() bool { return len(in.runs()) == 1 })
	if rs := in.runs(); rs[0].Status != execd.StatusOK {
		t.Errorf("run %+v", rs[0])
	}
	time.Sleep(quietWindow / 2)
	if n := len(records(t, dir, "nokeys")); n != 1 {
		t.Errorf("%d runs recorded, want 1 (only the matched block)", n)
	}
	in.stop()
}

// TestAlertsJSONTwoFiles: every followed file keeps its own offset across a
// restart.
func TestAlertsJSONTwoFiles(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, map[string]string{"nokeys": "nokeys.sh"})
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	cfg := writeConfig(t, dir, cmdNokeys+"\n  "+response("nokeys", "5712", 0, ""), "",
		"<alerts_json>"+a+"</alerts_json><alerts_json>"+b+"</alerts_json>")
	appendFile(t, a, "")
	appendFile(t, b, "")
	in := startRiposte(t, dir, cfg)
	// Both files are new and empty: whatever is appended is read. Make
	// sure each follower has taken its position (see TestAlertsJSONFollow).
	probe := alertDoc(alertSpec{RuleID: "1002", Level: 2, SrcIP: "192.0.2.200"}) + "\n"
	for i, f := range []string{a, b} {
		for j := 0; ; j++ {
			appendFile(t, f, probe)
			deadline := time.Now().Add(600 * time.Millisecond)
			for time.Now().Before(deadline) && in.health().Stats.AlertsAccepted <= uint64(i) {
				time.Sleep(poll)
			}
			if in.health().Stats.AlertsAccepted > uint64(i) {
				break
			}
			if j == 10 {
				t.Fatalf("%s is not read", f)
			}
		}
	}
	appendFile(t, a, sshAlert("192.0.2.20")+"\n")
	waitFor(t, 5*time.Second, "the alert of a.json", func() bool { return len(records(t, dir, "nokeys")) == 1 })
	time.Sleep(1100 * time.Millisecond) // let a's follower save its offset
	appendFile(t, b, sshAlert("192.0.2.21")+"\n")
	waitFor(t, 5*time.Second, "the alert of b.json", func() bool { return len(records(t, dir, "nokeys")) == 2 })
	in.stop()

	appendFile(t, a, sshAlert("192.0.2.22")+"\n")
	appendFile(t, b, sshAlert("192.0.2.23")+"\n")
	in2 := startRiposte(t, dir, cfg)
	waitFor(t, 5*time.Second, "both alerts appended while stopped", func() bool {
		return len(recorded(t, dir, "nokeys", "add", "192.0.2.22")) == 1 && len(recorded(t, dir, "nokeys", "add", "192.0.2.23")) == 1
	})
	time.Sleep(quietWindow)
	if n := len(records(t, dir, "nokeys")); n != 4 {
		t.Errorf("%d runs, want 4", n)
	}
	in2.stop()
}

// TestSecondInstanceSameDataDir: a second riposte run on a data directory
// in use fails, and the first one keeps working.
func TestSecondInstanceSameDataDir(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, map[string]string{"nokeys": "nokeys.sh"})
	cfg := writeConfig(t, dir, cmdNokeys+"\n  "+response("nokeys", "5712", 0, ""), "", "")
	in := startRiposte(t, dir, cfg)

	r := runCLI(t, "", "run", "--config", cfg, "--data-dir", dir)
	if r.code == 0 {
		t.Fatalf("a second riposte run on the same data directory exited 0:\n%s", r.stderr)
	}
	if h := in.health(); h.Status != "ok" {
		t.Fatalf("the first instance: %+v", h)
	}
	sendJSON(t, dir, sshAlert("203.0.113.111"))
	waitFor(t, 5*time.Second, "the first instance to run the script", func() bool {
		return len(recorded(t, dir, "nokeys", "add", "203.0.113.111")) == 1
	})
	in.stop()
}
