package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/riposte/riposte/internal/arlog"
)

// Env is everything an action touches on the system. Tests replace the
// pieces: a temp Root for files, a Runner that records argv or runs inside a
// network namespace, a netlink connection bound to a namespace.
type Env struct {
	// Program is the name written in log lines: the path the action was run
	// as ("active-response/bin/firewall-drop").
	Program string
	// Log is active-responses.log; nil logs nothing.
	Log *arlog.Logger
	// Root is the filesystem root under which system files (/etc/hosts.deny,
	// /etc/passwd, /etc/pf.conf, /dev/pf) are found. Default "/".
	Root string
	// Exec runs external programs. Default: ExecRunner.
	Exec Runner
	// GOOS selects the platform behaviour. Default runtime.GOOS.
	GOOS string
	// Options tune the actions.
	Options Options
	// Timeout is how long a stateful block lasts, when known (in-process
	// runs, Wazuh 5.x stateful_timeout). Zero when unknown.
	Timeout time.Duration
	// Shared, when set, is kept by the caller across runs (execd keeps one
	// for all its in-process runs) so that actions remember what they
	// learned: the backend detected, a firewall layout already in place.
	// Nil for a one-shot run (riposte-ar).
	Shared *Shared
}

// Shared is what the actions of one process keep across runs. The zero
// value is ready to use; it is safe for concurrent use.
type Shared struct {
	mu     sync.Mutex
	values map[string]*sharedValue
}

// sharedValue is one value of Shared, made once.
type sharedValue struct {
	once sync.Once
	v    any
}

// load returns the value stored under key, making it with mk the first
// time. mk may load other keys (detecting a backend loads that backend's
// own state); concurrent loads of one key wait for the first.
func (s *Shared) load(key string, mk func() any) any {
	s.mu.Lock()
	if s.values == nil {
		s.values = make(map[string]*sharedValue)
	}
	sv, ok := s.values[key]
	if !ok {
		sv = &sharedValue{}
		s.values[key] = sv
	}
	s.mu.Unlock()
	sv.once.Do(func() { sv.v = mk() })
	return sv.v
}

// Options tune the built-in actions. The zero value is the default.
type Options struct {
	// Backend is firewall-drop's backend: "nftables", "ipset", "iptables",
	// or "" to detect (nftables where it works, else ipset, else iptables).
	Backend string
	// Output also blocks traffic to the address (output hook / OUTPUT chain).
	Output bool
	// Ingress, when set, also drops at netdev ingress on this device.
	Ingress string
	// IPv6Prefix widens IPv6 addresses to this prefix length (e.g. 64);
	// 0 keeps them as given.
	IPv6Prefix int
	// FirewalldPermanent makes firewalld-drop rules permanent as well.
	FirewalldPermanent bool
	// KillSessions makes disable-account end the user's sessions.
	KillSessions bool
	// SlackOnDelete makes wazuh-slack post on delete too.
	SlackOnDelete bool
}

func (e *Env) root() string {
	if e.Root == "" {
		return "/"
	}
	return e.Root
}

// Path returns a system path (such as "/etc/hosts.deny") under Root.
func (e *Env) Path(p string) string { return filepath.Join(e.root(), p) }

func (e *Env) goos() string {
	if e.GOOS == "" {
		return runtime.GOOS
	}
	return e.GOOS
}

func (e *Env) exec() Runner {
	if e.Exec == nil {
		return ExecRunner{}
	}
	return e.Exec
}

// logf writes one line to active-responses.log.
func (e *Env) logf(format string, args ...any) {
	if e.Log != nil {
		_ = e.Log.Logf(e.Program, format, args...)
	}
}

// flushLog waits until the lines logged so far are in the log.
func (e *Env) flushLog() { _ = e.Log.Flush() }

// Runner runs an external program with argv, never through a shell.
type Runner interface {
	// Run runs name with args, feeding stdin, and returns its standard
	// output. A non-zero exit is an error that includes the stderr text.
	Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)
}

// ExecRunner runs programs on this host. Programs are looked up in the
// system directories first (/usr/sbin, /sbin, /usr/bin, /bin,
// /usr/local/sbin, /usr/local/bin), then in $PATH.
type ExecRunner struct {
	// Prefix is prepended to every argv, e.g. ["ip", "netns", "exec", "t1"]
	// to run inside a network namespace.
	Prefix []string
}

// ErrNotFound reports a program that is not installed.
var ErrNotFound = errors.New("program not found")

var systemDirs = []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"}

// LookPath finds a program in the system directories, then in $PATH.
func LookPath(name string) (string, error) {
	if strings.ContainsRune(name, '/') {
		return name, nil
	}
	for _, d := range systemDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return p, nil
}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	argv := append(append(append([]string(nil), r.Prefix...), name), args...)
	path, err := LookPath(argv[0])
	if err != nil {
		return nil, err
	}
	if len(r.Prefix) > 0 {
		// The program runs inside the prefix command; look it up there too.
		if p, err := LookPath(name); err == nil {
			argv[len(r.Prefix)] = p
		}
	}
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Args[0] = argv[0]
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		return out.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.Bytes(), nil
}
