package instance

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/audit"
	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
	"github.com/riposte/riposte/internal/httpapi"
)

func TestParseAllowEntry(t *testing.T) {
	kvKey := regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)
	for _, tc := range []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7/32"},
		{" 203.0.113.0/24 ", "203.0.113.0/24"},
		{"203.0.113.9/24", "203.0.113.0/24"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"fe80::1%eth0", "fe80::1/128"},
		{"example.com", ""},
		{"; rm -rf /", ""},
		{"", ""},
	} {
		p, err := parseAllowEntry(tc.in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, api.ErrBadRequest) {
				t.Errorf("parseAllowEntry(%q) = %v, %v; want a bad request", tc.in, p, err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("parseAllowEntry(%q) = %v, %v; want %s", tc.in, p, err, tc.want)
		}
		if k := allowKey(p); !kvKey.MatchString(k) {
			t.Errorf("allowKey(%s) = %q: not a valid bucket key", p, k)
		}
	}
}

func TestActiveIn(t *testing.T) {
	a := manager.Active{SrcIP: "203.0.113.7", Keys: []string{"203.0.113.7"}}
	n := manager.Active{Keys: []string{"198.51.100.0/24"}}
	for _, tc := range []struct {
		a      manager.Active
		prefix string
		want   bool
	}{
		{a, "203.0.113.0/24", true},
		{a, "203.0.113.7/32", true},
		{a, "203.0.114.0/24", false},
		{n, "198.51.100.128/25", true},
		{n, "198.51.0.0/16", true},
		{n, "10.0.0.0/8", false},
	} {
		if got := activeIn(tc.a, netip.MustParsePrefix(tc.prefix)); got != tc.want {
			t.Errorf("activeIn(%v, %s) = %v", tc.a.Keys, tc.prefix, got)
		}
	}
}

// TestActiveSnapshotInBackground: a long list of active responses is
// rebuilt in the background after a change, requests reading the previous
// list meanwhile, and live views are woken when the new one is ready; a
// short list is rebuilt by the request that finds it old.
func TestActiveSnapshotInBackground(t *testing.T) {
	in := startInstance(t, nil)
	in.snapSyncMax = 3
	b := apiBackend{Instance: in}
	add := func(i int) {
		now := time.Now()
		in.mgr.LocalResult(fleet.Result{Kind: fleet.Run, Name: "firewall-drop", Executable: "firewall-drop", Verb: "add", Outcome: "ok",
			Key: fmt.Sprintf("firewall-drop [\"192.0.2.%d\"]", i), Keys: []string{fmt.Sprintf("192.0.2.%d", i)},
			Timeout: fleet.Duration(time.Hour), Started: now, Time: now})
	}
	count := func() int {
		_, total := b.Active(httpapi.ActiveQuery{})
		return total
	}
	for i := range 5 {
		add(i)
	}
	if n := count(); n != 5 {
		t.Fatalf("%d active, want 5", n)
	}
	time.Sleep(snapInterval)
	add(5)
	woken := in.Changes()
	if n := count(); n != 5 {
		t.Fatalf("the request rebuilt the long list itself: %d active", n)
	}
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("live views not woken after the rebuild")
	}
	if n := count(); n != 6 {
		t.Fatalf("after the rebuild, %d active, want 6", n)
	}

	in.snapSyncMax = 1000
	time.Sleep(snapInterval)
	add(6)
	if n := count(); n != 7 {
		t.Fatalf("short list not rebuilt by the request: %d active, want 7", n)
	}
}

// TestAuditBatches: audit records of one kind that follow each other share
// a message of the audit stream, at most auditMsgBytes long, and every
// record is back in the trail, in order and whole, after a restart.
func TestAuditBatches(t *testing.T) {
	dir := t.TempDir()
	in, stop := startInstanceIn(t, dir, nil)
	defer stop()
	ctx := context.Background()
	stream, err := in.js.Stream(ctx, fleet.StreamAudit)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := info.State.Msgs

	long := strings.Repeat("x", auditMsgBytes/3)
	var want []audit.Record
	for i := range 40 {
		kind := "decision"
		if i >= 30 {
			kind = "change"
		}
		r := audit.Record{Time: time.Unix(1700000000+int64(i), 0).UTC(), Kind: kind, Agent: "000", Command: "firewall-drop",
			IP: fmt.Sprintf("203.0.113.%d", i), Outcome: "run", Note: fmt.Sprintf("note %d\nwith a line break", i)}
		if i == 35 || i == 36 || i == 37 {
			r.Note = long // three of these do not fit one message
		}
		want = append(want, r)
	}
	in.publishAudit(want...)
	// decision ×30 in one message; change: 5, then the long ones 2 + 1
	// (with the last two short ones).
	const wantMsgs = 3
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err = stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs-before >= wantMsgs || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := info.State.Msgs - before; got != wantMsgs {
		t.Fatalf("40 records took %d messages, want %d", got, wantMsgs)
	}
	stop()

	in2, stop2 := startInstanceIn(t, dir, nil)
	defer stop2()
	q := audit.Query{Since: time.Unix(1700000000, 0), Until: time.Unix(1700000100, 0), Limit: 100}
	got, total := in2.trail.Query(q)
	for deadline := time.Now().Add(10 * time.Second); total < len(want) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // Run reloads the trail
		got, total = in2.trail.Query(q)
	}
	if total != len(want) {
		t.Fatalf("after a restart the trail holds %d of the %d records", total, len(want))
	}
	slices.Reverse(got) // newest first
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("record %d after a restart:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// TestLocalResultsKept: the results of this host's runs, which a lone
// manager applies without the stream, reach the audit stream with the
// other records, and are back in the trail after a restart.
func TestLocalResultsKept(t *testing.T) {
	dir := t.TempDir()
	results := make(chan execd.Result, 1)
	in, stop := startInstanceIn(t, dir, func(r execd.Result) { results <- r })
	defer stop()
	a, err := alert.Parse([]byte(`{"rule":{"id":"1","level":7},"agent":{"id":"000"}}`))
	if err != nil {
		t.Fatal(err)
	}
	in.Ingest(context.Background(), []*alert.Alert{a}, api.IngestOptions{})
	var r execd.Result
	select {
	case r = <-results:
	case <-time.After(5 * time.Second):
		t.Fatal("no result")
	}
	stop()

	in2, stop2 := startInstanceIn(t, dir, nil)
	defer stop2()
	q := audit.Query{Kind: "result", Agent: "000"}
	var got []audit.Record
	for end := time.Now().Add(10 * time.Second); len(got) == 0 && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		got, _ = in2.trail.Query(q) // Run reloads the trail
	}
	if len(got) != 1 || got[0].CommandID != r.RequestID || got[0].Command != "noop" || got[0].Outcome != "ok" {
		t.Fatalf("results of this host after a restart: %+v (run %+v)", got, r)
	}
}
