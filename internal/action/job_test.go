package action

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addMessage is execd's add message for srcip.
func addMessage(srcip string) []byte {
	return fmt.Appendf(nil, `{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":[],"alert":{"rule":{"id":"5763"},"data":{"srcip":%q}},"program":"active-response/bin/ip-customblock"}}`, srcip)
}

// TestJobs prepares jobs of an action that cannot queue its adds
// (ip-customblock, in a temporary root), answers their handshakes and
// carries them out with StartAll: continued jobs act and log "Ended",
// aborted and invalid ones do not act, each with the exit code a run
// through the protocol would give.
func TestJobs(t *testing.T) {
	root := t.TempDir()
	log, logPath := testLog(t)
	tests := []struct {
		srcip    string
		answer   string // continue, abort, or "" for a job done after Prepare
		wantCode int
		wantFile bool
	}{
		{"203.0.113.1", "continue", ExitOK, true},
		{"203.0.113.2", "abort", ExitOK, false},
		{"203.0.113.3", "continue", ExitOK, true},
		{"1.2.3.4; rm -rf /", "", ExitInvalid, false},
		{"::ffff:203.0.113.4", "continue", ExitOK, true},
	}
	var jobs []*Job
	for _, tt := range tests {
		env := &Env{Program: "active-response/bin/ip-customblock", Log: log, Root: root}
		j := Prepare("ip-customblock", env, addMessage(tt.srcip))
		if tt.answer == "" {
			if !j.Done() {
				t.Fatalf("%s: job not done after Prepare", tt.srcip)
			}
		} else {
			if j.Done() || len(j.Keys) != 1 {
				t.Fatalf("%s: job done %v, keys %v", tt.srcip, j.Done(), j.Keys)
			}
			j.Answer([]byte(`{"command":"`+tt.answer+`"}`), tt.answer == "continue")
		}
		jobs = append(jobs, j)
	}
	StartAll(context.Background(), jobs)()
	if err := log.Flush(); err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		if !jobs[i].Done() || jobs[i].Code != tt.wantCode {
			t.Errorf("%s: done %v, code %d, want %d", tt.srcip, jobs[i].Done(), jobs[i].Code, tt.wantCode)
		}
		if tt.answer == "" {
			continue
		}
		_, err := os.Stat(filepath.Join(root, "ipblock", jobs[i].Keys[0]))
		if got := err == nil; got != tt.wantFile {
			t.Errorf("%s: block applied %v, want %v", tt.srcip, got, tt.wantFile)
		}
	}
	b, _ := os.ReadFile(logPath)
	text := string(b)
	for what, want := range map[string]int{"Starting": 5, "Ended": 3, "Aborted": 1, `"command":"check_keys"`: 4} {
		if got := strings.Count(text, what); got != want {
			t.Errorf("%d %q lines, want %d\n%s", got, what, want, text)
		}
	}
}

// TestQueues: only firewall-drop queues its adds, and only on nftables.
func TestQueues(t *testing.T) {
	for _, name := range Names() {
		for _, backend := range []string{"nftables", "ipset", "iptables"} {
			env := &Env{GOOS: "linux", Options: Options{Backend: backend}}
			if got, want := Queues(name, env), name == "firewall-drop" && backend == "nftables"; got != want {
				t.Errorf("Queues(%q) on %s = %v, want %v", name, backend, got, want)
			}
		}
	}
	if Queues("no-such-action", &Env{}) {
		t.Error("an unknown name queues")
	}
}
