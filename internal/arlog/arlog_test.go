package arlog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T) (*Logger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "logs", "active-responses.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	l.now = func() time.Time { return time.Date(2026, 11, 27, 10, 4, 5, 0, time.Local) }
	return l, path
}

func read(t *testing.T, l *Logger, path string) string {
	t.Helper()
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLineFormat(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *Logger) error
		want string
	}{
		{"text", func(l *Logger) error { return l.Log("active-response/bin/firewall-drop", "Starting") },
			"2026/11/27 10:04:05 active-response/bin/firewall-drop: Starting\n"},
		{"ends in a newline", func(l *Logger) error { return l.Log("p", "line\n") }, "2026/11/27 10:04:05 p: line\n"},
		{"embedded newlines kept", func(l *Logger) error { return l.Log("p", "{\"a\":1}\n\n") }, "2026/11/27 10:04:05 p: {\"a\":1}\n\n"},
		{"empty", func(l *Logger) error { return l.Log("p", "") }, "2026/11/27 10:04:05 p: \n"},
		{"format", func(l *Logger) error { return l.Logf("riposte-execd", "%s: add %s, exit status %d", "x", "ok", 0) },
			"2026/11/27 10:04:05 riposte-execd: x: add ok, exit status 0\n"},
		{"long", func(l *Logger) error { return l.Log("p", strings.Repeat("x", 100<<10)) },
			"2026/11/27 10:04:05 p: " + strings.Repeat("x", 100<<10) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, path := openTest(t)
			if err := tt.log(l); err != nil {
				t.Fatal(err)
			}
			if got := read(t, l, path); got != tt.want {
				t.Errorf("got %q, want %q", got[:min(len(got), 200)], tt.want[:min(len(tt.want), 200)])
			}
		})
	}
}

// TestConcurrentLinesWhole: lines logged at once from many goroutines
// come out whole, each once.
func TestConcurrentLinesWhole(t *testing.T) {
	l, path := openTest(t)
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Go(func() {
			for i := range 200 {
				l.Logf("p", "goroutine %d line %d %s", g, i, strings.Repeat("y", i*10))
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(read(t, l, path), "\n"), "\n")
	if len(lines) != 50*200 {
		t.Fatalf("%d lines, want %d", len(lines), 50*200)
	}
	seen := make(map[string]bool)
	for _, line := range lines {
		var g, i int
		if _, err := fmt.Sscanf(line, "2026/11/27 10:04:05 p: goroutine %d line %d", &g, &i); err != nil {
			t.Fatalf("torn line %q: %v", line[:min(len(line), 80)], err)
		}
		if want := fmt.Sprintf("2026/11/27 10:04:05 p: goroutine %d line %d %s", g, i, strings.Repeat("y", i*10)); line != want || seen[want] {
			t.Fatalf("line %q is torn or repeated", line[:min(len(line), 80)])
		}
		seen[line] = true
	}
}

func TestClosedAndNil(t *testing.T) {
	var nl *Logger
	if err := nl.Log("p", "x"); err != nil {
		t.Errorf("nil logger: %v", err)
	}
	if err := nl.Flush(); err != nil {
		t.Errorf("nil logger flush: %v", err)
	}
	l, _ := openTest(t)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Log("p", "x"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("log after close: %v", err)
	}
}

// BenchmarkLogf logs the input line of a run, as a built-in action does.
func BenchmarkLogf(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "active-responses.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	msg := `{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":[],"alert":` +
		`{"rule":{"id":"5763","level":10},"full_log":"` + strings.Repeat("x", 2000) + `"},"program":"active-response/bin/firewall-drop"}}`
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		l.Logf("active-response/bin/firewall-drop", "%s\n\n", msg)
	}
}
