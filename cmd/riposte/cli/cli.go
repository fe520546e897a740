// Package cli is the riposte command tree: flags, wiring and output. Every
// command is built from an importable function so tests run it against
// buffers.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/riposte/riposte/internal/groupwrite"
)

// Version is the program version, set at build time.
var Version = "dev"

// exitError carries an exit code with a message already printed (or none).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// streams are a command's standard input and outputs.
type streams struct {
	in       io.Reader
	out, err io.Writer
	// log is err for the logs of long-running commands: a burst of log
	// lines from many goroutines goes out in a few writes.
	log io.Writer
}

// Run runs the riposte command line args and returns the exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	logs := groupwrite.New(stderr, 0)
	s := &streams{in: stdin, out: stdout, err: stderr, log: logs}
	root := newRoot(s)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	logs.Close()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	name := "riposte"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}

func newRoot(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "riposte",
		Short:         "Active response: block attackers, lock accounts, run your scripts",
		Long:          "Riposte decides when something hostile is going on and answers it: it runs Wazuh-compatible active responses, stateful or stateless, and undoes them after their timeout.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.AddCommand(newRunCmd(s), newManagerCmd(s), newAgentCmd(s), newCtlCmd(s), newConfigCmd(s), newAlertCmd(s), newLogtestCmd(s))
	return root
}

// defaultDataDir is /var/lib/riposte for root, and a per-user state
// directory otherwise.
func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/riposte"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "riposte")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "riposte")
	}
	return filepath.Join(os.TempDir(), "riposte")
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}
