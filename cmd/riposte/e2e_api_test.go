package main_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/riposte/riposte/internal/browsertest"
)

// apiURL waits for the instance to log where its HTTPS API listens.
func (in *instance) apiURL() string {
	in.t.Helper()
	re := regexp.MustCompile(`msg="API and console" url=(https://[^ ]+/)`)
	var url string
	waitFor(in.t, 10*time.Second, "the API address in the log", func() bool {
		if m := re.FindStringSubmatch(in.stderr.String()); m != nil {
			url = m[1]
			return true
		}
		return false
	})
	return strings.TrimSuffix(url, "/")
}

// adminPassword reads the password the first start wrote.
func adminPassword(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "admin.password"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "admin.password")); fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.password has mode %v, want 0600", fi.Mode().Perm())
	}
	return strings.TrimSpace(string(b))
}

// apiClient talks to an instance's HTTPS API (its certificate is its own),
// dialling from inside a network namespace when ns is set.
type apiClient struct {
	t     *testing.T
	base  string
	hc    *http.Client
	token string
}

func newAPIClient(t *testing.T, base, ns string) *apiClient {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // the instance's own CA
	if ns != "" {
		d := netnsDialer{ns}
		tr.DialContext = func(_ context.Context, network, addr string) (net.Conn, error) { return d.Dial(network, addr) }
	}
	return &apiClient{t: t, base: base, hc: &http.Client{Transport: tr, Timeout: 15 * time.Second}}
}

// login authenticates as Wazuh's API clients do: basic auth, JWT back.
func (c *apiClient) login(user, password string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+"/security/user/authenticate", nil)
	req.SetBasicAuth(user, password)
	var out struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
		Error int `json:"error"`
	}
	if code := c.do(req, &out); code != http.StatusOK || out.Data.Token == "" || out.Error != 0 {
		c.t.Fatalf("login: status %d, %+v", code, out)
	}
	c.token = out.Data.Token
}

// call sends a JSON request and decodes the answer; it returns the status.
func (c *apiClient) call(method, path string, body, out any) int {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.do(req, out)
}

func (c *apiClient) do(req *http.Request, out any) int {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: status %d, body %s: %v", req.Method, req.URL.Path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// wazuhResult is the body of Wazuh's PUT /active-response.
type wazuhResult struct {
	Data struct {
		AffectedItems      []string `json:"affected_items"`
		TotalAffectedItems int      `json:"total_affected_items"`
		TotalFailedItems   int      `json:"total_failed_items"`
		FailedItems        []struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
			ID []string `json:"id"`
		} `json:"failed_items"`
	} `json:"data"`
	Message string `json:"message"`
	Error   int    `json:"error"`
}

