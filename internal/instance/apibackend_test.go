package instance

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/api"
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
