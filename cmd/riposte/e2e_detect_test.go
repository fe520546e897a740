package main_test

import (
	"fmt"
	"os"
	"os/exec"
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
	in := startRiposteIn(t, dir, bruteForceConfig(t, dir, `<log_format>syslog</log_format><location>`+authLog+`</location>`), ns)
	waitFor(t, 5*time.Second, "the log file to be followed", func() bool {
		return len(in.logLines("following log file")) == 1
	})
	f, err := os.OpenFile(authLog, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sshBruteForce(t, ns, in, "203.0.113.99", func(pid int, message string) {
		fmt.Fprintf(f, "Nov 27 10:00:00 web01 sshd[%d]: %s\n", pid, message)
	})
}

// bruteForceConfig writes, in dir, the configuration of the brute-force
// tests: firewall-drop on nftables for 4 s on rules 5712, 5720 and 5763,
// and one <localfile> of the given content.
func bruteForceConfig(t *testing.T, dir, localfile string) string {
	return writeConfig(t, dir,
		`<command><name>firewall-drop</name><executable>firewall-drop</executable><timeout_allowed>yes</timeout_allowed></command>
  <active-response><command>firewall-drop</command><location>local</location><rules_id>5712,5720,5763</rules_id><timeout>4</timeout></active-response>
  <localfile>`+localfile+`</localfile>`,
		"", "<firewall_backend>nftables</firewall_backend>")
}

// sshBruteForce has sshd log (through logLine, as sshd[pid]) seven failed
// passwords from attacker and one each from seven other addresses, and
// checks that nothing is blocked; then an eighth from attacker, which
// must end in a block in the kernel (in ns) and an alert 5763 in
// alerts.json with every one of alertWants, and the block must be lifted
// after its timeout. It stops in.
func sshBruteForce(t *testing.T, ns string, in *instance, attacker string, logLine func(pid int, message string), alertWants ...string) {
	t.Helper()
	for i := 0; i < 7; i++ {
		logLine(4000+i, fmt.Sprintf("Failed password for root from %s port %d ssh2", attacker, 50000+i))
		logLine(5000+i, fmt.Sprintf("Failed password for root from 198.51.100.%d port 22 ssh2", i+1))
	}
	time.Sleep(quietWindow)
	if strings.Contains(nftTable(ns), attacker) {
		t.Fatal("blocked before the brute-force threshold")
	}
	written := time.Now()
	logLine(4008, fmt.Sprintf("Failed password for root from %s port 50008 ssh2", attacker))
	waitFor(t, 5*time.Second, "the attacker in the kernel set", func() bool {
		return strings.Contains(nftTable(ns), attacker)
	})
	t.Logf("line logged → address in the kernel set: %s (polled every 20ms)", time.Since(written).Round(time.Millisecond))
	for i := 1; i <= 7; i++ {
		if strings.Contains(nftTable(ns), fmt.Sprintf("198.51.100.%d ", i)) {
			t.Errorf("198.51.100.%d blocked after one failure", i)
		}
	}
	alerts := readFile(filepath.Join(in.dir, "logs", "alerts", "alerts.json"))
	for _, want := range append([]string{`"id":"5763"`, `"srcip":"` + attacker + `"`}, alertWants...) {
		if !strings.Contains(alerts, want) {
			t.Errorf("alerts.json lacks %s of the brute-force alert:\n%s", want, truncate(alerts, 3000))
		}
	}
	waitFor(t, 10*time.Second, "the block to be lifted after its timeout", func() bool {
		return len(runsWhere(in.runs(), func(r execd.Result) bool { return r.Verb == "delete" && r.Status == execd.StatusOK })) == 1
	})
	if strings.Contains(nftTable(ns), attacker) {
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

// privateJournal runs a systemd-journald of the test's own, in a mount
// namespace where /run/systemd, /run/log and /var/log/journal are empty
// file systems of their own, so that the host's journal is never touched.
// It returns the pid of journald, whose mount namespace the test enters
// (nsenter -t PID -m) to log and to run riposte. It skips the test when
// the machine has no journald.
func privateJournal(t *testing.T) int {
	t.Helper()
	const journald = "/lib/systemd/systemd-journald"
	for _, p := range []string{journald, "/usr/bin/journalctl", "/usr/bin/logger"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs %s (systemd, installed by scripts/test)", p)
		}
	}
	for _, p := range []string{"unshare", "nsenter"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("needs %s", p)
		}
	}
	script := `set -e
mkdir -p /run/systemd /run/log
mount -t tmpfs tmpfs /run/systemd
mount -t tmpfs tmpfs /run/log
if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
mkdir -p /run/systemd/journal
exec ` + journald
	// unshare and sh exec what follows: the pid is journald's.
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("journald:\n%s", out.String())
		}
	})
	pid := cmd.Process.Pid
	waitFor(t, 10*time.Second, "journald's socket", func() bool {
		return exec.Command("nsenter", "-t", fmt.Sprint(pid), "-m", "test", "-S", "/run/systemd/journal/socket").Run() == nil
	})
	return pid
}

// journalLog logs message in the journal of privateJournal as sshd[pid]
// does.
func journalLog(t *testing.T, journald, pid int, message string) {
	t.Helper()
	cmd := exec.Command("nsenter", "-t", fmt.Sprint(journald), "-m", "logger", "--journald")
	cmd.Stdin = strings.NewReader(fmt.Sprintf("MESSAGE=%s\nSYSLOG_IDENTIFIER=sshd\nSYSLOG_PID=%d\n", message, pid))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("logger: %v: %s", err, out)
	}
}

// TestBruteForceFromJournal: failed SSH logins that sshd writes to the
// systemd journal (as on a fresh Debian, which has no auth.log) end in a
// block in the kernel, lifted after its timeout: riposte run reads the
// journal through journalctl, in a network namespace, with a journald of
// the test's own.
func TestBruteForceFromJournal(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	ns := newNetns(t) // first: the journal's mount namespace copies its mount
	journald := privateJournal(t)
	dir := newDataDir(t, nil)
	cfg := bruteForceConfig(t, dir, `<log_format>journald</log_format><location>journald</location>`)
	in := startProcessWith(t, dir, []string{"nsenter", "-t", fmt.Sprint(journald), "-m", "ip", "netns", "exec", ns},
		"run", "--config", cfg, "--data-dir", dir)
	in.expectLog(1, "reading the systemd journal")
	// journalctl follows from the end of the journal once it has started:
	// an entry logged until one reaches alerts.json tells when.
	alertsPath := filepath.Join(dir, "logs", "alerts", "alerts.json")
	waitFor(t, 10*time.Second, "the journal to be followed", func() bool {
		journalLog(t, journald, 3999, "Failed password for root from 192.0.2.250 port 50000 ssh2")
		time.Sleep(100 * time.Millisecond)
		return strings.Contains(readFile(alertsPath), `"srcip":"192.0.2.250"`)
	})
	sshBruteForce(t, ns, in, "203.0.113.98", func(pid int, message string) { journalLog(t, journald, pid, message) },
		`"location":"journald"`)
}
