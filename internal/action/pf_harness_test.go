package action

// The harness shared by the tests of the actions for systems these tests
// cannot run on (pf, ipfw, npf, netsh.exe, route-null.exe,
// restart-wazuh.exe): each case drives Run with the JSON a Wazuh execd
// sends, answers check_keys like execd from a goroutine, and compares the
// exact argv of every program run (through a fakeRunner whose answers can
// change after a given call, so "absent, add, present" is modelled) and
// the files under Env.Root.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// platMsg is a Wazuh 4.x message as execd writes it for program, with
// command ("add", "delete") and srcip in data.srcip.
func platMsg(command, program, srcip string) string {
	ip, _ := json.Marshal(srcip)
	return fmt.Sprintf(`{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":%q,`+
		`"parameters":{"extra_args":[],"alert":{"timestamp":"2024-05-01T12:00:00.000+0000",`+
		`"rule":{"level":10,"description":"sshd: authentication failed.","id":"5712"},`+
		`"agent":{"id":"001","name":"host1"},"data":{"srcip":%s}},"program":%q}}`, command, ip, program)
}

// platExit is the error of a program that exited non-zero, as ExecRunner
// reports it.
func platExit(argv, code, msg string) error {
	return fmt.Errorf("%s: exit status %s: %s", argv, code, msg)
}

// platMissing is the error of a program that is not installed.
func platMissing(name string) error { return fmt.Errorf("%s: %w", name, ErrNotFound) }

// platRunner is a fakeRunner whose answers change after some calls: after
// a call whose argv (joined with spaces) is a key of after, that map's
// answers replace or join the current ones.
type platRunner struct {
	fake  *fakeRunner
	after map[string]map[string]fakeAnswer
}

func newPlatRunner(answers map[string]fakeAnswer, after map[string]map[string]fakeAnswer) *platRunner {
	return &platRunner{fake: &fakeRunner{answers: maps.Clone(answers)}, after: after}
}

func (r *platRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	out, err := r.fake.Run(ctx, stdin, name, args...)
	if set, ok := r.after[strings.Join(append([]string{name}, args...), " ")]; ok {
		r.fake.mu.Lock()
		if r.fake.answers == nil {
			r.fake.answers = map[string]fakeAnswer{}
		}
		maps.Copy(r.fake.answers, set)
		r.fake.mu.Unlock()
	}
	return out, err
}

// platContinue is execd's reply to check_keys: the message it sent, with
// command "continue".
func platContinue(msg string) string {
	for _, c := range []string{`"command":"add"`, `"command":"enable"`} {
		msg = strings.Replace(msg, c, `"command":"continue"`, 1)
	}
	return msg
}

// platRun runs the action called name like execd does: it writes msg,
// answers a check_keys line with "continue" from another goroutine, and
// returns the exit code and everything the action wrote on stdout.
func platRun(t *testing.T, name string, env *Env, msg string) (int, string) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var stdout strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := io.WriteString(inW, msg+"\n"); err != nil {
			return
		}
		br := bufio.NewReader(outR)
		for {
			line, err := br.ReadString('\n')
			stdout.WriteString(line)
			if err != nil {
				return
			}
			if strings.Contains(line, `"command":"check_keys"`) {
				if _, err := io.WriteString(inW, platContinue(msg)+"\n"); err != nil {
					return
				}
			}
		}
	}()
	code := Run(t.Context(), name, env, inR, outW)
	outW.Close()
	inR.Close()
	<-done
	return code, stdout.String()
}

// platCase is one run of an action.
type platCase struct {
	name    string
	goos    string // default: the action's system
	command string // default "add"
	srcip   string // default 203.0.113.7
	msg     string // the whole message, instead of command and srcip
	answers map[string]fakeAnswer
	after   map[string]map[string]fakeAnswer
	files   map[string]string // system path → content, under Env.Root

	code      int
	calls     []string // exact, as fakeRunner.argvs writes them
	keys      string   // the check_keys keys array, e.g. `["203.0.113.7"]`; "" for none
	logs      []string // substrings of active-responses.log
	nologs    []string // not in active-responses.log
	wantFiles map[string]string
}

