package execd

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/action"
	"github.com/riposte/riposte/internal/arlog"
)

// TestBuiltinInProcess runs ip-customblock in-process (no file in the bin
// directory), through the same protocol, and checks the marker appears,
// that a removed marker is re-applied by the reconcile loop, and that the
// delete removes it.
func TestBuiltinInProcess(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	x, rec, _ := start(t, dir, Options{ActionRoot: root, ReconcileInterval: 100 * time.Millisecond})
	x.Submit(req("ip-customblock", 1500*time.Millisecond))
	add := rec.next(t, 5*time.Second)
	if add.Status != StatusOK || !add.Builtin || strings.Join(add.Keys, ",") != "203.0.113.7" {
		t.Fatalf("add %+v", add)
	}
	marker := filepath.Join(root, "ipblock", "203.0.113.7")
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("marker: %v", err)
	}
	// Someone removes the block underneath: reconcile puts it back.
	os.Remove(marker)
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("removed block was not re-applied")
		}
		time.Sleep(20 * time.Millisecond)
	}
	del := rec.next(t, 5*time.Second)
	if del.Verb != "delete" || del.Status != StatusOK || !del.Builtin {
		t.Fatalf("delete %+v", del)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("marker left after delete: %v", err)
	}
}

// TestOverrideRunsExternal checks that an operator's file named like a
// built-in runs instead of the built-in.
func TestOverrideRunsExternal(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	script(t, dir, "ip-customblock", "read -r line\necho external > \"$0.ran\"\n")
	x, rec, _ := start(t, dir, Options{ActionRoot: root})
	x.Submit(req("ip-customblock", 0))
	res := rec.next(t, 5*time.Second)
	if res.Builtin || res.Status != StatusOK {
		t.Fatalf("%+v", res)
	}
	if _, err := os.Stat(filepath.Join(dir, BinDir, "ip-customblock.ran")); err != nil {
		t.Fatal("operator's script did not run")
	}
	if _, err := os.Stat(filepath.Join(root, "ipblock")); !os.IsNotExist(err) {
		t.Fatal("built-in ran as well")
	}
}

// BenchmarkBurst measures a burst of stateful blocks for distinct addresses
// through a built-in action in-process (ip-customblock in a temp root): the
// time until every add has run and been recorded.
func BenchmarkBurst(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			for b.Loop() {
				dir, root := b.TempDir(), b.TempDir()
				done := make(chan Result, n)
				x, err := Open(Options{Dir: dir, ActionRoot: root, OnResult: func(r Result) { done <- r }})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				ran := make(chan error, 1)
				go func() { ran <- x.Run(ctx) }()
				start := time.Now()
				for i := 0; i < n; i++ {
					r := req("ip-customblock", time.Hour)
					r.Alert = json.RawMessage(fmt.Sprintf(`{"rule":{"id":"5712","level":10},"data":{"srcip":"10.%d.%d.%d"}}`, i>>16&255, i>>8&255, i&255))
					x.Submit(r)
				}
				for i := 0; i < n; i++ {
					if r := <-done; r.Status != StatusOK {
						b.Fatalf("%+v", r)
					}
				}
				b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/burst")
				cancel()
				<-ran
			}
		})
	}
}

// TestOverrideOfQueuedAction: an operator's file named like a built-in
// whose adds go through the batch (firewall-drop on nftables), put there
// after execd decided to batch them, runs instead of it.
func TestOverrideOfQueuedAction(t *testing.T) {
	dir := t.TempDir()
	x, rec, _ := start(t, dir, Options{Actions: action.Options{Backend: "nftables"}})
	if !x.batched("firewall-drop") {
		t.Fatal("firewall-drop on nftables is not batched")
	}
	script(t, dir, "firewall-drop", "read -r line\necho external > \"$0.ran\"\n")
	r := req("firewall-drop", 0)
	x.Submit(r)
	res := rec.next(t, 5*time.Second)
	if res.Builtin || res.Status != StatusOK {
		t.Fatalf("%+v", res)
	}
	if _, err := os.Stat(filepath.Join(dir, BinDir, "firewall-drop.ran")); err != nil {
		t.Fatal("operator's script did not run")
	}
}

// TestBatchedOnlyWhereItQueues: firewall-drop adds go through the batch on
// nftables only; on iptables each runs on its own, and so does any add
// with built-ins turned off.
func TestBatchedOnlyWhereItQueues(t *testing.T) {
	for _, tt := range []struct {
		backend    string
		noBuiltins bool
		want       bool
	}{{"nftables", false, true}, {"iptables", false, false}, {"ipset", false, false}, {"nftables", true, false}} {
		x, _, _ := start(t, t.TempDir(), Options{Actions: action.Options{Backend: tt.backend}, NoBuiltins: tt.noBuiltins})
		if got := x.batched("firewall-drop"); got != tt.want {
			t.Errorf("%s (no built-ins %v): batched %v, want %v", tt.backend, tt.noBuiltins, got, tt.want)
		}
		if x.batched("host-deny") {
			t.Errorf("%s: host-deny batched", tt.backend)
		}
	}
}

// TestReportLine: execd's own line in active-responses.log for a run.
func TestReportLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "active-responses.log")
	al, err := arlog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []Result
	x := &Execd{opts: Options{ARLog: al, OnResult: func(r Result) { got = append(got, r) }}, log: slog.New(slog.DiscardHandler)}
	r := Result{RequestID: "r1", Program: "active-response/bin/firewall-drop", Verb: "add", Status: StatusOK,
		Duration: 1500 * time.Microsecond, Keys: []string{"203.0.113.7", `a"b`}, Timeout: 10 * time.Minute, Note: "a note"}
	x.report(r)
	x.report(Result{Program: "active-response/bin/x", Verb: "delete", Status: StatusFailed, ExitCode: 3, Duration: time.Second})
	if err := al.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{
		`riposte-execd: active-response/bin/firewall-drop: add ok, exit status 0, 1.5ms, keys ["203.0.113.7","a\"b"], active for 10m0s; a note (request r1)`,
		`riposte-execd: active-response/bin/x: delete failed, exit status 3, 1s`,
	}
	if len(lines) != len(want) {
		t.Fatalf("log:\n%s", b)
	}
	for i, l := range lines {
		if _, text, _ := strings.Cut(l, " riposte-execd: "); "riposte-execd: "+text != want[i] {
			t.Errorf("line %q, want date, time and %q", l, want[i])
		}
	}
	if len(got) != 2 || got[0].RequestID != "r1" {
		t.Errorf("results handed on: %+v", got)
	}
}
