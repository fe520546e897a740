package action

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/riposte/riposte/internal/arlog"
)

// Multicall is the name of the multi-call binary that holds every action.
const Multicall = "riposte-ar"

// NameFromArgv0 returns the action an executable name selects
// ("active-response/bin/firewall-drop" selects firewall-drop), or "" when it
// names none.
func NameFromArgv0(argv0 string) string {
	base := filepath.Base(strings.ReplaceAll(argv0, `\`, "/"))
	if _, ok := Lookup(base); ok {
		return base
	}
	if runtime.GOOS == "windows" || strings.HasSuffix(base, ".exe") {
		trimmed := strings.TrimSuffix(base, ".exe")
		if _, ok := table[trimmed+".exe"]; ok {
			return trimmed + ".exe"
		}
		if _, ok := table[trimmed]; ok {
			return trimmed
		}
	}
	return ""
}

// InstallDir finds the install directory of an action run as program: the
// part of its path before "/active-response/", as Wazuh's scripts find it.
// It returns "" when the path has no such part.
func InstallDir(program string) string {
	p := program
	if !filepath.IsAbs(p) {
		if exe, err := os.Executable(); err == nil {
			p = exe
		}
	}
	p = filepath.ToSlash(p)
	if i := strings.LastIndex(p, "/active-response/"); i >= 0 {
		return filepath.FromSlash(p[:i])
	}
	return ""
}

// LogPath is where active-responses.log lives under an install directory.
func LogPath(dir string) string {
	if runtime.GOOS == "windows" {
		return filepath.Join(dir, "active-response", "active-responses.log")
	}
	return filepath.Join(dir, "logs", "active-responses.log")
}

// Main runs the multi-call binary: as an action when argv0 names one, or as
// riposte-ar with a subcommand ("riposte-ar NAME", "riposte-ar install DIR",
// "riposte-ar list"). It returns the exit code.
func Main(ctx context.Context, argv0 string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name := NameFromArgv0(argv0)
	program := argv0
	if name == "" {
		if len(args) == 0 {
			fmt.Fprintf(stderr, "usage: %s NAME | install DIR | list\nactions: %s\n", Multicall, strings.Join(Names(), ", "))
			return 2
		}
		switch args[0] {
		case "install":
			if len(args) != 2 {
				fmt.Fprintf(stderr, "usage: %s install DIR\n", Multicall)
				return 2
			}
			exe, err := os.Executable()
			if err == nil {
				exe, err = filepath.EvalSymlinks(exe)
			}
			if err == nil {
				err = Install(args[1], exe)
			}
			if err != nil {
				fmt.Fprintf(stderr, "%s install: %v\n", Multicall, err)
				return 1
			}
			return 0
		case "list":
			for _, n := range Names() {
				fmt.Fprintln(stdout, n)
			}
			return 0
		}
		name = NameFromArgv0(args[0])
		if name == "" {
			fmt.Fprintf(stderr, "%s: unknown action %q; known: %s\n", Multicall, args[0], strings.Join(Names(), ", "))
			return 2
		}
		program = "active-response/bin/" + name
	}
	env := &Env{Program: program}
	if dir := InstallDir(argv0); dir != "" {
		// Like Wazuh's scripts: work from the install directory.
		if err := os.Chdir(dir); err == nil {
			if l, err := arlog.Open(LogPath(dir)); err == nil {
				defer l.Close()
				env.Log = l
			}
		}
	} else if l, err := arlog.Open(LogPath(".")); err == nil {
		defer l.Close()
		env.Log = l
	}
	return Run(ctx, name, env, stdin, stdout)
}

// Install puts a link for every action in dir, pointing at target (the
// multi-call binary). Existing links are replaced; a regular file of the same
// name is left alone, since it is the operator's own script.
func Install(dir, target string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	for _, n := range Names() {
		p := filepath.Join(dir, n)
		if fi, err := os.Lstat(p); err == nil {
			if fi.Mode()&os.ModeSymlink == 0 {
				continue // the operator's own file overrides the built-in
			}
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("install %s: %w", n, err)
			}
		}
		if err := os.Symlink(target, p); err != nil {
			return fmt.Errorf("install %s: %w", n, err)
		}
	}
	return nil
}

// IsBuiltinLink reports whether the file at path is absent or a link
// installed by Install (a symlink), so that the built-in action may run in
// process; a regular file is the operator's own override.
func IsBuiltinLink(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil {
		return os.IsNotExist(err)
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		return false
	}
	target, err := os.Readlink(path)
	if err != nil {
		return false
	}
	switch strings.TrimSuffix(filepath.Base(target), ".exe") {
	case Multicall, "riposte":
		return true
	}
	if exe, err := os.Executable(); err == nil && target == exe {
		return true
	}
	return false
}