// TestWazuhAPIOnFleet drives a manager's API as a SOAR playbook drives
// Wazuh's: log in, PUT /active-response to agents, with the exact answer
// shape and error codes; the response runs on the agents named, and the
// central list, the audit trail and the metrics show it.
func TestWazuhAPIOnFleet(t *testing.T) {
	requireRoot(t)
	fn := newFleetNet(t, 2)
	mdir := newDataDir(t, nil)
	mgr := startManager(t, fn, mdir, fleetConfig(t, mdir, located("stateful", "100041", "local", "<timeout>300</timeout>")))
	a1 := enrollAgent(t, fn, mdir, 1)
	a2 := enrollAgent(t, fn, mdir, 2)
	waitAgentStatus(t, mdir, "001", "active")
	waitAgentStatus(t, mdir, "002", "active")
	a2.proc.stop()
	waitAgentStatus(t, mdir, "002", "disconnected")

	c := newAPIClient(t, mgr.apiURL(), fn.mgr)
	c.login("admin", adminPassword(t, mdir))

	// Partial success: 001 runs it; 002 is not active (1707); 007 does not
	// exist (1701); 000 is the manager (1703).
	body := map[string]any{"command": "stateful300", "arguments": []string{"-x"},
		"alert": map[string]any{"data": map[string]any{"srcip": "198.51.100.40", "dstuser": "lee"}}}
	var res wazuhResult
	if code := c.call(http.MethodPut, "/active-response?agents_list=001,002,007,000", body, &res); code != http.StatusOK {
		t.Fatalf("PUT /active-response: status %d", code)
	}
	codes := map[int][]string{}
	for _, f := range res.Data.FailedItems {
		codes[f.Error.Code] = f.ID
	}
	if res.Error != 2 || res.Message != "AR command was not sent to some agents" || fmt.Sprint(res.Data.AffectedItems) != "[001]" ||
		res.Data.TotalAffectedItems != 1 || res.Data.TotalFailedItems != 3 ||
		fmt.Sprint(codes[1707]) != "[002]" || fmt.Sprint(codes[1701]) != "[007]" || fmt.Sprint(codes[1703]) != "[000]" {
		t.Errorf("PUT /active-response answer: %+v", res)
	}
	waitFor(t, 10*time.Second, "the stateful add on agent 001", func() bool {
		return len(recorded(t, a1.dir, "stateful", "add", "198.51.100.40")) == 1
	})
	if m := recorded(t, a1.dir, "stateful", "add", "198.51.100.40"); len(m) == 1 && fmt.Sprint(m[0].Parameters.ExtraArgs) != "[-a b -x]" {
		t.Errorf("extra_args %v, want the command's then the API's arguments", m[0].Parameters.ExtraArgs)
	}
	// Unknown command: 1652; all failed: error 1.
	if code := c.call(http.MethodPut, "/active-response?agents_list=001", map[string]any{"command": "nosuch0"}, &res); code != http.StatusOK || res.Error != 1 ||
		len(res.Data.FailedItems) != 1 || res.Data.FailedItems[0].Error.Code != 1652 {
		t.Errorf("unknown command: status %d %+v", code, res)
	}
	// Path traversal in the command is refused before anything runs.
	if code := c.call(http.MethodPut, "/active-response?agents_list=001", map[string]any{"command": "!../../bin/sh"}, nil); code != http.StatusBadRequest {
		t.Errorf("path traversal: status %d, want 400", code)
	}

	// Riposte's own API shows the block, where and until when, and the
	// audit trail has the decision-free manual command.
	var page struct {
		Items []activeRow `json:"items"`
		Total int         `json:"total"`
	}
	waitFor(t, 10*time.Second, "the response in /api/v1/responses", func() bool {
		c.call(http.MethodGet, "/api/v1/responses?ip=198.51.100.40", nil, &page)
		return page.Total == 1
	})
	if page.Items[0].Agent != "001" || time.Until(page.Items[0].Until) < 250*time.Second {
		t.Errorf("active response %+v", page.Items[0])
	}
	var audit struct {
		Items []struct {
			Kind    string `json:"kind"`
			Agent   string `json:"agent"`
			Outcome string `json:"outcome"`
		} `json:"items"`
		Total int `json:"total"`
	}
	c.call(http.MethodGet, "/api/v1/audit?agent=001", nil, &audit)
	kinds := map[string]bool{}
	for _, r := range audit.Items {
		kinds[r.Kind] = true
	}
	if !kinds["command"] || !kinds["result"] {
		t.Errorf("audit trail for agent 001 has kinds %v, want command and result", kinds)
	}
	// A read-only user cannot run anything.
	if code := c.call(http.MethodPost, "/api/v1/users", map[string]any{"name": "watcher", "password": "watch-only-pass-1", "role": "readonly"}, nil); code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("adding a user: status %d", code)
	}
	ro := newAPIClient(t, c.base, fn.mgr)
	ro.login("watcher", "watch-only-pass-1")
	if code := ro.call(http.MethodPut, "/active-response?agents_list=001", body, nil); code != http.StatusForbidden {
		t.Errorf("read-only PUT /active-response: status %d, want 403", code)
	}
	// Undo through the API lifts it on the agent.
	if code := c.call(http.MethodPost, "/api/v1/responses/undo", map[string]string{"ip": "198.51.100.40"}, nil); code != http.StatusOK {
		t.Fatalf("undo: status %d", code)
	}
	waitFor(t, 10*time.Second, "the delete on agent 001", func() bool {
		return len(recorded(t, a1.dir, "stateful", "delete", "198.51.100.40")) == 1
	})
	// Metrics: runs by command and outcome.
	req, _ := http.NewRequest(http.MethodGet, c.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), "riposte_runs_total") || !strings.Contains(string(m), "riposte_alerts_total") {
		t.Errorf("metrics lack runs or alerts:\n%s", truncate(string(m), 2000))
	}
}

