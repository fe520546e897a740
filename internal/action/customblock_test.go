package action

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIPCustomBlock(t *testing.T) {
	tests := []struct {
		ip, file string
		widen    int
	}{
		{"203.0.113.7", "203.0.113.7", 0},
		{"::ffff:203.0.113.7", "203.0.113.7", 0},
		{"2001:DB8::1", "2001:db8::1", 0},
		{"2001:db8::1", "2001:db8::_64", 64},
		{"10.1.2.3/8", "10.0.0.0_8", 0},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			root := t.TempDir()
			act := newIPCustomBlock(&Env{Root: root, Options: Options{IPv6Prefix: tt.widen}})
			add, del := inputForIP(t, "add", tt.ip), inputForIP(t, "delete", tt.ip)
			if err := act.Delete(t.Context(), del); err != nil {
				t.Fatalf("delete before add: %v", err)
			}
			for range 2 {
				if err := act.Add(t.Context(), add); err != nil {
					t.Fatal(err)
				}
			}
			ents, err := os.ReadDir(filepath.Join(root, "ipblock"))
			if err != nil || len(ents) != 1 || ents[0].Name() != tt.file || !ents[0].Type().IsRegular() {
				t.Fatalf("ipblock: %v %v, want one file %s", ents, err, tt.file)
			}
			if b, _ := os.ReadFile(filepath.Join(root, "ipblock", tt.file)); len(b) != 0 {
				t.Errorf("marker not empty: %q", b)
			}
			if ok, err := act.(Verifier).Present(t.Context(), add); !ok || err != nil {
				t.Fatalf("present: %v %v", ok, err)
			}
			for range 2 {
				if err := act.Delete(t.Context(), del); err != nil {
					t.Fatal(err)
				}
			}
			if ents, _ := os.ReadDir(filepath.Join(root, "ipblock")); len(ents) != 0 {
				t.Fatalf("left: %v", ents)
			}
			if ok, err := act.(Verifier).Present(t.Context(), add); ok || err != nil {
				t.Fatalf("present after delete: %v %v", ok, err)
			}
		})
	}
}

func TestIPCustomBlockHostile(t *testing.T) {
	root := t.TempDir()
	act := newIPCustomBlock(&Env{Root: root})
	for _, ip := range []string{"../../etc/passwd", "1.2.3.4/../../x", "1.2.3.4/33", "/etc/shadow", "1.2.3.4\x00", "fe80::1%eth0", "..", "1.2.3.4 5.6.7.8", ""} {
		in := inputForIP(t, "add", ip)
		if _, err := act.Keys(in); err == nil {
			t.Errorf("Keys(%q) accepted", ip)
		}
		if err := act.Add(t.Context(), in); err == nil {
			t.Errorf("Add(%q) accepted", ip)
		}
		if err := act.Delete(t.Context(), inputForIP(t, "delete", ip)); err == nil {
			t.Errorf("Delete(%q) accepted", ip)
		}
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Fatalf("created: %v", ents)
	}
}

// TestIPCustomBlockLink refuses to take a planted link for the marker.
func TestIPCustomBlockLink(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "ipblock"), 0o755)
	victim := filepath.Join(root, "victim")
	if err := os.Symlink(victim, filepath.Join(root, "ipblock", "1.2.3.4")); err != nil {
		t.Fatal(err)
	}
	act := newIPCustomBlock(&Env{Root: root})
	err := act.Add(t.Context(), inputForIP(t, "add", "1.2.3.4"))
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("add over a link: %v", err)
	}
	if _, err := os.Lstat(victim); err == nil {
		t.Fatal("link followed")
	}
}
