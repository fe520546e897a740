//go:build unix && !solaris && !aix

package action

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHostDenyLockAcrossProcesses holds the lock file's flock the way
// another riposte-ar process would, and checks that host-deny waits for it
// and gives up when its context ends.
func TestHostDenyLockAcrossProcesses(t *testing.T) {
	root, path := hostsRoot(t, "hosts.deny", "")
	lp := filepath.Join(root, "etc", ".hosts.deny.riposte-lock")
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	act := newHostDeny(&Env{Root: root})

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err = act.Add(ctx, inputForIP(t, "add", "1.2.3.4"))
	if err == nil || !strings.Contains(err.Error(), "unable to take lock") {
		t.Fatalf("add while locked: %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- act.Add(t.Context(), inputForIP(t, "add", "1.2.3.4")) }()
	select {
	case err := <-done:
		t.Fatalf("add did not wait for the lock: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := hostsRead(t, path); got != "ALL:1.2.3.4\n" {
		t.Fatalf("got %q", got)
	}
}
