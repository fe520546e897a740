package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/execd"
)

// TestNoCheckKeys: a script that never sends check_keys runs once, as a
// stateless response: no delete ever follows, and the run says why.
func TestNoCheckKeys(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, map[string]string{"nokeys": "nokeys.sh"})
	cfg := writeConfig(t, dir, cmdNokeys+"\n  "+response("nokeys", "5712", 1, ""), "", "")
	in := startRiposte(t, dir, cfg)

	sent := time.Now()
	sendJSON(t, dir, sshAlert("203.0.113.70"))
	waitFor(t, 5*time.Second, "the run result", func() bool { return len(in.runs()) == 1 })
	r := in.runs()[0]
	if r.Verb != "add" || r.Status != execd.StatusOK || r.ExitCode != 0 || len(r.Keys) != 0 {
		t.Errorf("run %+v", r)
	}
	if !strings.Contains(r.Note, "check_keys") {
		t.Errorf("run note %q does not mention check_keys", r.Note)
	}
	if act := in.active(); len(act) != 0 {
		t.Errorf("active: %+v, want nothing pending", act)
	}
	// Watch for 2s past the 1s timeout.
	time.Sleep(time.Until(sent.Add(3 * time.Second)))
	if rs := in.runs(); len(rs) != 1 {
		t.Errorf("runs %+v, want only the add", rs)
	}
	recs := recorded(t, dir, "nokeys", "", "")
	if len(recs) != 1 || recs[0].Command != "add" || recs[0].Parameters.Alert.Data.SrcIP != "203.0.113.70" {
		t.Errorf("records %+v, want one add", recs)
	}
	in.stop()
}

// TestHangingScript: a script that neither sends check_keys nor exits is
// killed with its process group after the handshake timeout, while other
// responses keep running.
func TestHangingScript(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, map[string]string{"hang": "hang.sh", "stateful": "stateful.py"})
	cfg := writeConfig(t, dir, cmdHang+"\n  "+cmdStateful+"\n  "+
		response("hang", "100100", 0, "")+"\n  "+response("stateful", "5712", 30, ""), "", "")
	in := startRiposte(t, dir, cfg)

	sendJSON(t, dir, alertDoc(alertSpec{RuleID: "100100", SrcIP: "203.0.113.80"}))
	pidFile := filepath.Join(dir, "records", "hang.pid")
	waitFor(t, 5*time.Second, "the hanging script to start", func() bool { return readFile(pidFile) != "" })
	var pids []int
	for _, f := range strings.Fields(readFile(pidFile)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("hang.pid %q", readFile(pidFile))
		}
		pids = append(pids, n)
	}
	if len(pids) != 2 {
		t.Fatalf("hang.pid %q", readFile(pidFile))
	}
	shPID, sleepPID := pids[0], pids[1]
	t.Cleanup(func() { // in case riposte failed to kill them
		for _, p := range pids {
			if !processGone(p) {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
	})

	// While it hangs, another response runs at once.
	sendJSON(t, dir, sshAlert("203.0.113.81"))
	waitFor(t, 5*time.Second, "the stateful script to complete", func() bool {
		return len(recorded(t, dir, "stateful", "continue", "203.0.113.81")) == 1
	})

	waitFor(t, 5*time.Second, "the hanging script to be killed", func() bool {
		return len(runsWhere(in.runs(), func(r execd.Result) bool { return r.Program == "active-response/bin/hang" })) == 1
	})
	rs := in.runs()
	hang := runsWhere(rs, func(r execd.Result) bool { return r.Program == "active-response/bin/hang" })[0]
	if hang.Status != execd.StatusKilled || hang.ExitCode != -1 || !strings.Contains(hang.Note, "killed with its process group") {
		t.Errorf("hang run %+v", hang)
	}
	if hang.Duration < time.Second || hang.Duration > 2500*time.Millisecond {
		t.Errorf("hang killed after %s, want just after the 1s handshake timeout", hang.Duration)
	}
	hangEnd := hang.Started.Add(hang.Duration)
	waitFor(t, 3*time.Second, "the stateful run result", func() bool {
		return len(runsWhere(in.runs(), func(r execd.Result) bool { return r.Program == "active-response/bin/stateful" })) == 1
	})
	st := runsWhere(in.runs(), func(r execd.Result) bool { return r.Program == "active-response/bin/stateful" })[0]
	if st.Status != execd.StatusOK {
		t.Errorf("stateful run %+v", st)
	}
	if !st.Started.Before(hangEnd) || st.StartDelay > 500*time.Millisecond {
		t.Errorf("stateful run started at %s (delay %s), hang ended at %s: it waited for the hanging script",
			st.Started, st.StartDelay, hangEnd)
	}
	if st.Started.Add(st.Duration).After(hangEnd) {
		t.Logf("note: the stateful run ended after the hang was killed (slow machine?)")
	}

	arlog := readFile(filepath.Join(dir, "logs", "active-responses.log"))
	if !strings.Contains(arlog, "active-response/bin/hang: killed with its process group") {
		t.Errorf("active-responses.log lacks the kill line:\n%s", arlog)
	}
	waitFor(t, 3*time.Second, "the script and its grandchild sleep 300 to be gone", func() bool {
		return processGone(shPID) && processGone(sleepPID)
	})
	in.stop()
}

// TestFailingScript: a non-zero exit is reported as failed with its code
// and stderr.
func TestFailingScript(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, map[string]string{"fail": "fail.sh"})
	cfg := writeConfig(t, dir, cmdFail+"\n  "+response("fail", "5712", 0, ""), "", "")
	in := startRiposte(t, dir, cfg)

	sendJSON(t, dir, sshAlert("203.0.113.90"))
	waitFor(t, 5*time.Second, "the run result", func() bool { return len(in.runs()) == 1 })
	r := in.runs()[0]
	if r.Status != execd.StatusFailed || r.ExitCode != 3 || !strings.Contains(r.Stderr, "boom") {
		t.Errorf("run %+v, want failed, exit code 3, stderr with boom", r)
	}
	if recs := recorded(t, dir, "fail", "add", "203.0.113.90"); len(recs) != 1 {
		t.Errorf("the script did not read its add line")
	}
	arlog := readFile(filepath.Join(dir, "logs", "active-responses.log"))
	if !strings.Contains(arlog, "active-response/bin/fail: exited with status 3") {
		t.Errorf("active-responses.log:\n%s", arlog)
	}
	in.expectLog(1, `msg="run ended"`, "status=failed", "exit_code=3", "boom")
	if h := in.health(); h.Stats.Runs != 1 || h.Stats.RunsFailed != 1 {
		t.Errorf("stats %+v", h.Stats)
	}
	in.stop()
}