// TestConsoleInBrowser: log in to the console of riposte run in headless
// Chromium, see a response appear after an alert (live, without reloading),
// undo it, see it gone and the script's delete run. Screenshots are saved
// ($RIPOSTE_SCREENSHOTS, or the test's temporary directory).
func TestConsoleInBrowser(t *testing.T) {
	requireRoot(t)
	exe := browsertest.Find(t)
	dir := newDataDir(t, statefulScripts)
	in := startRiposte(t, dir, writeConfig(t, dir, cmdStateful+"\n  "+response("stateful", "5712", 600, ""), "", ""))
	base := in.apiURL()
	b := browsertest.New(t, exe)
	b.Do("open the console", chromedp.Navigate(base+"/?poll=0"))
	b.Wait("the login form", `document.querySelector('#login-user')`)
	b.Shot("login")
	b.Do("log in",
		chromedp.SendKeys(browsertest.CSS("#login-user"), "admin"),
		chromedp.SendKeys(browsertest.CSS("#login-pass"), adminPassword(t, dir)),
		chromedp.Click(browsertest.CSS("#login-submit")))
	b.Wait("the agents", `document.querySelector('#agents-body tr[data-agent-id="000"]')`)
	b.Shot("agents")
	b.Do("open the active responses", chromedp.Click(browsertest.CSS(`button[data-tab="active"]`)))
	b.Wait("the stream to be live", `document.querySelector('#live[data-state="live"]')`)

	sendJSON(t, dir, sshAlert("203.0.113.50"))
	b.Wait("the block to appear without reloading", `[...document.querySelectorAll('#active-body tr[data-active-id]')].some(r => r.textContent.includes('203.0.113.50'))`)
	b.Shot("block")
	b.Do("undo it", chromedp.Click(browsertest.CSS(`#active-body tr[data-active-id] button.undo`)))
	b.Wait("the block to be gone", `document.querySelectorAll('#active-body tr[data-active-id]').length === 0`)
	b.Shot("undone")
	waitFor(t, 10*time.Second, "the script's delete", func() bool {
		return len(recorded(t, dir, "stateful", "delete", "203.0.113.50")) == 1
	})
	b.Do("open the runs", chromedp.Click(browsertest.CSS(`button[data-tab="runs"]`)))
	b.Wait("the add and the delete in the runs", `document.querySelectorAll('#runs-body tr[data-status]').length >= 2`)
	b.Shot("runs")
	b.CheckConsole()
}

// TestCtlOverAPI drives riposte ctl against the HTTPS API, as an operator
// on another host would: list a block, white-list its network (which lifts
// it at once), and find the change, with who made it, in the audit trail.
func TestCtlOverAPI(t *testing.T) {
	requireRoot(t)
	dir := newDataDir(t, statefulScripts)
	in := startRiposte(t, dir, writeConfig(t, dir, cmdStateful+"\n  "+response("stateful", "5712", 600, ""), "", ""))
	remote := []string{"--api", in.apiURL(), "--password-file", filepath.Join(dir, "admin.password"), "--ca", filepath.Join(dir, "pki", "ca.pem")}
	remoteCtl := func(v any, args ...string) string {
		t.Helper()
		return ctl(t, t.TempDir(), v, append(remote, args...)...)
	}
	sendJSON(t, dir, sshAlert("203.0.113.60"))
	var act []activeRow
	waitFor(t, 10*time.Second, "the block in ctl's list", func() bool {
		remoteCtl(&act, "responses", "list", "--ip", "203.0.113.0/24")
		return len(act) == 1
	})
	var added struct {
		Entry  string      `json:"entry"`
		Lifted []activeRow `json:"lifted"`
	}
	remoteCtl(&added, "allowlist", "add", "203.0.113.0/24", "--comment", "partner network")
	if added.Entry != "203.0.113.0/24" || len(added.Lifted) != 1 {
		t.Errorf("allowlist add: %+v", added)
	}
	waitFor(t, 10*time.Second, "the script's delete", func() bool {
		return len(recorded(t, dir, "stateful", "delete", "203.0.113.60")) == 1
	})
	// The white list now protects the network: a new alert runs nothing.
	resp := sendJSON(t, dir, sshAlert("203.0.113.61"))
	if out := outcomes(resp); fmt.Sprint(out) != "[allowlisted]" {
		t.Errorf("an alert from the white-listed network: %v, want allowlisted", out)
	}
	var trail []struct {
		Kind string `json:"kind"`
		User string `json:"user"`
		Note string `json:"note"`
	}
	remoteCtl(&trail, "audit", "--kind", "change")
	found := false
	for _, r := range trail {
		if r.User == "admin" && strings.Contains(r.Note, "203.0.113.0/24") {
			found = true
		}
	}
	if !found {
		t.Errorf("the audit trail lacks admin's white-list change: %+v", trail)
	}
	// A wrong password is refused with a clear message.
	bad := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(bad, []byte("wrong-password"), 0o600)
	out, err := runRiposte("ctl", "--api", in.apiURL(), "--password-file", bad, "--insecure", "agents", "list")
	if err == nil || !strings.Contains(out, "login as admin") {
		t.Errorf("a wrong password: err %v, output %s", err, out)
	}
}

// runRiposte runs the riposte binary and returns its combined output.
func runRiposte(args ...string) (string, error) {
	out, err := exec.Command(riposteBin, args...).CombinedOutput()
	return string(out), err
}
