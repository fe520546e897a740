package execd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/action"
	"github.com/riposte/riposte/internal/arlog"
	"github.com/riposte/riposte/internal/netnstest"
)

// nftSet lists the addresses in a set of Riposte's table in ns, sorted.
func nftSet(t *testing.T, ns, set string) []string {
	t.Helper()
	var addrs []string
	for _, e := range netnstest.SetElements(t, ns, "inet", "riposte", set) {
		addrs = append(addrs, e.Text)
	}
	slices.Sort(addrs)
	return addrs
}

// blockReq asks firewall-drop to block srcip for an hour.
func blockReq(id, srcip string, ladder []int) Request {
	alert, _ := json.Marshal(map[string]any{"rule": map[string]any{"id": "5763", "level": 10}, "data": map[string]any{"srcip": srcip}})
	return Request{ID: id, Command: "firewall-drop", Executable: "firewall-drop", Timeout: time.Hour, Alert: alert, Ladder: ladder}
}

// TestBatchedAdds sends a burst of firewall-drop requests, which go
// through the batch path on nftables in a network namespace: each request gets its own
// result, log lines and timer, as a run of its own would; a repeated
// address is aborted and keeps its block; hostile input is refused with
// nothing applied; the timers survive a restart; an undo lifts one block;
// and a repeat offender gets the ladder's timeout.
func TestBatchedAdds(t *testing.T) {
	ns := netnstest.New(t, "riposte-x-", "nft")
	dir := t.TempDir()
	logPath := filepath.Join(dir, "logs", "active-responses.log")
	al, err := arlog.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	var (
		mu      sync.Mutex
		results = map[string][]Result{}
		got     = make(chan struct{}, 1000)
	)
	opts := Options{
		Dir: dir, ARLog: al, Actions: action.Options{Backend: "nftables"},
		ActionExec: action.ExecRunner{Prefix: []string{"ip", "netns", "exec", ns}},
		OnResult: func(r Result) {
			mu.Lock()
			results[r.RequestID] = append(results[r.RequestID], r)
			mu.Unlock()
			got <- struct{}{}
		},
	}
	x, _, stop := start(t, dir, opts)
	x.opts.OnResult = opts.OnResult // start installs its own recorder
	if !x.batched("firewall-drop") {
		t.Fatal("firewall-drop adds on nftables do not go through the batch")
	}

	const n = 300
	var want []string
	reqs := []Request{}
	for i := range n {
		ip := fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)
		want = append(want, ip)
		reqs = append(reqs, blockReq(fmt.Sprint("r", i), ip, nil))
	}
	reqs[0].Ladder = []int{30, 120} // counts its offenses
	reqs = append(reqs,
		blockReq("dup", "198.51.0.1", nil),
		blockReq("mapped", "::ffff:198.51.0.2", nil),
		blockReq("hostile", "1.2.3.4; rm -rf /", nil),
		blockReq("v6", "2001:db8::7", nil),
	)
	for _, r := range reqs {
		if err := x.Submit(r); err != nil {
			t.Fatal(err)
		}
	}
	for range reqs {
		select {
		case <-got:
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of %d results", len(results), len(reqs))
		}
	}
	mu.Lock()
	for _, r := range reqs {
		if len(results[r.ID]) != 1 {
			t.Fatalf("request %s: %d results", r.ID, len(results[r.ID]))
		}
	}
	status := func(id string) Result { return results[id][0] }
	for i := range n {
		r := status(fmt.Sprint("r", i))
		if r.Status != StatusOK || !r.Builtin || r.Timeout != time.Hour || r.Key == "" || len(r.Keys) != 1 || r.Keys[0] != want[i] {
			t.Fatalf("r%d: %+v", i, r)
		}
	}
	for _, id := range []string{"dup", "mapped"} {
		if r := status(id); r.Status != StatusAborted || !strings.Contains(r.Note, "already active") {
			t.Errorf("%s: %+v", id, r)
		}
	}
	if r := status("hostile"); r.Status != StatusFailed || r.ExitCode != action.ExitInvalid {
		t.Errorf("hostile: %+v", r)
	}
	if r := status("v6"); r.Status != StatusOK || r.Keys[0] != "2001:db8::7" {
		t.Errorf("v6: %+v", r)
	}
	mu.Unlock()

	slices.Sort(want)
	if got := nftSet(t, ns, "riposte_addr4"); !slices.Equal(got, want) {
		t.Fatalf("IPv4 set holds %d addresses, want %d", len(got), len(want))
	}
	if got := nftSet(t, ns, "riposte_addr6"); !slices.Equal(got, []string{"2001:db8::7"}) {
		t.Fatalf("IPv6 set %v", got)
	}
	if p := x.Pending(); len(p) != n+1 {
		t.Fatalf("%d pending deletes, want %d", len(p), n+1)
	}

	// The log holds each run's lines as a script's run writes them.
	b, _ := os.ReadFile(logPath)
	text := string(b)
	if c := strings.Count(text, "firewall-drop: Ended"); c != n+1 {
		t.Errorf("%d Ended lines, want %d", c, n+1)
	}
	if c := strings.Count(text, "firewall-drop: Starting"); c != len(reqs) {
		t.Errorf("%d Starting lines, want %d", c, len(reqs))
	}
	if c := strings.Count(text, `"command":"abort"`); c != 2 {
		t.Errorf("%d abort replies logged, want 2", c)
	}

	// The timers survive a restart.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	x, _, _ = start(t, dir, opts)
	x.opts.OnResult = opts.OnResult
	if p := x.Pending(); len(p) != n+1 {
		t.Fatalf("after a restart, %d pending deletes, want %d", len(p), n+1)
	}

	// An undo lifts one block; the address then offends again and gets the
	// ladder's second step.
	mu.Lock()
	key := status("r0").Key
	mu.Unlock()
	if err := x.Undo(key); err != nil {
		t.Fatal(err)
	}
	<-got
	if slices.Contains(nftSet(t, ns, "riposte_addr4"), want[0]) {
		t.Fatal("undone block still in the set")
	}
	again := blockReq("again", "198.51.0.1", []int{30, 120})
	x.Submit(again)
	<-got
	mu.Lock()
	r := status("again")
	mu.Unlock()
	if r.Status != StatusOK || r.Timeout != 30*time.Minute {
		t.Fatalf("second offense: %+v", r)
	}
	if !slices.Contains(nftSet(t, ns, "riposte_addr4"), "198.51.0.1") {
		t.Fatal("second offense not blocked")
	}
}
