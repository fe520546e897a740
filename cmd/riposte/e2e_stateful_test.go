package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/execd"
)

// prettyAlert is sent as an indented document; scripts must receive it
// compacted (compactAlert) with everything else kept byte for byte: string
// contents, escapes, non-ASCII text and key order.
const prettyAlert = `{
  "timestamp": "2026-11-27T10:00:00.000+0000",
  "rule": {
    "level": 10,
    "description": "sshd: brute force trying to get access to the system. <Authentication failed> & \"more\"",
    "id": "5712",
    "firedtimes": 1,
    "mail": false,
    "groups": [ "syslog", "sshd", "authentication_failures" ]
  },
  "agent": { "id": "000", "name": "host" },
  "manager": { "name": "host" },
  "id": "1764237600.1234",
  "full_log": "Nov 27 10:00:00 host sshd[4242]: Failed password for r\u00f6ot from 203.0.113.7 port 22 ssh2 – ünïcode",
  "decoder": { "name": "sshd" },
  "data": { "srcip": "203.0.113.7", "srcuser": "root" },
  "location": "/var/log/auth.log"
}
`

const compactAlert = `{"timestamp":"2026-11-27T10:00:00.000+0000","rule":{"level":10,"description":"sshd: brute force trying to get access to the system. <Authentication failed> & \"more\"","id":"5712","firedtimes":1,"mail":false,"groups":["syslog","sshd","authentication_failures"]},"agent":{"id":"000","name":"host"},"manager":{"name":"host"},"id":"1764237600.1234","full_log":"Nov 27 10:00:00 host sshd[4242]: Failed password for r\u00f6ot from 203.0.113.7 port 22 ssh2 – ünïcode","decoder":{"name":"sshd"},"data":{"srcip":"203.0.113.7","srcuser":"root"},"location":"/var/log/auth.log"}`

// statefulMsg is the exact line execd sends the stateful fixture.
func statefulMsg(node, verb, alert string) string {
	return `{"version":1,"origin":{"name":"` + node + `","module":"wazuh-execd"},"command":"` + verb +
		`","parameters":{"extra_args":["-a","b"],"alert":` + alert + `,"program":"active-response/bin/stateful"}}`
}

var statefulScripts = map[string]string{"stateful": "stateful.py"}

// TestStatefulAddContinueDelete: the add message, the continue reply, the
// delete after the timeout and /v1/responses/active, for the default node
// name and for <cluster><node_name>.
func TestStatefulAddContinueDelete(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	// Sanity check of the test's own expectation.
	var c bytes.Buffer
	if err := json.Compact(&c, []byte(prettyAlert)); err != nil || c.String() != compactAlert {
		t.Fatalf("compactAlert is not the compact form of prettyAlert (%v):\n%s", err, c.String())
	}
	for _, tc := range []struct{ name, cluster, node string }{
		{"default_node01", "", "node01"},
		{"cluster_node_name", "<cluster><node_name>n7</node_name></cluster>", "n7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := newDataDir(t, statefulScripts)
			cfg := writeConfig(t, dir, cmdStateful+"\n  "+response("stateful", "5712", 2, "")+"\n  "+tc.cluster, "", "")
			in := startRiposte(t, dir, cfg)

			alertFile := filepath.Join(dir, "alert.json")
			if err := os.WriteFile(alertFile, []byte(prettyAlert), 0o644); err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, "", "alert", "send", "--data-dir", dir, alertFile)
			if r.code != 0 || !strings.Contains(r.stdout, "stateful: run: triggered") {
				t.Fatalf("alert send: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			waitFor(t, 5*time.Second, "the add and its reply to be recorded", func() bool {
				return len(records(t, dir, "stateful")) >= 2
			})
			recs := records(t, dir, "stateful")
			if want := statefulMsg(tc.node, "add", compactAlert); recs[0] != want {
				t.Errorf("add line:\n got %s\nwant %s", recs[0], want)
			}
			if want := statefulMsg(tc.node, "continue", compactAlert); recs[1] != want {
				t.Errorf("reply line:\n got %s\nwant %s", recs[1], want)
			}

			// Active while the timeout runs.
			act := in.active()
			if len(act) != 1 {
				t.Fatalf("/v1/responses/active = %+v, want one entry", act)
			}
			p := act[0]
			if p.Command != "stateful" || p.Executable != "stateful" || !slices.Equal(p.Keys, []string{"203.0.113.7"}) {
				t.Errorf("active entry %+v", p)
			}
			if d := p.Deadline.Sub(p.Added); d != 2*time.Second {
				t.Errorf("active entry deadline is %s after its addition, want 2s", d)
			}

			waitFor(t, 6*time.Second, "the delete to be recorded", func() bool {
				return len(records(t, dir, "stateful")) >= 3
			})
			seen := time.Now()
			recs = records(t, dir, "stateful")
			if want := statefulMsg(tc.node, "delete", compactAlert); recs[2] != want {
				t.Errorf("delete line:\n got %s\nwant %s", recs[2], want)
			}
			if seen.Before(p.Added.Add(2 * time.Second)) {
				t.Errorf("delete recorded %s after the add, before the 2s timeout", seen.Sub(p.Added))
			}
			waitFor(t, 3*time.Second, "the delete run to be reported", func() bool {
				return len(runsWhere(in.runs(), func(r execd.Result) bool { return r.Verb == "delete" })) == 1
			})
			del := runsWhere(in.runs(), func(r execd.Result) bool { return r.Verb == "delete" })[0]
			if del.Status != execd.StatusOK || del.Started.Before(p.Deadline) || del.Started.After(p.Deadline.Add(1500*time.Millisecond)) {
				t.Errorf("delete run %+v; deadline %s", del, p.Deadline)
			}
			add := runsWhere(in.runs(), func(r execd.Result) bool { return r.Verb == "add" })
			if len(add) != 1 || add[0].Status != execd.StatusOK || add[0].Timeout != 2*time.Second || !slices.Equal(add[0].Keys, []string{"203.0.113.7"}) {
				t.Errorf("add runs %+v", add)
			}
			waitFor(t, 3*time.Second, "/v1/responses/active to be empty after the delete", func() bool {
				return len(in.active()) == 0
			})
			if n := len(records(t, dir, "stateful")); n != 3 {
				t.Errorf("%d lines recorded, want 3 (add, continue, delete)", n)
			}
			in.stop()
		})
	}
}

