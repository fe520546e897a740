package main_test

// End-to-end tests: every test runs the real riposte binary as a separate
// process ("riposte run --config FILE --data-dir DIR") and drives it only
// through its interfaces: the alert send command, the control socket, the
// loopback HTTP endpoint, followed alerts.json files, the files of the data
// directory, what the fixture scripts of testdata/ar record, and stderr.
//
// Environment:
//
//	RIPOSTE_E2E_RACE=1        build riposte with -race (a race fails stop())

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/execd"
)

// riposteBin is the binary built once by TestMain.
var riposteBin string

// pythonExe is the real python3 interpreter, when found.
var pythonExe string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "riposte-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	riposteBin = filepath.Join(tmp, "riposte")
	args := []string{"build", "-o", riposteBin}
	if os.Getenv("RIPOSTE_E2E_RACE") != "" {
		// A data race makes riposte run exit 66, which stop() reports.
		args = append(args, "-race")
		// Without this every race-enabled process sleeps 1s at exit.
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	build := exec.Command("go", append(args, "github.com/riposte/riposte/cmd/riposte")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if bin := os.Getenv("RIPOSTE_E2E_BIN"); bin != "" {
		// A binary built beforehand, to compare builds with the same
		// measurements.
		riposteBin = bin
	} else if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building riposte:", err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	// The Python fixtures say "#!/usr/bin/env python3"; through a version
	// manager's shim that can cost 100ms or more per run, which eats into
	// the 1s handshake timeout on a loaded machine. newDataDir points them
	// at the real interpreter instead.
	if out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output(); err == nil {
		pythonExe = strings.TrimSpace(string(out))
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// poll is the interval of waitFor.
const poll = 20 * time.Millisecond

// waitFor polls cond every 20ms until it holds, failing the test after
// timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(poll)
	}
}

// requireRoot skips tests that need scripts to really run: riposte run
// falls back to dry-run mode when not root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("riposte run only executes responses as root")
	}
}

// ---------------------------------------------------------------------------
// Data directories, configurations and alerts

