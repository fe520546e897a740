package action

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/riposte/riposte/internal/arlog"
	"github.com/riposte/riposte/internal/netnstest"
)

// requireRoot skips a test that changes kernel state when not root.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network and mount namespaces)")
	}
}

// requireProgram skips when a system program is missing.
func requireProgram(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := LookPath(n); err != nil {
			t.Skipf("needs %s (installed by scripts/test)", n)
		}
	}
}

// newNetns creates a network namespace for one test and removes it after.
func newNetns(t testing.TB) string {
	t.Helper()
	return netnstest.New(t, "riposte-t-")
}

// inNetns runs a command inside the namespace and returns its output.
func inNetns(t testing.TB, ns string, argv ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// netnsRunner runs external programs inside a namespace.
func netnsRunner(ns string) ExecRunner {
	return ExecRunner{Prefix: []string{"ip", "netns", "exec", ns}}
}

// testLog opens an active-responses.log in a temp dir.
func testLog(t testing.TB) (*arlog.Logger, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "logs", "active-responses.log")
	l, err := arlog.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, p
}

// fakeRunner records every argv and answers from a table keyed by the argv
// joined with spaces (prefix match on the longest key).
type fakeRunner struct {
	mu      sync.Mutex
	calls   [][]string
	stdins  []string
	answers map[string]fakeAnswer
}

type fakeAnswer struct {
	out string
	err error
}

func (f *fakeRunner) Run(_ context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	argv := append([]string{name}, args...)
	f.calls = append(f.calls, argv)
	f.stdins = append(f.stdins, string(stdin))
	line := strings.Join(argv, " ")
	best := ""
	for k := range f.answers {
		if strings.HasPrefix(line, k) && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return nil, nil
	}
	a := f.answers[best]
	return []byte(a.out), a.err
}

// argvs returns the recorded calls, each joined with single spaces... and
// quoted where an argument holds a space, so tests can compare exactly.
func (f *fakeRunner) argvs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		parts := make([]string, len(c))
		for i, a := range c {
			if strings.ContainsAny(a, " \"") {
				a = fmt.Sprintf("%q", a)
			}
			parts[i] = a
		}
		out = append(out, strings.Join(parts, " "))
	}
	return slices.Clone(out)
}