// TestStatefulRetrigger: a second add for a key still active is told abort
// and restarts the timer; only one delete runs.
func TestStatefulRetrigger(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, statefulScripts)
	cfg := writeConfig(t, dir, cmdStateful+"\n  "+response("stateful", "5712", 2, ""), "", "")
	in := startRiposte(t, dir, cfg)
	al := sshAlert("198.51.100.23")

	sendJSON(t, dir, al)
	waitFor(t, 5*time.Second, "the first add and its reply", func() bool { return len(records(t, dir, "stateful")) >= 2 })
	first := in.active()
	if len(first) != 1 {
		t.Fatalf("active after the first add: %+v", first)
	}
	waitFor(t, 3*time.Second, "the first add's result", func() bool { return len(in.runs()) == 1 })

	t1 := time.Now()
	sendJSON(t, dir, al)
	waitFor(t, 5*time.Second, "the second add and its reply", func() bool { return len(records(t, dir, "stateful")) >= 4 })
	recs := records(t, dir, "stateful")
	cmds := []string{}
	for _, l := range recs[:4] {
		cmds = append(cmds, parseMessage(t, l).Command)
	}
	if !slices.Equal(cmds, []string{"add", "continue", "add", "abort"}) {
		t.Fatalf("recorded commands %v, want [add continue add abort]", cmds)
	}
	if want := strings.Replace(recs[2], `"command":"add"`, `"command":"abort"`, 1); recs[3] != want {
		t.Errorf("abort reply:\n got %s\nwant %s", recs[3], want)
	}
	second := in.active()
	if len(second) != 1 || second[0].Deadline.Before(t1.Add(2*time.Second)) {
		t.Errorf("active after the re-trigger: %+v; want one entry with a deadline restarted from the second add (>= %s)", second, t1.Add(2*time.Second))
	}

	waitFor(t, 6*time.Second, "the delete", func() bool { return len(recorded(t, dir, "stateful", "delete", "")) >= 1 })
	if seen := time.Now(); seen.Before(t1.Add(2 * time.Second)) {
		t.Errorf("delete recorded %s after the re-trigger, before its 2s timeout", seen.Sub(t1))
	}
	waitFor(t, 3*time.Second, "/v1/responses/active to be empty", func() bool { return len(in.active()) == 0 })
	waitFor(t, 3*time.Second, "the delete's result", func() bool { return len(in.runs()) >= 3 })
	time.Sleep(1200 * time.Millisecond) // no second delete may follow
	if n := len(recorded(t, dir, "stateful", "delete", "")); n != 1 {
		t.Errorf("%d deletes recorded, want 1", n)
	}
	var statuses []string
	for _, r := range in.runs() {
		statuses = append(statuses, r.Verb+" "+string(r.Status))
	}
	if !slices.Equal(statuses, []string{"add ok", "add aborted", "delete ok"}) {
		t.Errorf("runs %v, want [add ok, add aborted, delete ok]", statuses)
	}
	in.stop()
}

