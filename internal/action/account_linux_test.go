package action

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// innerEnv selects, in a re-executed test binary, the test body to run
// inside private mount and PID namespaces; innerMntNS carries the outer
// mount namespace, which the inner run checks it has left before touching
// /etc.
const (
	innerEnv   = "RIPOSTE_INNER"
	innerMntNS = "RIPOSTE_OUTER_MNTNS"
)

// runInPrivateNS re-executes the test binary for test under unshare, with
// private mount and PID namespaces (so pkill sees only the namespace's
// processes), and RIPOSTE_INNER=name. It fails when the inner test fails or
// does not run.
func runInPrivateNS(t *testing.T, test, name string) {
	t.Helper()
	requireRoot(t)
	requireProgram(t, "unshare")
	mnt, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Skipf("no mount namespaces: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), "unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc",
		os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), innerEnv+"="+name, innerMntNS+"="+mnt)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("inner run: %v\n%s", err, out)
	}
	t.Logf("inner run:\n%s", out)
}

// enterPrivateEtc, in an inner run, checks the mount namespace is a new one
// and mounts a copy of /etc over /etc, so that useradd and passwd change
// only the copy.
func enterPrivateEtc(t *testing.T) {
	t.Helper()
	mnt, _ := os.Readlink("/proc/self/ns/mnt")
	if outer := os.Getenv(innerMntNS); outer == "" || mnt == outer {
		t.Fatalf("refusing to touch /etc: not in a private mount namespace (%s, outer %s)", mnt, outer)
	}
	etc := filepath.Join(t.TempDir(), "etc")
	if out, err := exec.Command("cp", "-a", "/etc/.", etc+"/").CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	if err := syscall.Mount(etc, "/etc", "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
}

// hashAccountFiles fingerprints the host's account files.
func hashAccountFiles(t *testing.T) string {
	t.Helper()
	h := sha256.New()
	for _, f := range []string{"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/subuid", "/etc/subgid"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		fi, _ := os.Stat(f)
		if fi != nil {
			fmt.Fprintf(h, "%s %d %v\n", f, fi.Size(), fi.ModTime())
		}
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestDisableAccountNamespace locks and unlocks a real account created with
// useradd, in a mount namespace whose /etc is a copy, and checks the host's
// account files are untouched.
func TestDisableAccountNamespace(t *testing.T) {
	if os.Getenv(innerEnv) == "disable-account" {
		disableAccountInner(t)
		return
	}
	requireProgram(t, "useradd", "usermod", "passwd", "pkill", "cp")
	before := hashAccountFiles(t)
	runInPrivateNS(t, "TestDisableAccountNamespace", "disable-account")
	if hashAccountFiles(t) != before {
		t.Fatal("the host's account files changed")
	}
	if b, _ := os.ReadFile("/etc/passwd"); strings.Contains(string(b), "riposte-t") {
		t.Fatal("test user on the host")
	}
}

func disableAccountInner(t *testing.T) {
	enterPrivateEtc(t)
	const user = "riposte-t1"
	mustRun := func(argv ...string) string {
		t.Helper()
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
		}
		return string(out)
	}
	status := func() string {
		t.Helper()
		f := strings.Fields(mustRun("passwd", "-S", user))
		return f[1]
	}
	mustRun("useradd", "-l", "-M", user)
	mustRun("usermod", "-p", "$6$salt$4x0T2jHbDmVjvB3sUgh2VqKfz5N8i6Q3pR6w1eS0b9fYc7dA2tZ", user)
	mustRun("useradd", "-l", "-M", "-o", "-u", "0", "toor2")
	if s := status(); s != "P" {
		t.Fatalf("status before: %s", s)
	}
	rootBefore := mustRun("passwd", "-S", "root")

	// A process of the user, which KillSessions ends.
	var uid, gid int
	if _, err := fmt.Sscanf(strings.TrimSpace(mustRun("id", "-u", user))+" "+strings.TrimSpace(mustRun("id", "-g", user)), "%d %d", &uid, &gid); err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "300")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sleeper.Wait() }()

	env := &Env{Program: "active-response/bin/disable-account", Options: Options{KillSessions: true}}
	act := newDisableAccount(env)
	add, del := inputForUser(t, "add", user), inputForUser(t, "delete", user)
	if keys, err := act.Keys(add); err != nil || len(keys) != 1 || keys[0] != user {
		t.Fatalf("keys: %v %v", keys, err)
	}
	for range 2 {
		if err := act.Add(t.Context(), add); err != nil {
			t.Fatal(err)
		}
	}
	if s := status(); s != "L" {
		t.Fatalf("status after add: %s", s)
	}
	if ok, err := act.(Verifier).Present(t.Context(), add); !ok || err != nil {
		t.Fatalf("present: %v %v", ok, err)
	}
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("sleeper: %v", err)
		}
	case <-time.After(5 * time.Second):
		sleeper.Process.Kill()
		t.Fatal("the user's process survived")
	}

	for range 2 {
		if err := act.Delete(t.Context(), del); err != nil {
			t.Fatal(err)
		}
	}
	if s := status(); s != "P" {
		t.Fatalf("status after delete: %s", s)
	}
	if ok, err := act.(Verifier).Present(t.Context(), add); ok || err != nil {
		t.Fatalf("present after delete: %v %v", ok, err)
	}

	// Real UID 0 accounts are refused, and left alone.
	for _, u := range []string{"root", "toor2"} {
		if _, err := act.Keys(inputForUser(t, "add", u)); err == nil {
			t.Errorf("%s accepted", u)
		}
		if err := act.Add(t.Context(), inputForUser(t, "add", u)); err == nil {
			t.Errorf("%s locked", u)
		}
	}
	if got := mustRun("passwd", "-S", "root"); got != rootBefore {
		t.Errorf("root's status changed: %q, was %q", got, rootBefore)
	}
}