// TestConfigCheck: config check reports every problem with its line, or
// prints the effective configuration; run refuses a broken one.
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.conf")
	brokenText := `<ossec_config>
  <command>
    <name>nokeys</name>
    <executable>nokeys</executable>
  </command>
  <active-response>
    <command>nosuch</command>
    <location>nowhere</location>
    <level>5</level>
  </active-response>
</ossec_config>
`
	if err := os.WriteFile(broken, []byte(brokenText), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.conf")
	if err := os.WriteFile(good, []byte("<ossec_config>\n  "+cmdNokeys+"\n  "+response("nokeys", "5712", 60, "")+
		"\n  <riposte><http_listen>off</http_listen></riposte>\n</ossec_config>\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("broken", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, "", "config", "check", broken)
		if r.code != 1 {
			t.Errorf("exit %d, want 1", r.code)
		}
		for _, w := range []string{
			broken + `:7: error: unknown command "nosuch"`,
			broken + `:8: error: location "nowhere" is not one of local, server, defined-agent, all`,
		} {
			if !strings.Contains(r.stderr, w+"\n") {
				t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
			}
		}
		if r.stdout != "" {
			t.Errorf("stdout: %s", r.stdout)
		}
	})
	t.Run("good", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, "", "config", "check", good)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "<ossec_config>") || !strings.Contains(r.stdout, "</ossec_config>") ||
			!strings.Contains(r.stdout, "<executable>nokeys</executable>") {
			t.Errorf("stdout is not the effective configuration:\n%s", r.stdout)
		}
		// What it prints is itself a good configuration.
		again := filepath.Join(t.TempDir(), "printed.conf")
		if err := os.WriteFile(again, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		if r2 := runCLI(t, "", "config", "check", again); r2.code != 0 || r2.stdout != r.stdout {
			t.Errorf("checking the printed configuration: exit %d\n%s\n%s", r2.code, r2.stderr, r2.stdout)
		}
	})
	t.Run("run refuses", func(t *testing.T) {
		t.Parallel()
		data := filepath.Join(t.TempDir(), "data")
		start := time.Now()
		r := runCLI(t, "", "run", "--config", broken, "--data-dir", data)
		if r.code == 0 {
			t.Fatalf("riposte run with a broken configuration exited 0")
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("riposte run took %s to refuse", time.Since(start))
		}
		if !strings.Contains(r.stderr, broken+`:7: error: unknown command "nosuch"`) {
			t.Errorf("stderr:\n%s", r.stderr)
		}
		if _, err := os.Stat(filepath.Join(data, "riposte.sock")); err == nil {
			t.Error("a control socket was created")
		}
		if _, err := os.Stat(data); err == nil {
			t.Error("the data directory was created")
		}
	})
}