// TestRepeatedOffenders: the second offense of a key, after the first block
// was lifted, takes the first step of the ladder (1 minute).
func TestRepeatedOffenders(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, statefulScripts)
	cfg := writeConfig(t, dir, cmdStateful+"\n  "+response("stateful", "5712", 1, "<repeated_offenders>1,5</repeated_offenders>"), "", "")
	in := startRiposte(t, dir, cfg)
	al := sshAlert("192.0.2.77")

	sendJSON(t, dir, al)
	waitFor(t, 5*time.Second, "the first add", func() bool { return len(records(t, dir, "stateful")) >= 2 })
	act := in.active()
	if len(act) != 1 || act[0].Deadline.Sub(act[0].Added) != time.Second {
		t.Fatalf("active after the first offense: %+v, want a 1s block", act)
	}
	waitFor(t, 5*time.Second, "the first delete", func() bool { return len(recorded(t, dir, "stateful", "delete", "")) == 1 })
	waitFor(t, 3*time.Second, "the first block to be lifted", func() bool { return len(in.active()) == 0 })

	sendJSON(t, dir, al)
	waitFor(t, 5*time.Second, "the second add", func() bool { return len(records(t, dir, "stateful")) >= 5 })
	if got := parseMessage(t, records(t, dir, "stateful")[4]).Command; got != "continue" {
		t.Errorf("reply to the second add is %q, want continue", got)
	}
	act = in.active()
	if len(act) != 1 {
		t.Fatalf("active after the second offense: %+v", act)
	}
	if d := act[0].Deadline.Sub(act[0].Added); d < 55*time.Second || d > 65*time.Second {
		t.Errorf("second offense blocked for %s, want about 60s (ladder step 1 minute)", d)
	}
	if d := time.Until(act[0].Deadline); d < 50*time.Second || d > 65*time.Second {
		t.Errorf("second block ends in %s, want about 60s", d)
	}
	waitFor(t, 3*time.Second, "the second add's result", func() bool { return len(in.runs()) == 3 })
	adds := runsWhere(in.runs(), func(r execd.Result) bool { return r.Verb == "add" })
	if len(adds) != 2 || adds[1].Timeout != time.Minute {
		t.Errorf("add runs %+v, want the second with a 1m timeout", adds)
	}
	if len(recorded(t, dir, "stateful", "delete", "")) != 1 {
		t.Error("the second block was lifted early")
	}
	in.stop()
}

// TestRestartAfterSIGTERM: a clean stop keeps the block; the next start
// runs the delete at the original deadline.
func TestRestartAfterSIGTERM(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, statefulScripts)
	cfg := writeConfig(t, dir, cmdStateful+"\n  "+response("stateful", "5712", 4, ""), "", "")
	in := startRiposte(t, dir, cfg)

	sendJSON(t, dir, sshAlert("203.0.113.99"))
	waitFor(t, 5*time.Second, "the add and its reply", func() bool { return len(records(t, dir, "stateful")) >= 2 })
	act := in.active()
	if len(act) != 1 {
		t.Fatalf("active: %+v", act)
	}
	deadline := act[0].Added.Add(4 * time.Second)
	in.stop()
	if n := len(recorded(t, dir, "stateful", "delete", "")); n != 0 {
		t.Fatalf("%d deletes ran during the stop; a clean stop must keep the block", n)
	}
	if time.Now().After(deadline.Add(-time.Second)) {
		t.Fatalf("stopping took too long for the test to be meaningful")
	}

	in2 := startRiposte(t, dir, cfg)
	if act := in2.active(); len(act) != 1 || !act[0].Deadline.Equal(deadline) {
		t.Errorf("active after the restart: %+v, want the block with deadline %s", act, deadline)
	}
	in2.expectLog(1, "re-armed pending delete")
	waitFor(t, 8*time.Second, "the delete after the restart", func() bool { return len(recorded(t, dir, "stateful", "delete", "")) >= 1 })
	if seen := time.Now(); seen.Before(deadline) {
		t.Errorf("delete recorded %s before the original deadline", deadline.Sub(seen))
	}
	waitFor(t, 3*time.Second, "the delete run result", func() bool { return len(in2.runs()) == 1 })
	del := in2.runs()[0]
	if del.Verb != "delete" || del.Status != execd.StatusOK {
		t.Errorf("run after restart: %+v", del)
	}
	if del.Started.Before(deadline) || del.Started.After(deadline.Add(time.Second)) {
		t.Errorf("delete started at %s, want within 1s after the original deadline %s", del.Started, deadline)
	}
	if recs := records(t, dir, "stateful"); len(recs) != 3 || parseMessage(t, recs[2]).Parameters.Alert.Data.SrcIP != "203.0.113.99" {
		t.Errorf("records: %q", recs)
	}
	in2.stop()
}

