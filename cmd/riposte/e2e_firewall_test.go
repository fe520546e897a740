package main_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/netnstest"
)

// newNetns makes a network namespace for one test.
func newNetns(t *testing.T) string {
	t.Helper()
	return netnstest.New(t, "riposte-e2e-", "nft")
}

// nftTable lists Riposte's table in the namespace ("" when absent).
func nftTable(ns string) string {
	out, err := netnstest.Output(ns, "nft", "list", "table", "inet", "riposte")
	if err != nil {
		return ""
	}
	return out
}

// TestFirewallDropBuiltin runs the built-in firewall-drop, in-process, from
// riposte run inside a network namespace: the address lands in the kernel
// set, a firewall flush underneath is noticed and repaired within 10 s, and
// the delete lifts the block after its timeout. Then a kill -9: the kernel
// expires the element on its own, and the restart's overdue delete is
// harmless.
func TestFirewallDropBuiltin(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	ns := newNetns(t)
	dir := newDataDir(t, nil)
	cfg := writeConfig(t, dir,
		`<command><name>firewall-drop</name><executable>firewall-drop</executable><timeout_allowed>yes</timeout_allowed></command>
  `+response("firewall-drop", "5712", 6, ""), "", "<firewall_backend>nftables</firewall_backend>")
	in := startRiposteIn(t, dir, cfg, ns)

	sendJSON(t, dir, sshAlert("203.0.113.77"))
	waitFor(t, 5*time.Second, "the address in the kernel set", func() bool {
		return strings.Contains(nftTable(ns), "203.0.113.77")
	})
	adds := runsWhere(in.runs(), func(r execd.Result) bool { return r.Verb == "add" })
	if len(adds) != 1 || adds[0].Status != execd.StatusOK || !adds[0].Builtin || strings.Join(adds[0].Keys, ",") != "203.0.113.77" {
		t.Fatalf("add runs %+v", adds)
	}
	arlog := func() string { return readFile(filepath.Join(dir, "logs", "active-responses.log")) }
	if n := strings.Count(arlog(), "active-response/bin/firewall-drop: Ended\n"); n != 1 {
		t.Errorf("active-responses.log has %d Ended lines of the built-in, want 1", n)
	}

	// A firewall reload wipes everything; the block comes back.
	if out, err := netnstest.Output(ns, "nft", "flush", "ruleset"); err != nil {
		t.Fatalf("nft flush ruleset: %v %s", err, out)
	}
	flushed := time.Now()
	waitFor(t, 10*time.Second, "the block to be re-applied after the flush", func() bool {
		return strings.Contains(nftTable(ns), "203.0.113.77")
	})
	t.Logf("re-applied %s after the flush", time.Since(flushed).Round(time.Millisecond))
	if !strings.Contains(arlog(), "was missing; re-applied") {
		t.Error("active-responses.log does not record the repair")
	}

	// The timeout passes: execd's delete lifts it.
	waitFor(t, 10*time.Second, "the delete run", func() bool {
		return len(runsWhere(in.runs(), func(r execd.Result) bool { return r.Verb == "delete" && r.Status == execd.StatusOK })) == 1
	})
	if strings.Contains(nftTable(ns), "203.0.113.77") {
		t.Fatal("address still blocked after the delete")
	}

	// kill -9 right after a new block: the kernel lifts it by itself.
	sendJSON(t, dir, sshAlert("198.51.100.9"))
	waitFor(t, 5*time.Second, "the second address in the kernel set", func() bool {
		return strings.Contains(nftTable(ns), "198.51.100.9")
	})
	in.kill()
	waitFor(t, 12*time.Second, "the kernel to expire the element with riposte gone", func() bool {
		return !strings.Contains(nftTable(ns), "198.51.100.9")
	})
	in2 := startRiposteIn(t, dir, cfg, ns)
	waitFor(t, 5*time.Second, "the overdue delete after the restart", func() bool {
		return len(runsWhere(in2.runs(), func(r execd.Result) bool { return r.Verb == "delete" })) == 1
	})
	if d := runsWhere(in2.runs(), func(r execd.Result) bool { return r.Verb == "delete" }); d[0].Status != execd.StatusOK {
		t.Errorf("overdue delete of an already expired element: %+v", d[0])
	}
	in2.stop()
}
