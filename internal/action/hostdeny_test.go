package action

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// inputForIP builds a 4.x message (command add or delete) whose
// data.srcip is ip.
func inputForIP(t testing.TB, command, ip string) *Input {
	t.Helper()
	b, _ := json.Marshal(map[string]any{
		"version": 1, "origin": map[string]any{"name": "node01", "module": "wazuh-execd"},
		"command": command,
		"parameters": map[string]any{"extra_args": []string{}, "alert": map[string]any{
			"rule": map[string]any{"id": "5712", "level": 10}, "data": map[string]any{"srcip": ip}}},
	})
	in, err := ParseInput(b)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// hostsRoot makes a temp root whose /etc/hosts.deny is content, owned by
// uid/gid 1234 with mode 0640 when running as root.
func hostsRoot(t *testing.T, name, content string) (root, path string) {
	t.Helper()
	root = t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(root, "etc", name)
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(path, 1234, 1234); err != nil {
			t.Fatal(err)
		}
	}
	return root, path
}

func hostsFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "linux", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hostsRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkOwnerMode fails unless path has mode 0640 and, as root, owner 1234.
func checkOwnerMode(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if uid, gid, ok := hostsFileOwner(fi); ok && os.Geteuid() == 0 && (uid != 1234 || gid != 1234) {
		t.Errorf("owner %d:%d, want 1234:1234", uid, gid)
	}
}

func TestHostDenyKeys(t *testing.T) {
	act := newHostDeny(&Env{Options: Options{IPv6Prefix: 64}})
	tests := []struct{ ip, want, err string }{
		{"1.2.3.4", "1.2.3.4", ""},
		{"::ffff:1.2.3.4", "1.2.3.4", ""},
		{"2001:DB8::1:2:3:4", "2001:db8::/64", ""},
		{"10.1.2.3/8", "10.0.0.0/8", ""},
		{"1.2.3.4 # x", "", "invalid IP"},
		{"host.example", "", "invalid IP"},
		{"", "", "Cannot read 'srcip' from data"},
	}
	for _, tt := range tests {
		keys, err := act.Keys(inputForIP(t, "add", tt.ip))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.ip, err, tt.err)
			}
			continue
		}
		if err != nil || len(keys) != 1 || keys[0] != tt.want {
			t.Errorf("%q: keys %v %v, want [%s]", tt.ip, keys, err, tt.want)
		}
	}
}

