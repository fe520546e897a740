package console

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/riposte/riposte/internal/browsertest"
	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
)

// TestConsole drives the console in headless Chromium against a fake API:
// login, agents, live updates over the stream, undo, runs, the white
// list, a manual run, and paging through 100,000 active responses.
func TestConsole(t *testing.T) {
	exe := browsertest.Find(t)
	now := time.Now()
	hostile := `<img src=x onerror="document.title='pwned'">`

	fake := newFakeAPI()
	fake.agents = []manager.AgentStatus{
		{Agent: fleet.Agent{ID: "000", Name: "manager", LastSeen: now, Last: fleet.Heartbeat{Version: "v1.0.0", OS: "linux", Addresses: []string{"192.0.2.1"}}}, Status: manager.StatusActive},
		{Agent: fleet.Agent{ID: "001", Name: "web-1", LastSeen: now.Add(-5 * time.Second), Last: fleet.Heartbeat{Version: "v1.0.1", OS: "linux", Addresses: []string{"192.0.2.10", "2001:db8::10"}}}, Status: manager.StatusActive},
		{Agent: fleet.Agent{ID: "002", Name: hostile, LastSeen: now.Add(-time.Hour), Last: fleet.Heartbeat{Version: "v1.0.1", OS: "freebsd"}}, Status: manager.StatusDisconnected},
	}
	fake.active = []manager.Active{{
		ID: "001.aaaa", Agent: "001", Name: "firewall-drop", Key: "198.51.100.7", Keys: []string{"198.51.100.7"},
		SrcIP: "198.51.100.7", Added: now.Add(-time.Minute), Until: now.Add(10 * time.Minute), Backend: "nftables",
	}}
	fake.runs = []execd.Result{
		{Command: "firewall-drop", Program: "firewall-drop", Verb: "add", Keys: []string{"198.51.100.1"}, Status: execd.StatusOK, Duration: 12 * time.Millisecond, Started: now.Add(-3 * time.Minute)},
		{Command: "host-deny", Program: "host-deny", Verb: "add", Keys: []string{"198.51.100.2"}, Status: execd.StatusFailed, ExitCode: 1, Stderr: "cannot write /etc/hosts.deny", Started: now.Add(-2 * time.Minute)},
		{Command: "firewall-drop", Program: "firewall-drop", Verb: "add", Keys: []string{"198.51.100.1"}, Status: execd.StatusAborted, Started: now.Add(-time.Minute)},
	}
	fake.allow = []allowEntry{
		{Entry: "127.0.0.1", Source: "config (riposte.conf:12)"},
		{Entry: "10.0.0.0/8", Source: "api", Comment: hostile, AddedBy: "admin", Added: now.Add(-time.Hour)},
	}
	srv := httptest.NewTLSServer(fake.handler())
	t.Cleanup(srv.Close)
	t.Cleanup(fake.close) // ends the streams before the server waits for them
	b := browsertest.New(t, exe)
	start := time.Now()

	// ?poll=0: no fallback poll, so what appears without a click came
	// through the stream.
	b.Do("open", chromedp.Navigate(srv.URL+"/?poll=0"), chromedp.WaitVisible(browsertest.CSS("#login-user")))
	b.Shot("login")

	// A wrong password is refused on the form.
	b.Do("bad login",
		chromedp.SendKeys(browsertest.CSS("#login-user"), "admin"),
		chromedp.SendKeys(browsertest.CSS("#login-pass"), "wrong"),
		chromedp.Click(browsertest.CSS("#login-submit")),
		chromedp.WaitVisible(browsertest.CSS("#login-error")))
	if got := b.Text("#login-error"); !strings.Contains(got, "Wrong user name or password") {
		t.Errorf("login error %q", got)
	}

	{
		t.Log("step: agents")
		b.Do("login",
			chromedp.Evaluate[chromedp.Void](`document.getElementById('login-pass').value = ''`),
			chromedp.SendKeys(browsertest.CSS("#login-pass"), "secret"),
			chromedp.Click(browsertest.CSS("#login-submit")),
			chromedp.WaitVisible(browsertest.CSS(`#agents-body tr[data-agent-id="002"]`)))
		b.Shot("agents")
		if n := browsertest.Eval[int](b, `document.querySelectorAll('#agents-body tr').length`); n != 3 {
			t.Errorf("%d agent rows, want 3", n)
		}
		row := b.Text(`#agents-body tr[data-agent-id="001"]`)
		for _, want := range []string{"web-1", "active", "v1.0.1", "linux", "192.0.2.10, 2001:db8::10", "s ago"} {
			if !strings.Contains(row, want) {
				t.Errorf("agent 001's row %q lacks %q", row, want)
			}
		}
		if !browsertest.Eval[bool](b, `!!document.querySelector('#agents-body tr[data-agent-id="002"] .status.status-disconnected')`) {
			t.Error("agent 002's status is not marked disconnected")
		}
		// Hostile text shows as text and runs nothing.
		if got := b.Text(`#agents-body tr[data-agent-id="002"] td:nth-child(2)`); got != hostile {
			t.Errorf("agent 002's name shows as %q, want the text %q", got, hostile)
		}
		if n := browsertest.Eval[int](b, `document.querySelectorAll('img').length`); n != 0 {
			t.Errorf("%d img elements: API text was parsed as HTML", n)
		}
		if title := browsertest.Eval[string](b, `document.title`); title != "Riposte" {
			t.Errorf("title %q", title)
		}
		if tok := browsertest.Eval[string](b, `sessionStorage.getItem('riposte.token') || ''`); tok == "" {
			t.Error("no token in sessionStorage")
		}
	}

	{
		t.Log("step: live update and undo")
		b.Do("active tab", chromedp.Click(browsertest.CSS(`button[data-tab="active"]`)),
			chromedp.WaitVisible(browsertest.CSS(`tr[data-active-id="001.aaaa"]`)))
		b.Wait("stream", `document.getElementById('live').dataset.state === 'live'`)
		if got := b.Text("#active-count"); got != "1–1 of 1" {
			t.Errorf("count %q, want 1–1 of 1", got)
		}

		// An alert comes in: the row appears without a reload or a poll.
		fake.addActive(manager.Active{
			ID: "002.bbbb", Agent: "002", Name: "firewall-drop", Key: "203.0.113.5", Keys: []string{"203.0.113.5"},
			SrcIP: "203.0.113.5", Added: time.Now(), Until: time.Now().Add(90 * time.Second), Backend: "iptables",
		})
		b.Do("new row", chromedp.WaitVisible(browsertest.CSS(`tr[data-active-id="002.bbbb"]`)))
		b.Wait("count", `document.getElementById('active-count').textContent === '1–2 of 2'`)
		b.Shot("active-live")

		// The countdown runs.
		left := b.Text(`tr[data-active-id="002.bbbb"] td.left`)
		if !strings.HasPrefix(left, "00:01:") && !strings.HasPrefix(left, "00:00:") {
			t.Errorf("time left %q, want about 00:01:30", left)
		}
		b.Wait("countdown", `document.querySelector('tr[data-active-id="002.bbbb"] td.left').textContent !== `+browsertest.JSString(left))

		// Undo: the row's buttons are disabled while the request is
		// pending, and the row goes when it is done.
		gate := make(chan struct{})
		fake.snapshot(func(f *fakeAPI) { f.undoGate = gate })
		b.Do("undo", chromedp.Click(browsertest.CSS(`tr[data-active-id="002.bbbb"] button.undo`)))
		b.Wait("undo pending", `document.querySelector('tr[data-active-id="002.bbbb"] button.undo').disabled && document.querySelector('tr[data-active-id="002.bbbb"] button.extend').disabled`)
		b.Shot("undo-pending")
		close(gate)
		b.Do("undone", chromedp.WaitNotPresent(browsertest.CSS(`tr[data-active-id="002.bbbb"]`)))
		b.Wait("count after undo", `document.getElementById('active-count').textContent === '1–1 of 1'`)
		b.Shot("undone")
		fake.snapshot(func(f *fakeAPI) {
			if !slices.Equal(f.undone, []string{"002.bbbb"}) {
				t.Errorf("undo requests %q, want [002.bbbb]", f.undone)
			}
		})
		if fake.hasActive("002.bbbb") {
			t.Error("002.bbbb still active")
		}

		// Extend by an hour.
		b.Do("extend", chromedp.Click(browsertest.CSS(`tr[data-active-id="001.aaaa"] button.extend`)))
		b.Wait("extended", `/^01:/.test(document.querySelector('tr[data-active-id="001.aaaa"] td.left').textContent)`)
		fake.snapshot(func(f *fakeAPI) {
			if len(f.extended) != 1 || f.extended[0].ID != "001.aaaa" || f.extended[0].By.D() != time.Hour {
				t.Errorf("extend requests %+v, want 001.aaaa by 1h", f.extended)
			}
		})
	}

	{
		t.Log("step: runs")
		b.Do("runs tab", chromedp.Click(browsertest.CSS(`button[data-tab="runs"]`)),
			chromedp.WaitVisible(browsertest.CSS(`#runs-body tr.failed`)))
		b.Shot("runs")
		got := browsertest.Eval[[]string](b, `[...document.querySelectorAll('#runs-body tr')].map(r => r.dataset.status + ':' + r.className)`)
		want := []string{"aborted:", "failed:failed", "ok:"} // newest first
		if !slices.Equal(got, want) {
			t.Errorf("runs (status:class) %q, want %q", got, want)
		}
		if row := b.Text(`#runs-body tr.failed`); !strings.Contains(row, "cannot write /etc/hosts.deny") || !strings.Contains(row, "host-deny") {
			t.Errorf("failed run's row %q lacks its command or stderr", row)
		}
	}

	{
		t.Log("step: allowlist")
		b.Do("allowlist tab", chromedp.Click(browsertest.CSS(`button[data-tab="allowlist"]`)),
			chromedp.WaitVisible(browsertest.CSS(`#allow-body tr[data-entry="10.0.0.0/8"]`)))
		if browsertest.Eval[bool](b, `!!document.querySelector('#allow-body tr[data-entry="127.0.0.1"] button.remove')`) {
			t.Error("a configuration entry has a remove button")
		}
		b.Do("add",
			chromedp.SendKeys(browsertest.CSS("#allow-entry"), "203.0.113.0/24"),
			chromedp.SendKeys(browsertest.CSS("#allow-comment"), "lab"),
			chromedp.Click(browsertest.CSS("#allow-submit")),
			chromedp.WaitVisible(browsertest.CSS(`#allow-body tr[data-entry="203.0.113.0/24"] button.remove`)))
		b.Do("remove", chromedp.Click(browsertest.CSS(`#allow-body tr[data-entry="10.0.0.0/8"] button.remove`)),
			chromedp.WaitNotPresent(browsertest.CSS(`#allow-body tr[data-entry="10.0.0.0/8"]`)))
		b.Shot("allowlist")
		fake.snapshot(func(f *fakeAPI) {
			if !slices.Equal(f.allowed, []string{"203.0.113.0/24"}) || !slices.Equal(f.removed, []string{"10.0.0.0/8"}) {
				t.Errorf("allowlist adds %q, removes %q", f.allowed, f.removed)
			}
		})
	}

	{
		t.Log("step: run a response")
		b.Do("run tab", chromedp.Click(browsertest.CSS(`button[data-tab="run"]`)),
			chromedp.WaitVisible(browsertest.CSS("#run-agents")),
			chromedp.SendKeys(browsertest.CSS("#run-agents"), "001, 002"),
			chromedp.SendKeys(browsertest.CSS("#run-command"), "firewall-drop"),
			chromedp.SendKeys(browsertest.CSS("#run-srcip"), "203.0.113.9"),
			chromedp.SendKeys(browsertest.CSS("#run-timeout"), "600"),
			chromedp.Click(browsertest.CSS("#run-submit")),
			chromedp.WaitVisible(browsertest.CSS("#run-error")))
		if got := b.Text("#run-error"); got != "203.0.113.9 is white-listed" {
			t.Errorf("run error %q", got)
		}
		b.Shot("run-refused")
		b.Do("forced run", chromedp.Click(browsertest.CSS("#run-force")), chromedp.Click(browsertest.CSS("#run-submit")),
			chromedp.WaitVisible(browsertest.CSS(`#run-result-body tr[data-agent="002"]`)))
		b.Shot("run-delivered")
		if got := b.Text(`#run-result-body tr[data-agent="001"]`); got != "001sent" {
			t.Errorf("delivery row %q, want 001 sent", got)
		}
		if browsertest.Eval[bool](b, `!document.getElementById('run-error').hidden`) {
			t.Error("the refusal still shows after a delivery")
		}
		fake.snapshot(func(f *fakeAPI) {
			if len(f.manual) != 2 {
				t.Fatalf("%d manual runs, want 2", len(f.manual))
			}
			got := f.manual[1]
			if !slices.Equal(got.Agents, []string{"001", "002"}) || got.All || got.Command != "firewall-drop" ||
				got.SrcIP != "203.0.113.9" || got.Timeout == nil || *got.Timeout != 600 || !got.Force || f.manual[0].Force {
				t.Errorf("manual runs %+v, then %+v", f.manual[0], got)
			}
		})
	}

	{
		t.Log("step: paging 100000")
		fake.snapshot(func(f *fakeAPI) { f.maxLimit = 0 })
		fake.addActive(fakeActive(100000, time.Now().Add(time.Hour))...)
		total := len(fake.active)
		began := time.Now()
		b.Do("active tab", chromedp.Click(browsertest.CSS(`button[data-tab="active"]`)))
		b.Wait("first page", fmt.Sprintf(`document.getElementById('active-count').textContent === '1–50 of %d'`, total))
		t.Logf("first page of %d shown in %v", total, time.Since(began))
		b.Shot("paging")
		if n := browsertest.Eval[int](b, `document.querySelectorAll('#active-body tr').length`); n != 50 {
			t.Errorf("%d rows in the page, want 50", n)
		}
		b.Do("next", chromedp.Click(browsertest.CSS("#active-next")))
		b.Wait("second page", fmt.Sprintf(`document.getElementById('active-count').textContent === '51–100 of %d'`, total))
		if n := browsertest.Eval[int](b, `document.querySelectorAll('#active-body tr').length`); n != 50 {
			t.Errorf("%d rows in the page, want 50", n)
		}
		b.Do("prev", chromedp.Click(browsertest.CSS("#active-prev")))
		b.Wait("back to the first page", `document.getElementById('active-count').textContent.startsWith('1–50 of')`)
		fake.snapshot(func(f *fakeAPI) {
			if f.maxLimit > 50 {
				t.Errorf("the console asked for %d responses at once", f.maxLimit)
			}
		})

		// The filter goes to the server: an address as ip, agent:, words as q.
		b.Do("filter", chromedp.SendKeys(browsertest.CSS("#active-filter"), "10.0.1.1 agent:003 drop\r"))
		b.Wait("filtered", `document.getElementById('active-count').textContent === '1–1 of 1'`)
		b.Shot("filtered")
		fake.snapshot(func(f *fakeAPI) {
			q := f.queries[len(f.queries)-1]
			for _, want := range []string{"ip=10.0.1.1", "agent=003", "q=drop", "offset=0", "limit=50"} {
				if !strings.Contains(q, want) {
					t.Errorf("last query %q lacks %q", q, want)
				}
			}
		})
	}

	{
		t.Log("step: expired token")
		// Tokens expire; the next change makes the console log in again
		// (with the credentials it holds in memory) and carry on.
		var before int
		fake.snapshot(func(f *fakeAPI) { before = f.logins })
		fake.expireTokens()
		fake.addActive(manager.Active{
			ID: "003.cccc", Agent: "003", Name: "firewall-drop", Key: "10.0.1.1", Keys: []string{"10.0.1.1"},
			SrcIP: "10.0.1.1", Added: time.Now(), Until: time.Now().Add(time.Minute),
		})
		b.Do("row after login again", chromedp.WaitVisible(browsertest.CSS(`tr[data-active-id="003.cccc"]`)))
		fake.snapshot(func(f *fakeAPI) {
			if f.logins != before+1 {
				t.Errorf("%d logins, want %d", f.logins, before+1)
			}
		})
		if browsertest.Eval[bool](b, `!document.getElementById('login').hidden`) {
			t.Error("the login form shows")
		}
	}

	{
		t.Log("step: poll without stream")
		// A server without a stream: the page falls back to polling.
		fake.setRefuseStream(true)
		b.Do("reload", chromedp.Navigate(srv.URL+"/?poll=1#active"),
			chromedp.WaitVisible(browsertest.CSS(`#active-body tr`)))
		b.Wait("polling", `document.getElementById('live').dataset.state === 'polling'`)
		fake.addActive(manager.Active{
			ID: "001.dddd", Agent: "001", Name: "firewall-drop", Key: "198.51.100.99", Keys: []string{"198.51.100.99"},
			SrcIP: "198.51.100.99", Added: time.Now(), Until: time.Now().Add(5 * time.Second),
		})
		b.Do("polled row", chromedp.WaitVisible(browsertest.CSS(`tr[data-active-id="001.dddd"]`)))
		b.Shot("polled")
	}

	{
		t.Log("step: logout")
		b.Do("logout", chromedp.Click(browsertest.CSS("#logout")), chromedp.WaitVisible(browsertest.CSS("#login-user")))
		if tok := browsertest.Eval[string](b, `sessionStorage.getItem('riposte.token') || ''`); tok != "" {
			t.Error("the token outlived the logout")
		}
	}
	t.Logf("browser steps took %v", time.Since(start))
	b.CheckConsole()
}
