package action

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRestartWazuh(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "run", "systemd", "system"), 0o755); err != nil {
		t.Fatal(err)
	}
	fr := &fakeRunner{}
	act := newRestartWazuh(&Env{Root: root, Exec: fr})
	in := inputForIP(t, "add", "")
	if keys, err := act.Keys(in); keys != nil || err != nil {
		t.Fatalf("keys %v %v: want stateless", keys, err)
	}
	if err := act.Add(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	if err := act.Delete(t.Context(), inputForIP(t, "delete", "")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"systemctl --no-block restart riposte.service"}, fr.argvs()); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}

	fr.answers = map[string]fakeAnswer{"systemctl": {err: errors.New("exit status 5: Unit riposte.service not found.")}}
	if err := act.Add(t.Context(), in); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("failed restart: %v", err)
	}
}

func TestRestartWazuhNoSystemd(t *testing.T) {
	l, logPath := testLog(t)
	fr := &fakeRunner{}
	act := newRestartWazuh(&Env{Root: t.TempDir(), Exec: fr, Log: l, Program: "active-response/bin/restart-wazuh"})
	err := act.Add(t.Context(), inputForIP(t, "add", ""))
	if err == nil || !strings.Contains(err.Error(), "no service manager") || len(fr.calls) != 0 {
		t.Fatalf("add: %v, ran %v", err, fr.argvs())
	}
	l.Flush()
	if b, _ := os.ReadFile(logPath); !strings.Contains(string(b), "no service manager found") {
		t.Errorf("log:\n%s", b)
	}
}

// restartHangRunner waits for its context, like a systemctl that hangs.
type restartHangRunner struct{}

func (restartHangRunner) Run(ctx context.Context, _ []byte, _ string, _ ...string) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestRestartWazuhHonoursContext(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "run", "systemd", "system"), 0o755)
	act := newRestartWazuh(&Env{Root: root, Exec: restartHangRunner{}})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := act.Add(ctx, inputForIP(t, "add", "")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("add: %v", err)
	}
}
