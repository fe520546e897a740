package action

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// slackHook is a fake Slack webhook that records what it receives.
type slackHook struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	ctypes []string
	status int
}

func newSlackHook(t *testing.T) *slackHook {
	h := &slackHook{status: http.StatusOK}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/services/T000/B000/SECRETTOKEN" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		h.bodies = append(h.bodies, string(b))
		h.ctypes = append(h.ctypes, r.Header.Get("Content-Type"))
		w.WriteHeader(h.status)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *slackHook) url() string { return h.URL + "/services/T000/B000/SECRETTOKEN" }

// slackInput builds a 4.x message with the alert and the webhook as
// extra argument.
func slackInput(t *testing.T, command, alert, hook string) *Input {
	t.Helper()
	args := "[]"
	if hook != "" {
		b, _ := json.Marshal([]string{hook})
		args = string(b)
	}
	line := `{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"` + command +
		`","parameters":{"extra_args":` + args + `,"alert":` + alert + `,"program":"active-response/bin/wazuh-slack"}}`
	in, err := ParseInput([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestWazuhSlackBody(t *testing.T) {
	tests := []struct {
		name, alert, want string
	}{
		{"level 3 with agent",
			`{"timestamp":"2024-05-01T12:00:00.000+0000","id":"1714564800.1234","rule":{"level":3,"description":"sshd: authentication success.","id":"5715"},"agent":{"id":"007","name":"web01"},"full_log":"May  1 12:00:00 web01 sshd[42]: Accepted password for bob from 203.0.113.7 port 2222 ssh2","location":"/var/log/auth.log"}`,
			`{"attachments":[{"color":"good","pretext":"WAZUH Alert","title":"sshd: authentication success.","text":"May  1 12:00:00 web01 sshd[42]: Accepted password for bob from 203.0.113.7 port 2222 ssh2","fields":[{"title":"Agent","value":"(007) - web01"},{"title":"Location","value":"/var/log/auth.log"},{"title":"Rule ID","value":"5715 (level 3)"}],"ts":"1714564800.1234"}]}`},
		{"level 6 agentless",
			`{"id":"1714564800.99","rule":{"level":6,"description":"Integrity checksum changed <&>","id":"554"},"agentless":{"host":"root@10.0.0.5"},"full_log":"ossec: output: 'diff'","location":"(agentless) root@10.0.0.5->ssh_integrity_check"}`,
			`{"attachments":[{"color":"warning","pretext":"WAZUH Alert","title":"Integrity checksum changed <&>","text":"ossec: output: 'diff'","fields":[{"title":"Agentless Host","value":"root@10.0.0.5"},{"title":"Location","value":"(agentless) root@10.0.0.5->ssh_integrity_check"},{"title":"Rule ID","value":"554 (level 6)"}],"ts":"1714564800.99"}]}`},
		{"level 12 agent and agentless",
			`{"id":"1.2","rule":{"level":12,"description":"Multiple authentication failures.","id":"5712"},"agent":{"id":"000","name":"manager"},"agentless":{"host":"h"},"full_log":"x","location":"journald"}`,
			`{"attachments":[{"color":"danger","pretext":"WAZUH Alert","title":"Multiple authentication failures.","text":"x","fields":[{"title":"Agent","value":"(000) - manager"},{"title":"Agentless Host","value":"h"},{"title":"Location","value":"journald"},{"title":"Rule ID","value":"5712 (level 12)"}],"ts":"1.2"}]}`},
		{"level 4", `{"id":"1","rule":{"level":4,"id":"1"}}`,
			`{"attachments":[{"color":"good","pretext":"WAZUH Alert","title":"N/A","text":"","fields":[{"title":"Location","value":"N/A"},{"title":"Rule ID","value":"1 (level 4)"}],"ts":"1"}]}`},
		{"level 5", `{"id":"1","rule":{"level":5,"id":"1"}}`,
			`{"attachments":[{"color":"warning","pretext":"WAZUH Alert","title":"N/A","text":"","fields":[{"title":"Location","value":"N/A"},{"title":"Rule ID","value":"1 (level 5)"}],"ts":"1"}]}`},
		{"level 7", `{"id":"1","rule":{"level":7,"id":"1"}}`,
			`{"attachments":[{"color":"warning","pretext":"WAZUH Alert","title":"N/A","text":"","fields":[{"title":"Location","value":"N/A"},{"title":"Rule ID","value":"1 (level 7)"}],"ts":"1"}]}`},
		{"level 8", `{"id":"1","rule":{"level":8,"id":"1"}}`,
			`{"attachments":[{"color":"danger","pretext":"WAZUH Alert","title":"N/A","text":"","fields":[{"title":"Location","value":"N/A"},{"title":"Rule ID","value":"1 (level 8)"}],"ts":"1"}]}`},
		{"no rule", `{"full_log":"a\"b"}`,
			`{"attachments":[{"color":"good","pretext":"WAZUH Alert","title":"N/A","text":"a\"b","fields":[{"title":"Location","value":"N/A"},{"title":"Rule ID","value":"N/A (level -1)"}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hook := newSlackHook(t)
			act := newWazuhSlack(&Env{})
			in := slackInput(t, "add", tt.alert, hook.url())
			if keys, err := act.Keys(in); keys != nil || err != nil {
				t.Fatalf("keys %v %v: want stateless", keys, err)
			}
			if err := act.Add(t.Context(), in); err != nil {
				t.Fatal(err)
			}
			if len(hook.bodies) != 1 || hook.bodies[0] != tt.want {
				t.Fatalf("body:\n%v\nwant:\n%s", hook.bodies, tt.want)
			}
			if hook.ctypes[0] != "application/json" {
				t.Errorf("content type %q", hook.ctypes[0])
			}
		})
	}
}

func TestWazuhSlackDelete(t *testing.T) {
	hook := newSlackHook(t)
	alert := `{"id":"1","rule":{"level":10,"id":"5712"}}`
	del := slackInput(t, "delete", alert, hook.url())
	if err := newWazuhSlack(&Env{}).Delete(t.Context(), del); err != nil {
		t.Fatal(err)
	}
	if len(hook.bodies) != 0 {
		t.Fatalf("posted on delete: %v", hook.bodies)
	}
	if err := newWazuhSlack(&Env{Options: Options{SlackOnDelete: true}}).Delete(t.Context(), del); err != nil {
		t.Fatal(err)
	}
	if len(hook.bodies) != 1 {
		t.Fatalf("SlackOnDelete: %d posts", len(hook.bodies))
	}
}

func TestWazuhSlackErrors(t *testing.T) {
	hook := newSlackHook(t)
	alert := `{"id":"1","rule":{"level":10,"id":"5712"}}`
	act := newWazuhSlack(&Env{})
	noSecret := func(t *testing.T, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err %v, want %q", err, want)
		}
		for _, s := range []string{"SECRETTOKEN", "T000", "services"} {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("error shows the webhook: %v", err)
			}
		}
	}

	hook.status = http.StatusForbidden
	noSecret(t, act.Add(t.Context(), slackInput(t, "add", alert, hook.url())), "403 Forbidden")
	hook.status = http.StatusMovedPermanently
	noSecret(t, act.Add(t.Context(), slackInput(t, "add", alert, hook.url())), "301")

	// Nothing listens: the transport error names no part of the path.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/services/T000/B000/SECRETTOKEN?x=SECRETTOKEN"
	dead.Close()
	noSecret(t, act.Add(t.Context(), slackInput(t, "add", alert, deadURL)), "post to Slack webhook")

	// A server that never answers: the context ends the post.
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // so that the server sees the client go
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer stall.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	noSecret(t, act.Add(ctx, slackInput(t, "add", alert, stall.URL+"/services/T000/B000/SECRETTOKEN")), "deadline exceeded")

	// Invalid input.
	for _, tt := range []struct {
		in   *Input
		want string
	}{
		{slackInput(t, "add", alert, ""), "Cannot read 'extra_args' from data"},
		{slackInput(t, "add", `"x"`, hook.url()), "Cannot read 'alert' from data"},
		{slackInput(t, "add", alert, "ftp://T000/services/SECRETTOKEN"), "Invalid webhook URL"},
		{slackInput(t, "add", alert, "not a url SECRETTOKEN"), "Invalid webhook URL"},
	} {
		_, err := act.Keys(tt.in)
		noSecret(t, err, tt.want)
		noSecret(t, act.Add(t.Context(), tt.in), tt.want)
	}
}

// TestWazuhSlackRunLog drives wazuh-slack through the protocol and checks
// the log never shows the webhook.
func TestWazuhSlackRunLog(t *testing.T) {
	hook := newSlackHook(t)
	l, logPath := testLog(t)
	env := &Env{Program: "active-response/bin/wazuh-slack", Log: l}
	for _, status := range []int{http.StatusOK, http.StatusNotFound} {
		hook.status = status
		in := slackInput(t, "add", `{"id":"1","rule":{"level":10,"id":"5712"}}`, hook.url())
		var out strings.Builder
		code := run(t.Context(), newWazuhSlack(env), env, strings.NewReader(string(in.Raw)+"\n"), &out)
		if want := map[int]int{200: ExitOK, 404: ExitFailed}[status]; code != want {
			t.Errorf("status %d: exit %d, want %d", status, code, want)
		}
		if out.Len() != 0 {
			t.Errorf("printed %q: want no check_keys", out.String())
		}
	}
	l.Flush()
	b, _ := os.ReadFile(logPath)
	if strings.Contains(string(b), "SECRETTOKEN") || !strings.Contains(string(b), "HTTP status 404") {
		t.Fatalf("log:\n%s", b)
	}
}