// newDataDir returns a fresh data directory with the fixture scripts copied
// into active-response/bin under the given names (name in bin → file in
// testdata/ar). On failure it dumps active-responses.log and the records.
func newDataDir(t *testing.T, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "active-response", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, fixture := range scripts {
		data, err := os.ReadFile(filepath.Join("testdata", "ar", fixture))
		if err != nil {
			t.Fatal(err)
		}
		const envPython = "#!/usr/bin/env python3\n"
		if pythonExe != "" && bytes.HasPrefix(data, []byte(envPython)) {
			// -S: the fixtures need nothing from site-packages.
			data = append([]byte("#!"+pythonExe+" -S\n"), data[len(envPython):]...)
		}
		if err := os.WriteFile(filepath.Join(bin, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(bin, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		if b, err := os.ReadFile(filepath.Join(dir, "logs", "active-responses.log")); err == nil {
			t.Logf("active-responses.log:\n%s", b)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "records", "*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			t.Logf("%s:\n%s", filepath.Base(f), truncate(string(b), 4000))
		}
	})
	return dir
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d bytes more)", len(s)-n)
}

// Commands of the fixture scripts.
const (
	cmdStateful  = `<command><name>stateful</name><executable>stateful</executable><timeout_allowed>yes</timeout_allowed><extra_args>-a  b</extra_args></command>`
	cmdStateless = `<command><name>stateless</name><executable>stateless</executable><timeout_allowed>no</timeout_allowed></command>`
	cmdNokeys    = `<command><name>nokeys</name><executable>nokeys</executable><timeout_allowed>yes</timeout_allowed></command>`
	cmdHang      = `<command><name>hang</name><executable>hang</executable><timeout_allowed>no</timeout_allowed></command>`
	cmdFail      = `<command><name>fail</name><executable>fail</executable><timeout_allowed>no</timeout_allowed></command>`
)

// response returns an <active-response> block running command on this host
// for rule ruleID; timeout 0 leaves <timeout> out.
func response(command, ruleID string, timeout int, extra string) string {
	s := "<active-response>\n    <command>" + command + "</command>\n    <location>local</location>\n    <rules_id>" + ruleID + "</rules_id>\n"
	if timeout > 0 {
		s += "    <timeout>" + strconv.Itoa(timeout) + "</timeout>\n"
	}
	if extra != "" {
		s += "    " + extra + "\n"
	}
	return s + "  </active-response>"
}

// writeConfig writes an ossec.conf with the given sections plus a <riposte>
// section with short timeouts, http_listen (off when empty) and extra
// <riposte> elements. It returns the file's path.
func writeConfig(t *testing.T, dir, sections, httpListen, riposteExtra string) string {
	t.Helper()
	if httpListen == "" {
		httpListen = "off"
	}
	text := "<ossec_config>\n  " + sections + "\n  <riposte>\n" +
		"    <http_listen>" + httpListen + "</http_listen>\n" +
		"    <handshake_timeout>1s</handshake_timeout>\n" +
		"    <run_timeout>5s</run_timeout>\n" +
		"    <api><listen>127.0.0.1:0</listen></api>\n"
	if riposteExtra != "" {
		text += "    " + riposteExtra + "\n"
	}
	text += "  </riposte>\n</ossec_config>\n"
	path := filepath.Join(dir, "ossec.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// alertSpec holds the variable parts of a test alert.
type alertSpec struct {
	RuleID  string
	Level   int
	Groups  []string
	SrcIP   string
	DstUser string
}

// alertDoc returns a compact alert in Wazuh's alerts.json shape.
func alertDoc(a alertSpec) string {
	if a.RuleID == "" {
		a.RuleID = "5712"
	}
	if a.Level == 0 {
		a.Level = 10
	}
	if a.Groups == nil {
		a.Groups = []string{"syslog", "sshd", "authentication_failures"}
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	data := `{"srcip":` + js(a.SrcIP) + `,"srcuser":"root"`
	if a.DstUser != "" {
		data += `,"dstuser":` + js(a.DstUser)
	}
	data += "}"
	return `{"timestamp":"2026-11-27T10:00:00.000+0000","rule":{"level":` + strconv.Itoa(a.Level) +
		`,"description":"sshd: brute force","id":` + js(a.RuleID) + `,"firedtimes":1,"mail":false,"groups":` + js(a.Groups) +
		`},"agent":{"id":"000","name":"host"},"manager":{"name":"host"},"id":"1764237600.1234","full_log":` +
		js("sshd[4242]: Failed password for root from "+a.SrcIP+" port 22 ssh2") +
		`,"decoder":{"name":"sshd"},"data":` + data + `,"location":"/var/log/auth.log"}`
}

// sshAlert is an alert of rule 5712 from srcip.
func sshAlert(srcip string) string { return alertDoc(alertSpec{SrcIP: srcip}) }

// ---------------------------------------------------------------------------
// The riposte run process

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// instance is one "riposte run" process.
type instance struct {
	t      *testing.T
	dir    string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan struct{}
	client *api.Client
}

// startRiposte starts riposte run and waits until its control socket
// answers /v1/health.
func startRiposte(t *testing.T, dir, config string) *instance {
	t.Helper()
	return startRiposteIn(t, dir, config, "")
}

// startRiposteIn is startRiposte inside the network namespace netns (none
// when empty).
func startRiposteIn(t *testing.T, dir, config, netns string) *instance {
	t.Helper()
	return startProcess(t, dir, netns, "run", "--config", config, "--data-dir", dir)
}

// startProcess runs "riposte ARGS..." (inside netns unless empty) with its
// working directory and control socket in dir, and waits until the socket
// answers /v1/health.
func startProcess(t *testing.T, dir, netns string, args ...string) *instance {
	t.Helper()
	var prefix []string
	if netns != "" {
		prefix = []string{"ip", "netns", "exec", netns}
	}
	return startProcessWith(t, dir, prefix, args...)
}

// startProcessWith is startProcess with riposte run through the command
// prefix (none when empty), such as "ip netns exec NAME".
func startProcessWith(t *testing.T, dir string, prefix []string, args ...string) *instance {
	t.Helper()
	in := &instance{
		t:      t,
		dir:    dir,
		stderr: &lockedBuffer{},
		exited: make(chan struct{}),
		client: api.NewSocketClient(filepath.Join(dir, "riposte.sock")),
	}
	argv := append(append(slices.Clone(prefix), riposteBin), args...)
	in.cmd = exec.Command(argv[0], argv[1:]...)
	in.cmd.Dir = dir
	in.cmd.Stdout = in.stderr
	in.cmd.Stderr = in.stderr
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = in.cmd.Wait()
		close(in.exited)
	}()
	t.Cleanup(func() {
		if t.Failed() && !in.hasExited() {
			// A goroutine dump shows where a stuck process is.
			_ = in.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-in.exited:
			case <-time.After(2 * time.Second):
			}
		}
		if !in.hasExited() {
			_ = in.cmd.Process.Kill()
			<-in.exited
		}
		if t.Failed() {
			t.Logf("stderr of riposte %s (pid %d, %s):\n%s", args[0], in.cmd.Process.Pid, dir, truncate(in.stderr.String(), 300000))
		}
	})
	waitFor(t, 15*time.Second, "riposte "+args[0]+" to answer /v1/health", func() bool {
		if in.hasExited() {
			t.Fatalf("riposte %s exited early: %v\n%s", args[0], in.cmd.ProcessState, in.stderr.String())
		}
		var h health
		return in.get("/v1/health", &h) == nil && h.Status == "ok"
	})
	return in
}

func (in *instance) hasExited() bool {
	select {
	case <-in.exited:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and checks the process exits 0 within a few seconds.
func (in *instance) stop() {
	in.t.Helper()
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		in.t.Fatal(err)
	}
	select {
	case <-in.exited:
	case <-time.After(5 * time.Second):
		// A goroutine dump, taken now, shows what held it.
		_ = in.cmd.Process.Signal(syscall.SIGQUIT)
		<-in.exited
		in.t.Fatal("riposte run did not exit within 5s of SIGTERM")
	}
	if code := in.cmd.ProcessState.ExitCode(); code != 0 {
		in.t.Fatalf("riposte run exited with %v after SIGTERM, want status 0", in.cmd.ProcessState)
	}
	if _, err := os.Stat(filepath.Join(in.dir, "riposte.sock")); err == nil {
		in.t.Errorf("the control socket is left behind after a clean stop")
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (in *instance) kill() {
	in.t.Helper()
	if err := in.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		in.t.Fatal(err)
	}
	select {
	case <-in.exited:
	case <-time.After(5 * time.Second):
		in.t.Fatal("riposte run did not die within 5s of SIGKILL")
	}
}

func (in *instance) get(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return in.client.Get(ctx, path, v)
}

func (in *instance) mustGet(path string, v any) {
	in.t.Helper()
	if err := in.get(path, v); err != nil {
		in.t.Fatalf("GET %s: %v", path, err)
	}
}

type health struct {
	Status string    `json:"status"`
	Stats  api.Stats `json:"stats"`
}

func (in *instance) health() health {
	in.t.Helper()
	var h health
	in.mustGet("/v1/health", &h)
	return h
}

func (in *instance) runs() []execd.Result {
	in.t.Helper()
	var rs []execd.Result
	in.mustGet("/v1/runs", &rs)
	return rs
}

func (in *instance) active() []execd.Pending {
	in.t.Helper()
	var ps []execd.Pending
	in.mustGet("/v1/responses/active", &ps)
	return ps
}

// logLines returns the stderr lines containing every one of subs.
// expectLog waits until exactly want stderr lines contain every one of
// subs (stderr reaches the test through a pipe, a little after the
// instance answered), and reports an error otherwise.
func (in *instance) expectLog(want int, subs ...string) {
	in.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := len(in.logLines(subs...))
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			in.t.Errorf("%d log lines with %q, want %d", n, subs, want)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (in *instance) logLines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(in.stderr.String(), "\n") {
		ok := true
		for _, s := range subs {
			if !strings.Contains(l, s) {
				ok = false
				break
			}
		}
		if ok && l != "" {
			out = append(out, l)
		}
	}
	return out
}

// runsWhere returns the results for which keep holds.
func runsWhere(rs []execd.Result, keep func(execd.Result) bool) []execd.Result {
	var out []execd.Result
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// The riposte command line

type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the riposte binary with args and stdin.
func runCLI(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, riposteBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("riposte %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// sendJSON runs "riposte alert send --json -" with body and returns the
// decoded answer; the command must succeed.
func sendJSON(t *testing.T, dir, body string) api.IngestResponse {
	t.Helper()
	r := runCLI(t, body, "alert", "send", "--data-dir", dir, "--json", "-")
	if r.code != 0 {
		t.Fatalf("alert send exited %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var resp api.IngestResponse
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil {
		t.Fatalf("alert send --json output: %v\n%s", err, r.stdout)
	}
	return resp
}

// outcomes lists the outcomes of every decision of an answer, in order.
func outcomes(resp api.IngestResponse) []string {
	var out []string
	for _, r := range resp.Results {
		for _, d := range r.Decisions {
			out = append(out, d.Outcome)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// What the fixture scripts record

// records returns the lines recorded by a fixture (records/<name>.jsonl).
func records(t *testing.T, dir, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "records", name+".jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// message is the part of an execd message the tests look at.
type message struct {
	Version int `json:"version"`
	Origin  struct {
		Name   string `json:"name"`
		Module string `json:"module"`
	} `json:"origin"`
	Command    string `json:"command"`
	Parameters struct {
		ExtraArgs []string `json:"extra_args"`
		Alert     struct {
			Data struct {
				SrcIP   string `json:"srcip"`
				DstUser string `json:"dstuser"`
			} `json:"data"`
		} `json:"alert"`
		Program string `json:"program"`
	} `json:"parameters"`
}

func parseMessage(t *testing.T, line string) message {
	t.Helper()
	var m message
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("recorded line is not an execd message: %v\n%s", err, line)
	}
	return m
}

// recorded returns the recorded messages with the given command ("" for
// all) and srcip ("" for any).
func recorded(t *testing.T, dir, name, command, srcip string) []message {
	t.Helper()
	var out []message
	for _, l := range records(t, dir, name) {
		m := parseMessage(t, l)
		if (command == "" || m.Command == command) && (srcip == "" || m.Parameters.Alert.Data.SrcIP == srcip) {
			out = append(out, m)
		}
	}
	return out
}

// processGone reports whether pid no longer runs (absent, or a zombie that
// its new parent has not reaped yet).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// readFile returns a file's contents, or "" if it cannot be read.
func readFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}
