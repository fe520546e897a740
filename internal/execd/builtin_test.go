package execd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
