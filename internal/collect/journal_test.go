package collect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseJournalEntry(t *testing.T) {
	tests := []struct {
		name, line string
		want       JournalEntry
		err        bool
	}{
		{
			name: "plain",
			line: `{"__CURSOR":"s=abc;i=1f","__REALTIME_TIMESTAMP":"1795773600123456","__MONOTONIC_TIMESTAMP":"99","_BOOT_ID":"x","_HOSTNAME":"bastion","SYSLOG_IDENTIFIER":"sshd","_PID":"4321","SYSLOG_PID":"1","_COMM":"sshd","_SYSTEMD_UNIT":"ssh.service","MESSAGE":"Failed password for root from 203.0.113.7 port 40001 ssh2","PRIORITY":"6"}`,
			want: JournalEntry{
				Time: time.UnixMicro(1795773600123456), Hostname: "bastion", Identifier: "sshd", PID: "4321",
				Message: "Failed password for root from 203.0.113.7 port 40001 ssh2", Unit: "ssh.service", Cursor: "s=abc;i=1f",
			},
		},
		{
			name: "byte array message, syslog pid, comm",
			line: `{"__CURSOR":"c2","__REALTIME_TIMESTAMP":"1000000","_HOSTNAME":"h","_COMM":"sshd-session","SYSLOG_PID":"77","MESSAGE":[73,110,118,97,108,105,100,32,117,115,101,114,32,27,91,49,109]}`,
			want: JournalEntry{Time: time.UnixMicro(1000000), Hostname: "h", Identifier: "sshd-session", PID: "77", Message: "Invalid user \x1b[1m", Cursor: "c2"},
		},
		{
			name: "invalid utf-8 bytes",
			line: `{"__CURSOR":"c3","MESSAGE":[255,254,65]}`,
			want: JournalEntry{Message: "\xff\xfeA", Cursor: "c3"},
		},
		{
			name: "repeated field and null",
			line: `{"__CURSOR":"c4","SYSLOG_IDENTIFIER":["sshd","other"],"MESSAGE":null,"_PID":[[52,50]]}`,
			want: JournalEntry{Identifier: "sshd", PID: "42", Cursor: "c4"},
		},
		{name: "not json", line: `Failed password`, err: true},
		{name: "bad timestamp", line: `{"__REALTIME_TIMESTAMP":"soon","MESSAGE":"x"}`, err: true},
		{name: "bad byte", line: `{"MESSAGE":[256]}`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJournalEntry([]byte(tt.line))
			if tt.err {
				if err == nil {
					t.Fatalf("no error, got %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(tt.want.Time) {
				t.Errorf("time %v, want %v", got.Time, tt.want.Time)
			}
			got.Time, tt.want.Time = time.Time{}, time.Time{}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSyslogLine(t *testing.T) {
	at := time.Date(2026, 11, 7, 9, 5, 3, 999, time.UTC)
	tests := []struct {
		e    JournalEntry
		want string
	}{
		{JournalEntry{Time: at, Hostname: "bastion", Identifier: "sshd", PID: "123", Message: "Failed password for root from 203.0.113.7 port 40001 ssh2"},
			"Nov  7 09:05:03 bastion sshd[123]: Failed password for root from 203.0.113.7 port 40001 ssh2"},
		{JournalEntry{Time: at.AddDate(0, 0, 20), Hostname: "h", Identifier: "kernel", Message: "x"},
			"Nov 27 09:05:03 h kernel: x"},
		{JournalEntry{Time: at, Identifier: "sshd", PID: "1", Message: "a\nb\r\n"},
			"Nov  7 09:05:03 localhost sshd[1]: a b"},
		{JournalEntry{Time: at, Hostname: "h", Message: "no identifier"},
			"Nov  7 09:05:03 h no identifier"},
		{JournalEntry{Time: at, Hostname: "my host", Identifier: "a b:[c]", PID: "5", Message: "m"},
			"Nov  7 09:05:03 my_host a_b__c_[5]: m"},
	}
	for _, tt := range tests {
		if got := tt.e.SyslogLine(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

// fakeJournalctl writes a shell script standing in for journalctl into dir.
// Each run appends its arguments (one per line, then "--") to dir/args and
// runs the body for run number N (1, 2, ...; the last body is reused).
func fakeJournalctl(t *testing.T, dir string, bodies ...string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell")
	}
	var cases strings.Builder
	for i, b := range bodies {
		pat := fmt.Sprint(i + 1)
		if i == len(bodies)-1 {
			pat = "*"
		}
		fmt.Fprintf(&cases, "%s)\n%s\n;;\n", pat, b)
	}
	script := fmt.Sprintf(`#!/bin/sh
d=%q
for a in "$@"; do printf '%%s\n' "$a" >> "$d/args"; done
echo -- >> "$d/args"
n=$(cat "$d/runs" 2>/dev/null || echo 0)
n=$((n+1))
echo $n > "$d/runs"
case $n in
%s
esac
`, dir, cases.String())
	path := filepath.Join(dir, "journalctl")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// journalRuns returns the argument lists of the fake's runs.
func journalRuns(t *testing.T, dir string) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "args"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	var cur []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l == "--" {
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = append(cur, l)
	}
	return out
}

func entryJSON(cursor, msg string) string {
	return fmt.Sprintf(`{"__CURSOR":%q,"__REALTIME_TIMESTAMP":"1795773600000000","_HOSTNAME":"bastion","SYSLOG_IDENTIFIER":"sshd","_PID":"9","MESSAGE":%q}`, cursor, msg)
}

// journalCollector gathers entries and errors and lets a test wait for them.
type journalCollector struct {
	mu      sync.Mutex
	entries []JournalEntry
	errs    []error
}

func (c *journalCollector) add(e JournalEntry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = append(c.entries, e)
	return nil
}

func (c *journalCollector) onError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err)
}

func (c *journalCollector) messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m []string
	for _, e := range c.entries {
		m = append(m, e.Message)
	}
	return m
}

func (c *journalCollector) errors() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.errs)
}

func journalWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestJournalRun(t *testing.T) {
	dir := t.TempDir()
	fakeJournalctl(t, dir,
		// First run: two entries, a line that is not JSON, then exit 1.
		fmt.Sprintf("echo '%s'\necho 'garbage'\necho '%s'\necho 'journal rotated' >&2\nexit 1",
			entryJSON("c1", "first"), entryJSON("c2", "second")),
		// Later runs: one entry, then follow forever.
		fmt.Sprintf("echo '%s'\nexec sleep 60", entryJSON("c3", "third")),
	)
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	cursorFile := filepath.Join(dir, "journal.cursor")
	var c journalCollector
	j := NewJournal(JournalOptions{
		Units:           []string{"ssh.service", "sshd.service"},
		CursorFile:      cursorFile,
		MinRestartDelay: 10 * time.Millisecond,
		OnError:         c.onError,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx, c.add) }()
	journalWaitFor(t, "three entries", func() bool { return len(c.messages()) == 3 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}

	if got, want := c.messages(), []string{"first", "second", "third"}; !slices.Equal(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
	e := c.entries[0]
	if e.Hostname != "bastion" || e.Identifier != "sshd" || e.PID != "9" || e.Cursor != "c1" || e.Time.UnixMicro() != 1795773600000000 {
		t.Errorf("entry %+v", e)
	}
	errs := c.errors()
	var sawParse, sawExit bool
	for _, err := range errs {
		s := err.Error()
		sawParse = sawParse || strings.Contains(s, "journal entry")
		sawExit = sawExit || strings.Contains(s, "journal rotated") && strings.Contains(s, "exit status 1")
	}
	if !sawParse || !sawExit {
		t.Errorf("errors reported: %v", errs)
	}

	r := journalRuns(t, dir)
	if len(r) != 2 {
		t.Fatalf("%d runs, want 2: %q", len(r), r)
	}
	for i, args := range r {
		for _, want := range []string{"--follow", "--output=json", "--no-pager", "--cursor-file=" + cursorFile} {
			if !slices.Contains(args, want) {
				t.Errorf("run %d: args %q lack %s", i+1, args, want)
			}
		}
		if u := strings.Join(args, " "); !strings.Contains(u, "-u ssh.service -u sshd.service") {
			t.Errorf("run %d: args %q lack the unit filters", i+1, args)
		}
	}
	// No cursor at first: start at the end. Then resume from the cursor.
	if !strings.Contains(strings.Join(r[0], " "), "-n 0") {
		t.Errorf("first run %q does not start at the end", r[0])
	}
	if slices.Contains(r[1], "-n") {
		t.Errorf("second run %q ignores the cursor", r[1])
	}
	b, err := os.ReadFile(cursorFile)
	if err != nil || strings.TrimSpace(string(b)) != "c3" {
		t.Errorf("cursor file %q, %v; want c3", b, err)
	}
}

func TestJournalCommandAndIdentifiers(t *testing.T) {
	dir := t.TempDir()
	bin := fakeJournalctl(t, dir, fmt.Sprintf("echo '%s'\necho '%s'\nexec sleep 60",
		entryJSON("c1", "one"), entryJSON("c2", "two")))
	cursorFile := filepath.Join(dir, "cursor")
	if err := os.WriteFile(cursorFile, []byte("c0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("enough")
	var got []string
	j := NewJournal(JournalOptions{
		Command:           bin,
		SyslogIdentifiers: []string{"sshd", "sshd-session"},
		CursorFile:        cursorFile,
	})
	err := j.Run(context.Background(), func(e JournalEntry) error {
		got = append(got, e.Message)
		if len(got) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Run: %v, want the callback's error", err)
	}
	if !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("got %q", got)
	}
	args := strings.Join(journalRuns(t, dir)[0], " ")
	if !strings.Contains(args, "-t sshd -t sshd-session") || strings.Contains(args, "-n 0") || strings.Contains(args, " -u ") {
		t.Errorf("args %q", args)
	}
	// The entry the callback refused is not consumed.
	if b, _ := os.ReadFile(cursorFile); strings.TrimSpace(string(b)) != "c1" {
		t.Errorf("cursor file %q, want c1", b)
	}
}

func TestJournalAfterCursorWithoutFile(t *testing.T) {
	dir := t.TempDir()
	bin := fakeJournalctl(t, dir,
		fmt.Sprintf("echo '%s'\nexit 0", entryJSON("c1", "one")),
		"exec sleep 60")
	var c journalCollector
	j := NewJournal(JournalOptions{Command: bin, MinRestartDelay: time.Millisecond, OnError: c.onError})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx, c.add) }()
	journalWaitFor(t, "second run", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "runs"))
		return strings.TrimSpace(string(b)) == "2"
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r := journalRuns(t, dir)
	if !slices.Contains(r[1], "--after-cursor=c1") || slices.Contains(r[1], "-n") {
		t.Errorf("second run %q", r[1])
	}
}

func TestJournalMissingCommand(t *testing.T) {
	j := NewJournal(JournalOptions{Command: filepath.Join(t.TempDir(), "journalctl")})
	if err := j.Run(context.Background(), func(JournalEntry) error { return nil }); err == nil {
		t.Fatal("Run with a missing binary succeeded")
	}
}

func TestJournalLongEntry(t *testing.T) {
	dir := t.TempDir()
	bin := fakeJournalctl(t, dir, fmt.Sprintf("head -c 5000 /dev/zero | tr '\\0' x; echo\necho '%s'\nexec sleep 60", entryJSON("c1", "after")))
	var c journalCollector
	j := NewJournal(JournalOptions{Command: bin, MaxEntryBytes: 1000, OnError: c.onError})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx, c.add) }()
	journalWaitFor(t, "entry", func() bool { return len(c.messages()) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if errs := c.errors(); len(errs) != 1 || !errors.Is(errs[0], ErrLineTooLong) {
		t.Errorf("errors %v", errs)
	}
}

func TestJournalAvailable(t *testing.T) {
	dir := t.TempDir()
	fakeJournalctl(t, dir, "exit 0")
	t.Setenv("PATH", dir)
	if !JournalAvailable() {
		t.Error("fake journalctl exiting 0: not available")
	}
	fakeJournalctl(t, dir, "exit 1")
	if JournalAvailable() {
		t.Error("fake journalctl exiting 1: available")
	}
	t.Setenv("PATH", t.TempDir())
	if JournalAvailable() {
		t.Error("no journalctl: available")
	}
}

func TestJournalBadCursor(t *testing.T) {
	dir := t.TempDir()
	bin := fakeJournalctl(t, dir,
		"echo 'Failed to seek to cursor: Invalid argument' >&2\nexit 1",
		"exec sleep 60")
	cursorFile := filepath.Join(dir, "cursor")
	if err := os.WriteFile(cursorFile, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var c journalCollector
	j := NewJournal(JournalOptions{Command: bin, CursorFile: cursorFile, MinRestartDelay: time.Millisecond, OnError: c.onError})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx, c.add) }()
	journalWaitFor(t, "second run", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "runs"))
		return strings.TrimSpace(string(b)) == "2"
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r := journalRuns(t, dir)
	if !strings.Contains(strings.Join(r[1], " "), "-n 0") {
		t.Errorf("second run %q does not start at the end", r[1])
	}
	if _, err := os.Stat(cursorFile); !os.IsNotExist(err) {
		t.Errorf("rejected cursor file kept: %v", err)
	}
	if errs := c.errors(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "seek to cursor") {
		t.Errorf("errors %v", errs)
	}
}