func TestHostDenyAddDelete(t *testing.T) {
	orig := hostsFixture(t, "hosts.deny")
	root, path := hostsRoot(t, "hosts.deny", orig)
	l, logPath := testLog(t)
	env := &Env{Root: root, Program: "active-response/bin/host-deny", Log: l}
	act := newHostDeny(env)
	ctx := t.Context()
	add, del := inputForIP(t, "add", "1.2.3.4"), inputForIP(t, "delete", "1.2.3.4")

	if ok, err := act.(Verifier).Present(ctx, add); err != nil || ok {
		t.Fatalf("present before add: %v %v", ok, err)
	}
	if err := act.Add(ctx, add); err != nil {
		t.Fatal(err)
	}
	if got, want := hostsRead(t, path), orig+"ALL:1.2.3.4\n"; got != want {
		t.Fatalf("after add:\n%s\nwant:\n%s", got, want)
	}
	checkOwnerMode(t, path)
	if ok, err := act.(Verifier).Present(ctx, add); err != nil || !ok {
		t.Fatalf("present after add: %v %v", ok, err)
	}

	// Adding again changes nothing and is not an error.
	if err := act.Add(ctx, add); err != nil {
		t.Fatal(err)
	}
	if got, want := hostsRead(t, path), orig+"ALL:1.2.3.4\n"; got != want {
		t.Fatalf("after second add:\n%s", got)
	}
	l.Flush()
	if log := hostsRead(t, logPath); !strings.Contains(log, "host-deny: IP 1.2.3.4 already exists on '/etc/hosts.deny'\n") {
		t.Errorf("log:\n%s", log)
	}

	if err := act.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	if got, want := hostsRead(t, path), orig; got != want {
		t.Fatalf("after delete:\n%s\nwant:\n%s", got, want)
	}
	checkOwnerMode(t, path)
	if ok, err := act.(Verifier).Present(ctx, add); err != nil || ok {
		t.Fatalf("present after delete: %v %v", ok, err)
	}
	// Deleting again is not an error and leaves the file alone.
	if err := act.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	if got, want := hostsRead(t, path), orig; got != want {
		t.Fatalf("after second delete:\n%s", got)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 2 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

// TestHostDenyDeleteOnlyOurs deletes an address written in the forms other
// tools and Wazuh use, and checks every other line stays, byte for byte.
func TestHostDenyDeleteOnlyOurs(t *testing.T) {
	keep := "# ALL:1.2.3.4\n" +
		"ALL: 11.2.3.45\n" +
		"ALL: 1.2.3.45\n" +
		"ALL: 1.2.3.4 : spawn /bin/echo %a\n" +
		"sshd: 1.2.3.4\n" +
		"ALL: 1.2.3.4, 5.6.7.8\n" +
		"ALL EXCEPT sshd: 1.2.3.4\n" +
		"ALL: 1.2.3.0/255.255.255.0\n" +
		"ALL: [2001:db8::10]\n" +
		"ALL:2001:db8::10\n"
	tests := []struct {
		name, ip, ours string
	}{
		{"riposte form", "1.2.3.4", "ALL:1.2.3.4\n"},
		{"spaces", "1.2.3.4", "  all :\t1.2.3.4  \r\n"},
		{"mask", "1.2.3.4", "ALL: 1.2.3.4/255.255.255.255\n"},
		{"ipv6 bracketed", "2001:db8::1", "ALL: [2001:DB8:0::1]\n"},
		{"ipv6 wazuh", "2001:db8::1", "ALL:2001:db8::1\n"},
		{"ipv4 block", "10.0.0.0/8", "ALL:10.0.0.0/255.0.0.0\n"},
		{"ipv6 block", "2001:db8::/32", "ALL:[2001:db8::]/32\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, path := hostsRoot(t, "hosts.deny", tt.ours+keep+tt.ours)
			act := newHostDeny(&Env{Root: root})
			if err := act.Delete(t.Context(), inputForIP(t, "delete", tt.ip)); err != nil {
				t.Fatal(err)
			}
			if got := hostsRead(t, path); got != keep {
				t.Fatalf("got:\n%s\nwant:\n%s", got, keep)
			}
			checkOwnerMode(t, path)
		})
	}
}

func TestHostDenyLines(t *testing.T) {
	tests := []struct {
		goos, ip, file, line string
		widen                int
	}{
		{"linux", "203.0.113.7", "hosts.deny", "ALL:203.0.113.7\n", 0},
		{"linux", "::ffff:203.0.113.7", "hosts.deny", "ALL:203.0.113.7\n", 0},
		{"linux", "2001:db8::1", "hosts.deny", "ALL:[2001:db8::1]\n", 0},
		{"linux", "2001:db8::1", "hosts.deny", "ALL:[2001:db8::]/64\n", 64},
		{"linux", "198.51.100.0/24", "hosts.deny", "ALL:198.51.100.0/255.255.255.0\n", 0},
		{"freebsd", "203.0.113.7", "hosts.allow", "ALL : 203.0.113.7 : deny\n", 0},
		{"freebsd", "2001:db8::1", "hosts.allow", "ALL : [2001:db8::1] : deny\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.goos+"/"+tt.ip, func(t *testing.T) {
			root, path := hostsRoot(t, tt.file, "")
			act := newHostDeny(&Env{Root: root, GOOS: tt.goos, Options: Options{IPv6Prefix: tt.widen}})
			in := inputForIP(t, "add", tt.ip)
			if err := act.Add(t.Context(), in); err != nil {
				t.Fatal(err)
			}
			if got := hostsRead(t, path); got != tt.line {
				t.Fatalf("got %q, want %q", got, tt.line)
			}
			if ok, err := act.(Verifier).Present(t.Context(), in); err != nil || !ok {
				t.Fatalf("present: %v %v", ok, err)
			}
			if err := act.Delete(t.Context(), in); err != nil {
				t.Fatal(err)
			}
			if got := hostsRead(t, path); got != "" {
				t.Fatalf("after delete: %q", got)
			}
		})
	}
}

