package execd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// script writes an executable shell script into dir's bin directory.
func script(t *testing.T, dir, name, body string) {
	t.Helper()
	bin := filepath.Join(dir, BinDir)
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// statefulScript records every line it reads in DIR/<name>.log and sends
// check_keys with the key it is given.
const statefulScript = `read -r line
printf '%s\n' "$line" >> "$0.log"
case "$line" in *'"command":"add"'*)
  printf '{"version":1,"origin":{"name":"t","module":"active-response"},"command":"check_keys","parameters":{"keys":["%s"]}}\n' "${KEY:-203.0.113.7}"
  read -r reply
  printf '%s\n' "$reply" >> "$0.log"
esac
`

type recorder struct {
	mu  sync.Mutex
	res []Result
	ch  chan Result
}

func newRecorder() *recorder { return &recorder{ch: make(chan Result, 100)} }

func (r *recorder) add(res Result) {
	r.mu.Lock()
	r.res = append(r.res, res)
	r.mu.Unlock()
	r.ch <- res
}

func (r *recorder) next(t *testing.T, d time.Duration) Result {
	t.Helper()
	select {
	case res := <-r.ch:
		return res
	case <-time.After(d):
		t.Fatal("no result in time")
		return Result{}
	}
}

// start opens and runs an Execd; stop ends it (idempotent) and returns
// Run's error.
func start(t *testing.T, dir string, opts Options) (x *Execd, rec *recorder, stop func() error) {
	t.Helper()
	rec = newRecorder()
	opts.Dir = dir
	opts.OnResult = rec.add
	if opts.HandshakeTimeout == 0 {
		opts.HandshakeTimeout = 2 * time.Second
	}
	x, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return x, rec, stop
}

func readLog(t *testing.T, path string) []string {
	t.Helper()
	b, _ := os.ReadFile(path)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func req(exe string, timeout time.Duration) Request {
	return Request{ID: "r1", Command: exe, Executable: exe, Timeout: timeout, ExtraArgs: []string{"-a", "b"},
		Alert: json.RawMessage(`{"rule":{"id":"5712","level":10},"data":{"srcip":"203.0.113.7"}}`)}
}

func TestProtocolAddContinueDelete(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, "fw", statefulScript)
	x, rec, _ := start(t, dir, Options{NodeName: "node01"})
	if err := x.Submit(req("fw", 300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	add := rec.next(t, 5*time.Second)
	if add.Status != StatusOK || add.Verb != "add" || strings.Join(add.Keys, ",") != "203.0.113.7" {
		t.Fatalf("add result %+v", add)
	}
	if p := x.Pending(); len(p) != 1 || p[0].Keys[0] != "203.0.113.7" {
		t.Fatalf("pending %+v", p)
	}
	del := rec.next(t, 5*time.Second)
	if del.Verb != "delete" || del.Status != StatusOK {
		t.Fatalf("delete result %+v", del)
	}
	lines := readLog(t, filepath.Join(dir, BinDir, "fw.log"))
	wantAdd := `{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":["-a","b"],"alert":{"rule":{"id":"5712","level":10},"data":{"srcip":"203.0.113.7"}},"program":"active-response/bin/fw"}}`
	want := []string{wantAdd, strings.Replace(wantAdd, `"add"`, `"continue"`, 1), strings.Replace(wantAdd, `"add"`, `"delete"`, 1)}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("script read:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if len(x.Pending()) != 0 {
		t.Fatal("timer left after delete")
	}
}

func TestRetriggerAbortsAndNeverShortens(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, "fw", statefulScript)
	x, rec, _ := start(t, dir, Options{})
	x.Submit(req("fw", time.Hour))
	if r := rec.next(t, 5*time.Second); r.Status != StatusOK {
		t.Fatalf("%+v", r)
	}
	before := x.Pending()[0].Deadline
	r2 := req("fw", time.Second) // shorter: must not shorten
	r2.Alert = json.RawMessage(`{"rule":{"id":"5712","level":10},"data":{"srcip":"::ffff:203.0.113.7"}}`)
	x.Submit(r2)
	res := rec.next(t, 5*time.Second)
	if res.Status != StatusAborted {
		t.Fatalf("re-trigger: %+v", res)
	}
	if after := x.Pending()[0].Deadline; !after.Equal(before) {
		t.Fatalf("deadline moved from %v to %v", before, after)
	}
	lines := readLog(t, filepath.Join(dir, BinDir, "fw.log"))
	if !strings.Contains(lines[len(lines)-1], `"command":"abort"`) {
		t.Fatalf("last reply %s", lines[len(lines)-1])
	}
}

func TestKeysNormalised(t *testing.T) {
	k1, err := parseKeys([]byte(`{"version":1,"origin":{},"command":"check_keys","parameters":{"keys":["2001:DB8:0::1",3,"::ffff:1.2.3.4"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(k1, " ") != "2001:db8::1 1.2.3.4" {
		t.Fatalf("keys %v", k1)
	}
	bad := []string{
		`not json`,
		`{"origin":{},"command":"check_keys","parameters":{"keys":["a"]}}`,
		`{"version":"1","origin":{},"command":"check_keys","parameters":{"keys":["a"]}}`,
		`{"version":1,"origin":"x","command":"check_keys","parameters":{"keys":["a"]}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"keys":["a"]}}`,
		`{"version":1,"origin":{},"command":"check_keys"}`,
		`{"version":1,"origin":{},"command":"check_keys","parameters":{"keys":[]}}`,
	}
	for _, b := range bad {
		if _, err := parseKeys([]byte(b)); err == nil {
			t.Errorf("accepted %s", b)
		}
	}
	if rkey("x", []string{"a-b"}) == rkey("x", []string{"a", "b"}) {
		t.Error("rkeys collide")
	}
}

func TestHangKilled(t *testing.T) {
	dir := t.TempDir()
	// Reads stdin to EOF (which never comes) and starts a child in its group.
	script(t, dir, "hang", "sleep 300 &\ncat > /dev/null\n")
	x, rec, _ := start(t, dir, Options{HandshakeTimeout: 300 * time.Millisecond})
	t0 := time.Now()
	x.Submit(req("hang", time.Minute))
	res := rec.next(t, 10*time.Second)
	if res.Status != StatusKilled || !strings.Contains(res.Note, "check_keys") {
		t.Fatalf("%+v", res)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("took %s", d)
	}
	if len(x.Pending()) != 0 {
		t.Fatal("killed script left a timer")
	}
}

func TestFailureRecorded(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, "bad", "read -r line\necho 'cannot do it' >&2\nexit 3\n")
	x, rec, _ := start(t, dir, Options{})
	x.Submit(req("bad", 0))
	res := rec.next(t, 5*time.Second)
	if res.Status != StatusFailed || res.ExitCode != 3 || !strings.Contains(res.Stderr, "cannot do it") {
		t.Fatalf("%+v", res)
	}
	x.Submit(req("missing", 0))
	if res := rec.next(t, 5*time.Second); res.Status != StatusNotFound {
		t.Fatalf("%+v", res)
	}
}

func TestConcurrentKeys(t *testing.T) {
	dir := t.TempDir()
	// Each run holds for 400ms after the handshake.
	script(t, dir, "slow", strings.Replace(statefulScript, "esac", "esac\nsleep 0.4", 1))
	x, rec, _ := start(t, dir, Options{})
	t0 := time.Now()
	for i, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"} {
		r := req("slow", time.Hour)
		r.ID = ip
		_ = i
		// The script takes its key from the environment-free alert; vary
		// it through the script's KEY default instead: one script per key.
		script(t, dir, "slow"+ip, strings.Replace(statefulScript, "${KEY:-203.0.113.7}", ip, 1)+"sleep 0.4\n")
		r.Executable = "slow" + ip
		x.Submit(r)
	}
	for i := 0; i < 4; i++ {
		rec.next(t, 5*time.Second)
	}
	if d := time.Since(t0); d > 1500*time.Millisecond {
		t.Fatalf("4 different keys took %s: not concurrent", d)
	}
}

func TestPersistedAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, "fw", statefulScript)
	x, rec, stop := start(t, dir, Options{})
	x.Submit(req("fw", 1500*time.Millisecond))
	rec.next(t, 5*time.Second)
	deadline := x.Pending()[0].Deadline
	if err := stop(); err != nil { // clean stop: no delete
		t.Fatal(err)
	}
	if n := len(readLog(t, filepath.Join(dir, BinDir, "fw.log"))); n != 2 {
		t.Fatalf("clean stop ran the delete: %d lines", n)
	}
	x2, rec2, _ := start(t, dir, Options{})
	if p := x2.Pending(); len(p) != 1 || !p[0].Deadline.Equal(deadline) {
		t.Fatalf("after restart %+v, want deadline %v", p, deadline)
	}
	del := rec2.next(t, 5*time.Second)
	if del.Verb != "delete" || time.Now().Before(deadline) {
		t.Fatalf("delete %+v at %v, deadline %v", del, time.Now(), deadline)
	}
}

func TestRepeatedOffenders(t *testing.T) {
	dir := t.TempDir()
	st, err := openStore(filepath.Join(dir, "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	ladder := []int{10, 20, 30}
	var got []time.Duration
	for i := 0; i < 5; i++ {
		d, _, err := st.offense("k", 600*time.Second, ladder)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
	}
	want := []time.Duration{600 * time.Second, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ladder %v, want %v", got, want)
		}
	}
	if d, _, _ := st.offense("other", 5*time.Second, nil); d != 5*time.Second {
		t.Fatal("no ladder changed the timeout")
	}
}

func TestWithVerb(t *testing.T) {
	msg := buildMessage(`no"de`, "add", nil, nil, "active-response/bin/x")
	if !json.Valid(msg) {
		t.Fatalf("invalid %s", msg)
	}
	d := withVerb(msg, "delete")
	var m struct {
		Command    string
		Parameters struct {
			ExtraArgs []string `json:"extra_args"`
			Alert     map[string]any
			Program   string
		}
	}
	if err := json.Unmarshal(d, &m); err != nil || m.Command != "delete" || m.Parameters.Program != "active-response/bin/x" || m.Parameters.ExtraArgs == nil {
		t.Fatalf("%s: %+v %v", d, m, err)
	}
	if !bytes.Contains(msg, []byte(`"extra_args":[]`)) {
		t.Fatalf("extra_args not an empty array: %s", msg)
	}
	// Wazuh's key order, byte for byte.
	msg = buildMessage("node01", "add", []string{"-a", `b"c`}, json.RawMessage(`{"x":1}`), "active-response/bin/firewall-drop")
	want := `{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":["-a","b\"c"],"alert":{"x":1},"program":"active-response/bin/firewall-drop"}}`
	if string(msg) != want {
		t.Errorf("message\n %s\nwant %s", msg, want)
	}
	// Into a reused buffer, whatever it held.
	buf := []byte(strings.Repeat("z", 4096))
	if got, want := appendWithVerb(buf[:0], msg, "continue"), strings.Replace(want, `"command":"add"`, `"command":"continue"`, 1); string(got) != want {
		t.Errorf("continue message\n %s\nwant %s", got, want)
	}
}