// platAction names an action and the system and program it runs as.
type platAction struct {
	name, goos, program string
}

// platCheck runs c against act and checks everything it expects.
func platCheck(t *testing.T, act platAction, c platCase) {
	t.Helper()
	r := newPlatRunner(c.answers, c.after)
	log, logPath := testLog(t)
	env := &Env{Program: act.program, Log: log, Root: t.TempDir(), Exec: r, GOOS: act.goos}
	if c.goos != "" {
		env.GOOS = c.goos
	}
	for p, content := range c.files {
		platWrite(t, env.Path(p), content)
	}
	msg := c.msg
	if msg == "" {
		command, srcip := c.command, c.srcip
		if command == "" {
			command = "add"
		}
		if srcip == "" {
			srcip = "203.0.113.7"
		}
		msg = platMsg(command, act.program, srcip)
	}
	code, stdout := platRun(t, act.name, env, msg)
	logText := platRead(t, logPath)
	if code != c.code {
		t.Errorf("exit code %d, want %d\nlog:\n%s", code, c.code, logText)
	}
	if got := r.fake.argvs(); !slices.Equal(got, c.calls) {
		t.Errorf("calls:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(c.calls, "\n\t"))
	}
	if c.keys == "" {
		if stdout != "" {
			t.Errorf("stdout %q, want nothing (no check_keys)", stdout)
		}
	} else if want := `"parameters":{"keys":` + c.keys + `}}`; !strings.Contains(stdout, want) {
		t.Errorf("stdout %q does not hold %s", stdout, want)
	}
	for _, s := range c.logs {
		if !strings.Contains(logText, s) {
			t.Errorf("log does not hold %q:\n%s", s, logText)
		}
	}
	for _, s := range c.nologs {
		if strings.Contains(logText, s) {
			t.Errorf("log holds %q:\n%s", s, logText)
		}
	}
	for p, want := range c.wantFiles {
		if got := platRead(t, env.Path(p)); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", p, got, want)
		}
	}
}

func platWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func platRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "(missing)"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPlatformHostileSrcIP: an address that is not one is refused before
// anything runs, with no check_keys, on add and delete alike.
func TestPlatformHostileSrcIP(t *testing.T) {
	acts := []platAction{
		{"pf", "freebsd", "active-response/bin/pf"},
		{"ipfw", "freebsd", "active-response/bin/ipfw"},
		{"npf", "netbsd", "active-response/bin/npf"},
		{"netsh.exe", "windows", `active-response\bin\netsh.exe`},
		{"route-null.exe", "windows", `active-response\bin\route-null.exe`},
	}
	hostile := []string{
		"1.2.3.4;reboot", "$(id)", "`id`", "1.2.3.4 -j ACCEPT", "-k", "203.0.113.7\nreboot",
		"203.0.113.7 in dir=out", "fe80::1%eth0", "host.example", "../../etc/passwd",
	}
	for _, act := range acts {
		for _, command := range []string{"add", "delete"} {
			for _, ip := range hostile {
				t.Run(act.name+"/"+command+"/"+ip, func(t *testing.T) {
					platCheck(t, act, platCase{
						command: command, srcip: ip,
						code: ExitInvalid,
						logs: []string{"Unable to run active response (invalid IP: '"},
					})
				})
			}
		}
	}
}

// TestPlatformNames: the actions are found under their Wazuh names.
func TestPlatformNames(t *testing.T) {
	for _, name := range []string{"pf", "ipfw", "npf", "netsh.exe", "route-null.exe", "restart-wazuh.exe"} {
		f, ok := Lookup(name)
		if !ok || f(&Env{}) == nil {
			t.Errorf("Lookup(%q) finds no action", name)
		}
	}
}