// TestHostDenyFreeBSDAllowLine checks that on FreeBSD an entry without
// ": deny" (which allows) is not taken for ours.
func TestHostDenyFreeBSDAllowLine(t *testing.T) {
	root, path := hostsRoot(t, "hosts.allow", "ALL : 1.2.3.4 : allow\nALL : 1.2.3.4\n")
	act := newHostDeny(&Env{Root: root, GOOS: "freebsd"})
	in := inputForIP(t, "add", "1.2.3.4")
	if err := act.Add(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	if err := act.Delete(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	if got, want := hostsRead(t, path), "ALL : 1.2.3.4 : allow\nALL : 1.2.3.4\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestHostDenyMissingFile(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "etc"), 0o755)
	act := newHostDeny(&Env{Root: root})
	if err := act.Delete(t.Context(), inputForIP(t, "delete", "1.2.3.4")); err != nil {
		t.Fatal(err)
	}
	if err := act.Add(t.Context(), inputForIP(t, "add", "1.2.3.4")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "etc", "hosts.deny")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	if got := hostsRead(t, path); got != "ALL:1.2.3.4\n" {
		t.Errorf("got %q", got)
	}
}

// TestHostDenyNoFinalNewline adds after a last line that has no newline.
func TestHostDenyNoFinalNewline(t *testing.T) {
	root, path := hostsRoot(t, "hosts.deny", "ALL: 9.9.9.9")
	act := newHostDeny(&Env{Root: root})
	if err := act.Add(t.Context(), inputForIP(t, "add", "1.2.3.4")); err != nil {
		t.Fatal(err)
	}
	if got := hostsRead(t, path); got != "ALL: 9.9.9.9\nALL:1.2.3.4\n" {
		t.Fatalf("got %q", got)
	}
}

// TestHostDenySymlink rewrites the file a symbolic link points to and keeps
// the link.
func TestHostDenySymlink(t *testing.T) {
	root, path := hostsRoot(t, "hosts.deny.real", "ALL:1.2.3.4\nALL:5.6.7.8\n")
	link := filepath.Join(root, "etc", "hosts.deny")
	if err := os.Symlink("hosts.deny.real", link); err != nil {
		t.Fatal(err)
	}
	act := newHostDeny(&Env{Root: root})
	if err := act.Delete(t.Context(), inputForIP(t, "delete", "1.2.3.4")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("link replaced: %v %v", fi, err)
	}
	if got := hostsRead(t, path); got != "ALL:5.6.7.8\n" {
		t.Fatalf("got %q", got)
	}
}

func TestHostDenyConcurrent(t *testing.T) {
	orig := hostsFixture(t, "hosts.deny")
	root, path := hostsRoot(t, "hosts.deny", orig)
	act := newHostDeny(&Env{Root: root})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 50 {
		wg.Go(func() {
			errs <- act.Add(context.Background(), inputForIP(t, "add", fmt.Sprintf("192.0.2.%d", i+1)))
		})
	}
	// Deletes of other addresses run meanwhile and must not lose lines.
	for i := range 20 {
		wg.Go(func() {
			errs <- act.Delete(context.Background(), inputForIP(t, "delete", fmt.Sprintf("198.51.100.%d", i+1)))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := hostsRead(t, path)
	if !strings.HasPrefix(got, orig) {
		t.Fatalf("original lines changed:\n%s", got)
	}
	for i := range 50 {
		if n := strings.Count(got, fmt.Sprintf("\nALL:192.0.2.%d\n", i+1)); n != 1 {
			t.Errorf("192.0.2.%d: %d lines", i+1, n)
		}
	}
	if n := strings.Count(got, "\n"); n != strings.Count(orig, "\n")+50 {
		t.Errorf("%d lines:\n%s", n, got)
	}

	// Now delete them all concurrently.
	for i := range 50 {
		wg.Go(func() {
			if err := act.Delete(context.Background(), inputForIP(t, "delete", fmt.Sprintf("192.0.2.%d", i+1))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := hostsRead(t, path); got != orig {
		t.Fatalf("after deletes:\n%s", got)
	}
	checkOwnerMode(t, path)
}

// TestHostDenyRun drives host-deny through the protocol.
func TestHostDenyRun(t *testing.T) {
	root, path := hostsRoot(t, "hosts.deny", "")
	l, logPath := testLog(t)
	env := &Env{Root: root, Program: "active-response/bin/host-deny", Log: l}
	in := inputForIP(t, "add", "203.0.113.7")
	stdin := strings.NewReader(string(in.Raw) + "\n" + `{"version":1,"origin":{},"command":"continue","parameters":{}}` + "\n")
	var out strings.Builder
	if code := run(t.Context(), newHostDeny(env), env, stdin, &out); code != ExitOK {
		t.Fatalf("exit %d\n%s", code, hostsRead(t, logPath))
	}
	if !strings.Contains(out.String(), `"keys":["203.0.113.7"]`) {
		t.Errorf("check_keys: %s", out.String())
	}
	if got := hostsRead(t, path); got != "ALL:203.0.113.7\n" {
		t.Errorf("got %q", got)
	}
}
