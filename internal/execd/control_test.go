package execd

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestUndo(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, "fw", statefulScript)
	x, rec, stop := start(t, dir, Options{})
	if err := x.Submit(req("fw", time.Hour)); err != nil {
		t.Fatal(err)
	}
	add := rec.next(t, 5*time.Second)
	p := x.Pending()
	if add.Status != StatusOK || len(p) != 1 || add.Key == "" || add.Key != p[0].Key {
		t.Fatalf("add %+v, pending %+v", add, p)
	}
	if err := x.Undo(add.Key); err != nil {
		t.Fatal(err)
	}
	del := rec.next(t, 5*time.Second)
	if del.Verb != "delete" || del.Status != StatusOK || del.Key != add.Key || !strings.Contains(del.Note, "undone") {
		t.Fatalf("delete %+v", del)
	}
	if p := x.Pending(); len(p) != 0 {
		t.Fatalf("still pending after undo: %+v", p)
	}
	lines := readLog(t, filepath.Join(dir, BinDir, "fw.log"))
	if len(lines) != 3 || !strings.Contains(lines[2], `"command":"delete"`) {
		t.Fatalf("script read %q", lines)
	}
	if err := x.Undo(add.Key); !errors.Is(err, ErrNotActive) {
		t.Fatalf("second undo: %v, want ErrNotActive", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	x2, _, _ := start(t, dir, Options{})
	if p := x2.Pending(); len(p) != 0 {
		t.Fatalf("undone timer came back after a restart: %+v", p)
	}
}

func TestExtend(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, "fw", statefulScript)
	x, rec, stop := start(t, dir, Options{})
	x.Submit(req("fw", time.Hour))
	add := rec.next(t, 5*time.Second)
	if add.Key == "" {
		t.Fatalf("add without a key: %+v", add)
	}
	until := time.Now().Add(3 * time.Hour).Round(time.Second)
	if err := x.Extend(add.Key, until); err != nil {
		t.Fatal(err)
	}
	if p := x.Pending(); len(p) != 1 || !p[0].Deadline.Equal(until) {
		t.Fatalf("pending %+v, want deadline %v", p, until)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	x2, rec2, _ := start(t, dir, Options{})
	if p := x2.Pending(); len(p) != 1 || !p[0].Deadline.Equal(until) {
		t.Fatalf("after restart %+v, want deadline %v", p, until)
	}
	// Shorter, as an operator may ask: the delete runs at the new deadline.
	soon := time.Now().Add(300 * time.Millisecond)
	if err := x2.Extend(add.Key, soon); err != nil {
		t.Fatal(err)
	}
	del := rec2.next(t, 5*time.Second)
	if del.Verb != "delete" || del.Key != add.Key || time.Now().Before(soon) {
		t.Fatalf("delete %+v at %v, deadline %v", del, time.Now(), soon)
	}
	if p := x2.Pending(); len(p) != 0 {
		t.Fatalf("pending after the delete: %+v", p)
	}
}

// TestExtendReorders moves the later of two deadlines before the earlier
// one: the timers must follow the new order.
func TestExtendReorders(t *testing.T) {
	dir := t.TempDir()
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		script(t, dir, "fw"+ip, strings.Replace(statefulScript, "${KEY:-203.0.113.7}", ip, 1))
	}
	x, rec, _ := start(t, dir, Options{})
	r1 := req("fw192.0.2.1", 2*time.Second)
	r2 := req("fw192.0.2.2", time.Hour)
	x.Submit(r1)
	first := rec.next(t, 5*time.Second)
	x.Submit(r2)
	second := rec.next(t, 5*time.Second)
	if err := x.Extend(second.Key, time.Now().Add(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := x.Extend(first.Key, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	del := rec.next(t, 5*time.Second)
	if del.Key != second.Key {
		t.Fatalf("deleted %q, want %q", del.Key, second.Key)
	}
	if p := x.Pending(); len(p) != 1 || p[0].Key != first.Key {
		t.Fatalf("pending %+v", p)
	}
}

func TestControlUnknownKey(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, "once", "read -r line\n")
	x, rec, _ := start(t, dir, Options{})
	x.Submit(req("once", 0))
	if res := rec.next(t, 5*time.Second); res.Status != StatusOK || res.Key != "" {
		t.Fatalf("stateless add %+v: want ok and no key", res)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"undo", func() error { return x.Undo("fw [\"198.51.100.1\"]") }},
		{"extend", func() error { return x.Extend("fw [\"198.51.100.1\"]", time.Now().Add(time.Hour)) }},
		{"undo empty", func() error { return x.Undo("") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrNotActive) {
				t.Fatalf("got %v, want ErrNotActive", err)
			}
		})
	}
}
