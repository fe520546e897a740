package action

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// inputForUser builds a 4.x message whose data.dstuser is user ("" for
// none).
func inputForUser(t testing.TB, command, user string) *Input {
	t.Helper()
	data := map[string]any{"srcip": "203.0.113.7"}
	if user != "" {
		data["dstuser"] = user
	}
	b, _ := json.Marshal(map[string]any{
		"version": 1, "origin": map[string]any{"name": "node01", "module": "wazuh-execd"},
		"command":    command,
		"parameters": map[string]any{"extra_args": []string{}, "alert": map[string]any{"data": data}},
	})
	in, err := ParseInput(b)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

const testPasswd = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
toor:x:0:0:another root:/root:/bin/sh
bob:x:1000:1000:Bob:/home/bob:/bin/bash
-froot:x:1001:1001::/home/x:/bin/sh
host$:x:1002:1002::/nonexistent:/usr/sbin/nologin
weird:x:abc:1003::/:/bin/sh
`

const testShadow = `root:$6$r$root:19000:0:99999:7:::
bob:$6$b$bob:19000:0:99999:7:::
host$:$6$h$host:19000:0:99999:7:::
`

// accountRoot makes a temp root with testPasswd and testShadow.
func accountRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte(testPasswd), 0o644)
	os.WriteFile(filepath.Join(root, "etc", "shadow"), []byte(testShadow), 0o640)
	return root
}

// shadowRunner records argv like fakeRunner and acts on the shadow file
// under root as passwd -l / -u would.
type shadowRunner struct {
	fakeRunner
	root string
}

func (s *shadowRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	out, err := s.fakeRunner.Run(ctx, stdin, name, args...)
	if name == "passwd" && len(args) == 3 && (args[0] == "-l" || args[0] == "-u") && args[1] == "--" {
		p := filepath.Join(s.root, "etc", "shadow")
		b, _ := os.ReadFile(p)
		lines := strings.Split(string(b), "\n")
		for i, l := range lines {
			if f := strings.SplitN(l, ":", 3); len(f) == 3 && f[0] == args[2] {
				pw := strings.TrimPrefix(f[1], "!")
				if args[0] == "-l" {
					pw = "!" + pw
				}
				lines[i] = f[0] + ":" + pw + ":" + f[2]
			}
		}
		os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o640)
	}
	return out, err
}

func TestDisableAccountKeys(t *testing.T) {
	act := newDisableAccount(&Env{Root: accountRoot(t), GOOS: "linux"})
	tests := []struct{ user, key, err string }{
		{"bob", "bob", ""},
		{"host$", "host$", ""},
		{"", "", "Cannot read 'dstuser' from data"},
		{"root", "", "UID 0"},
		{"toor", "", "UID 0"},
		{"weird", "", "UID 0"},
		{"-froot", "", "Invalid username"},
		{"--help", "", "Invalid username"},
		{"alice", "", "no such account"},
		{"bob;id", "", "Invalid username"},
		{"bob bob", "", "Invalid username"},
		{"b$ob", "", "Invalid username"},
		{"$", "", "Invalid username"},
		{"..", "", "Invalid username"},
		{"bob\n", "", "Invalid username"},
		{strings.Repeat("a", 300), "", "Invalid username"},
	}
	for _, tt := range tests {
		keys, err := act.Keys(inputForUser(t, "add", tt.user))
		if tt.err != "" {
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want InputError %q", tt.user, err, tt.err)
			}
			continue
		}
		if err != nil || !cmp.Equal(keys, []string{tt.key}) {
			t.Errorf("%q: %v %v", tt.user, keys, err)
		}
	}
	// 5.x names the field user.name.
	in, err := ParseInput([]byte(`{"wazuh":{"active_response":{"extra_arguments":""}},"command":"enable"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := act.Keys(in); err == nil || err.Error() != "Cannot read 'user.name' from data" {
		t.Errorf("5.x: %v", err)
	}
}

func TestDisableAccountArgv(t *testing.T) {
	root := accountRoot(t)
	exit1 := exec.Command("false").Run() // pkill: no process matched
	sr := &shadowRunner{root: root, fakeRunner: fakeRunner{answers: map[string]fakeAnswer{"pkill": {err: exit1}}}}
	act := newDisableAccount(&Env{Root: root, GOOS: "linux", Exec: sr, Options: Options{KillSessions: true}})
	add, del := inputForUser(t, "add", "bob"), inputForUser(t, "delete", "bob")
	for range 2 {
		if err := act.Add(t.Context(), add); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := act.(Verifier).Present(t.Context(), add); !ok || err != nil {
		t.Fatalf("present: %v %v", ok, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc", "shadow")); !strings.Contains(string(b), "\nbob:!$6$b$bob:") {
		t.Fatalf("shadow:\n%s", b)
	}
	for range 2 {
		if err := act.Delete(t.Context(), del); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := act.(Verifier).Present(t.Context(), add); ok || err != nil {
		t.Fatalf("present after delete: %v %v", ok, err)
	}
	want := []string{
		"passwd -l -- bob", "pkill -KILL -u bob",
		"passwd -l -- bob", "pkill -KILL -u bob",
		"passwd -u -- bob", // the second delete finds it unlocked
	}
	if diff := cmp.Diff(want, sr.argvs()); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}

	// pkill failing otherwise is an error.
	sr.answers["pkill"] = fakeAnswer{err: errors.New("pkill: killing pid 42 failed: Operation not permitted")}
	if err := act.Add(t.Context(), add); err == nil || !strings.Contains(err.Error(), "end sessions") {
		t.Fatalf("pkill failure: %v", err)
	}
}

// TestDisableAccountNotLocked fails an add whose lock does not show.
func TestDisableAccountNotLocked(t *testing.T) {
	fr := &fakeRunner{}
	act := newDisableAccount(&Env{Root: accountRoot(t), GOOS: "linux", Exec: fr})
	if err := act.Add(t.Context(), inputForUser(t, "add", "bob")); err == nil || !strings.Contains(err.Error(), "not locked") {
		t.Fatalf("add: %v", err)
	}
}

// TestDisableAccountLiveStatus reads passwd -S when Root is the real root.
func TestDisableAccountLiveStatus(t *testing.T) {
	tests := []struct {
		out  string
		want bool
		err  bool
	}{
		{"bob L 2024-05-01 0 99999 7 -1\n", true, false},
		{"bob P 2024-05-01 0 99999 7 -1\n", false, false},
		{"bob NP 2024-05-01 0 99999 7 -1\n", false, false},
		{"alice L\n", false, true},
	}
	for _, tt := range tests {
		fr := &fakeRunner{answers: map[string]fakeAnswer{"passwd -S": {out: tt.out}}}
		act := &disableAccount{env: &Env{Root: "/", GOOS: "linux", Exec: fr}}
		got, err := act.locked(t.Context(), "bob")
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("%q: %v %v", tt.out, got, err)
		}
		if diff := cmp.Diff([]string{"passwd -S -- bob"}, fr.argvs()); diff != "" {
			t.Errorf("argv (-want +got):\n%s", diff)
		}
	}
}

func TestDisableAccountAIX(t *testing.T) {
	fr := &fakeRunner{answers: map[string]fakeAnswer{"lsuser": {out: "bob account_locked=true\n"}}}
	act := newDisableAccount(&Env{Root: accountRoot(t), GOOS: "aix", Exec: fr})
	if err := act.Add(t.Context(), inputForUser(t, "add", "bob")); err != nil {
		t.Fatal(err)
	}
	fr.answers["lsuser"] = fakeAnswer{out: "bob account_locked=false\n"}
	if err := act.Delete(t.Context(), inputForUser(t, "delete", "bob")); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"chuser account_locked=true bob", "lsuser -a account_locked bob",
		"lsuser -a account_locked bob", // already unlocked: nothing to do
	}
	if diff := cmp.Diff(want, fr.argvs()); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
}

// TestDisableAccountRefusals runs the refused inputs through the protocol:
// exit 255, no check_keys, no command.
func TestDisableAccountRefusals(t *testing.T) {
	root := accountRoot(t)
	for _, user := range []string{"root", "toor", "-froot", "alice", ""} {
		t.Run("user="+user, func(t *testing.T) {
			l, logPath := testLog(t)
			fr := &fakeRunner{}
			env := &Env{Root: root, GOOS: "linux", Exec: fr, Log: l, Program: "active-response/bin/disable-account"}
			in := inputForUser(t, "add", user)
			var out strings.Builder
			if code := run(t.Context(), newDisableAccount(env), env, strings.NewReader(string(in.Raw)+"\n"), &out); code != ExitInvalid {
				t.Errorf("exit %d", code)
			}
			if out.Len() != 0 || len(fr.calls) != 0 {
				t.Errorf("printed %q, ran %v", out.String(), fr.argvs())
			}
			// Delete is refused the same way, except for an unknown user,
			// which has nothing to unlock.
			err := newDisableAccount(env).Delete(t.Context(), inputForUser(t, "delete", user))
			if (err == nil) != (user == "alice") || len(fr.calls) != 0 {
				t.Errorf("delete: %v, ran %v", err, fr.argvs())
			}
			l.Flush()
			b, _ := os.ReadFile(logPath)
			if !strings.Contains(string(b), "disable-account: ") || strings.Contains(string(b), "Ended") {
				t.Errorf("log:\n%s", b)
			}
		})
	}
}

func TestDisableAccountInvalidSystem(t *testing.T) {
	fr := &fakeRunner{}
	act := newDisableAccount(&Env{Root: accountRoot(t), GOOS: "darwin", Exec: fr})
	if err := act.Add(t.Context(), inputForUser(t, "add", "bob")); err == nil || !strings.Contains(err.Error(), "invalid system") || len(fr.calls) != 0 {
		t.Fatalf("add: %v, ran %v", err, fr.argvs())
	}
}