// TestRestartAfterSIGKILL: after kill -9 the block survives in the state;
// a start after its deadline lifts it promptly.
func TestRestartAfterSIGKILL(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, statefulScripts)
	cfg := writeConfig(t, dir, cmdStateful+"\n  "+response("stateful", "5712", 2, ""), "", "")
	in := startRiposte(t, dir, cfg)

	sendJSON(t, dir, sshAlert("203.0.113.98"))
	waitFor(t, 5*time.Second, "the add and its reply", func() bool { return len(records(t, dir, "stateful")) >= 2 })
	act := in.active()
	if len(act) != 1 {
		t.Fatalf("active: %+v", act)
	}
	deadline := act[0].Deadline
	in.kill()
	time.Sleep(time.Until(deadline.Add(300 * time.Millisecond))) // let the deadline pass while stopped
	if n := len(recorded(t, dir, "stateful", "delete", "")); n != 0 {
		t.Fatalf("%d deletes ran although riposte was killed", n)
	}

	started := time.Now()
	in2 := startRiposte(t, dir, cfg)
	waitFor(t, 3*time.Second, "the overdue delete after the restart", func() bool {
		return len(recorded(t, dir, "stateful", "delete", "203.0.113.98")) == 1
	})
	waitFor(t, 3*time.Second, "the delete run result", func() bool { return len(in2.runs()) == 1 })
	del := in2.runs()[0]
	if del.Verb != "delete" || del.Status != execd.StatusOK || del.Started.Sub(started) > 2*time.Second {
		t.Errorf("delete run %+v, want ok and started within 2s of the restart (%s)", del, started)
	}
	in2.expectLog(1, "re-armed pending delete", "overdue=true")
	waitFor(t, 3*time.Second, "/v1/responses/active to be empty", func() bool { return len(in2.active()) == 0 })
	in2.stop()
}

// TestCentralListAfterSIGKILL: the central list of active responses
// (/api/v1/responses) shows, after kill -9 and a start, the block whose
// timer survived, whether or not the list's own put-off write had happened
// (TestReconcileAtStart makes sure it had not).
func TestCentralListAfterSIGKILL(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	dir := newDataDir(t, statefulScripts)
	cfg := writeConfig(t, dir, cmdStateful+"\n  "+response("stateful", "5712", 600, ""), "", "")
	in := startRiposte(t, dir, cfg)
	sendJSON(t, dir, sshAlert("203.0.113.97"))
	waitFor(t, 5*time.Second, "the add and its reply", func() bool { return len(records(t, dir, "stateful")) >= 2 })
	waitFor(t, 5*time.Second, "the run's result", func() bool { return len(in.runs()) == 1 })
	in.kill()

	in2 := startRiposte(t, dir, cfg)
	defer in2.stop()
	var page struct {
		Items []struct {
			Agent string    `json:"agent"`
			SrcIP string    `json:"srcip"`
			Until time.Time `json:"until"`
		} `json:"items"`
		Total int `json:"total"`
	}
	in2.mustGet("/api/v1/responses", &page)
	if page.Total != 1 || page.Items[0].Agent != "000" || page.Items[0].SrcIP != "203.0.113.97" || time.Until(page.Items[0].Until) < 500*time.Second {
		t.Fatalf("central list after kill -9: %+v", page)
	}
}
