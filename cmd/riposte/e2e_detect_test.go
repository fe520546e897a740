package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/execd"
)

// TestBruteForceFromLogFile: failed SSH logins written to a followed auth
// log end, through Riposte's own decoders and rules, in a block in the
// kernel (riposte run inside a network namespace), lifted after its timeout.
func TestBruteForceFromLogFile(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	ns := newNetns(t)
	dir := newDataDir(t, nil)
	authLog := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(authLog, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir,
		`<command><name>firewall-drop</name><executable>firewall-drop</executable><timeout_allowed>yes</timeout_allowed></command>
  <active-response><command>firewall-drop</command><location>local</location><rules_id>5712,5720,5763</rules_id><timeout>4</timeout></active-response>
  <localfile><log_format>syslog</log_format><location>`+authLog+`</location></localfile>`,
		"", "<firewall_backend>nftables</firewall_backend>")
	in := startRiposteIn(t, dir, cfg, ns)
	waitFor(t, 5*time.Second, "the log file to be followed", func() bool {
		return len(in.logLines("following log file")) == 1
	})

	f, err := os.OpenFile(authLog, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Seven failures from one address and noise from others: no block yet.
	for i := 0; i < 7; i++ {
		fmt.Fprintf(f, "Nov 27 10:00:%02d web01 sshd[%d]: Failed password for root from 203.0.113.99 port %d ssh2\n", i, 4000+i, 50000+i)
		fmt.Fprintf(f, "Nov 27 10:00:%02d web01 sshd[%d]: Failed password for root from 198.51.100.%d port 22 ssh2\n", i, 5000+i, i+1)
	}
	time.Sleep(quietWindow)
	if strings.Contains(nftTable(ns), "203.0.113.99") {
		t.Fatal("blocked before the brute-force threshold")
	}
	written := time.Now()
	fmt.Fprintf(f, "Nov 27 10:00:08 web01 sshd[4008]: Failed password for root from 203.0.113.99 port 50008 ssh2\n")
	waitFor(t, 5*time.Second, "the attacker in the kernel set", func() bool {
		return strings.Contains(nftTable(ns), "203.0.113.99")
	})
	t.Logf("line written → address in the kernel set: %s (polled every 20ms)", time.Since(written).Round(time.Millisecond))
	for i := 1; i <= 7; i++ {
		if strings.Contains(nftTable(ns), fmt.Sprintf("198.51.100.%d ", i)) {
			t.Errorf("198.51.100.%d blocked after one failure", i)
		}
	}
	alerts := readFile(filepath.Join(dir, "logs", "alerts", "alerts.json"))
	if !strings.Contains(alerts, `"id":"5763"`) || !strings.Contains(alerts, `"srcip":"203.0.113.99"`) {
		t.Errorf("alerts.json lacks the brute-force alert:\n%s", truncate(alerts, 3000))
	}
	waitFor(t, 10*time.Second, "the block to be lifted after its timeout", func() bool {
		return len(runsWhere(in.runs(), func(r execd.Result) bool { return r.Verb == "delete" && r.Status == execd.StatusOK })) == 1
	})
	if strings.Contains(nftTable(ns), "203.0.113.99") {
		t.Fatal("still blocked after the delete")
	}
	in.stop()
}

// TestMultiLineLocalFile: a multi-line:2 source makes one event of every two
// lines, and the joined event is what the rules see.
func TestMultiLineLocalFile(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, map[string]string{"nokeys": "nokeys.sh"})
	app := filepath.Join(dir, "app.log")
	if err := os.WriteFile(app, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, cmdNokeys+`
  <active-response><command>nokeys</command><location>local</location><rules_id>5760</rules_id></active-response>
  <localfile><log_format>multi-line:2</log_format><location>`+app+`</location></localfile>`, "", "")
	in := startRiposte(t, dir, cfg)
	in.expectLog(1, "following log file")
	f, err := os.OpenFile(app, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The header and the message arrive on two lines.
	fmt.Fprintf(f, "Nov 27 10:00:00 web01 sshd[4000]: Failed password for root\nfrom 203.0.113.61 port 50000 ssh2\n")
	waitFor(t, 5*time.Second, "the joined event to trigger the response", func() bool {
		return len(recorded(t, dir, "nokeys", "add", "203.0.113.61")) == 1
	})
	in.stop()
}
