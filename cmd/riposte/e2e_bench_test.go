package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/action"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/netnstest"
)

// The measurements below run riposte run inside a network namespace and
// time, from the test process, how fast log lines become kernel blocks.
// They are opt-in (RIPOSTE_E2E_BENCH=1) and assert behaviour only: every
// attacker must end up blocked; the figures go to the test log.

func requireBench(t *testing.T) {
	t.Helper()
	if os.Getenv("RIPOSTE_E2E_BENCH") == "" {
		t.Skip("measurement; set RIPOSTE_E2E_BENCH=1 to run")
	}
	requireRoot(t)
}

// blockedProbe checks, over netlink in the namespace, whether an address is
// in Riposte's nftables sets.
func blockedProbe(t *testing.T, ns string) func(ip string) bool {
	f, ok := action.Lookup("firewall-drop")
	if !ok {
		t.Fatal("no firewall-drop")
	}
	env := &action.Env{Exec: action.ExecRunner{Prefix: []string{"ip", "netns", "exec", ns}}, Options: action.Options{Backend: "nftables"}}
	v := f(env).(action.Verifier)
	return func(ip string) bool {
		in, err := action.ParseInput([]byte(`{"version":1,"origin":{},"command":"delete","parameters":{"alert":{"data":{"srcip":"` + ip + `"}}}}`))
		if err != nil {
			t.Fatal(err)
		}
		ok, err := v.Present(context.Background(), in)
		return err == nil && ok
	}
}

func benchSetup(t *testing.T, rule string) (dir, ns string, f *os.File) {
	ns = newNetns(t)
	dir = newDataDir(t, nil)
	authLog := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(authLog, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir,
		`<command><name>firewall-drop</name><executable>firewall-drop</executable><timeout_allowed>yes</timeout_allowed></command>
  <active-response><command>firewall-drop</command><location>local</location><rules_id>`+rule+`</rules_id><timeout>600</timeout></active-response>
  <localfile><log_format>syslog</log_format><location>`+authLog+`</location></localfile>`,
		"", "<firewall_backend>nftables</firewall_backend>")
	in := startRiposteIn(t, dir, cfg, ns)
	in.expectLog(1, "following log file")
	t.Cleanup(in.stop)
	f, err := os.OpenFile(authLog, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return dir, ns, f
}

// socketGet returns what path of the instance in dir answers over its
// control socket, as text (api.Client reads JSON only).
func socketGet(ctx context.Context, dir, path string) ([]byte, error) {
	cl := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(dir, "riposte.sock"))
	}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://riposte"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// profiler returns, when RIPOSTE_E2E_PROFILE names a file prefix, a
// function that saves what path of the instance in dir answers, after a
// wait, to prefix.name+suffix.
func profiler(t *testing.T, dir, name string) func(after time.Duration, path, suffix string) {
	out := os.Getenv("RIPOSTE_E2E_PROFILE")
	if out == "" {
		return nil
	}
	return func(after time.Duration, path, suffix string) {
		time.Sleep(after)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b, err := socketGet(ctx, dir, path)
		if err != nil {
			t.Logf("profile: %v", err)
			return
		}
		_ = os.WriteFile(out+"."+name+suffix, b, 0o644)
	}
}

// processCPU returns the CPU time the instance in dir has used, from its
// metrics (process_cpu_seconds_total).
func processCPU(t *testing.T, dir string) time.Duration {
	t.Helper()
	b, err := socketGet(context.Background(), dir, "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "process_cpu_seconds_total "); ok {
			var sec float64
			fmt.Sscan(v, &sec)
			return time.Duration(sec * float64(time.Second))
		}
	}
	t.Fatal("no process_cpu_seconds_total in the metrics")
	return 0
}

// TestMeasureLineToBlock: one failed-password line (rule 5760) per address;
// the time from the line written to its alert in alerts.json, and to the
// address present in the kernel.
func TestMeasureLineToBlock(t *testing.T) {
	requireBench(t)
	dir, ns, f := benchSetup(t, "5760")
	blocked := blockedProbe(t, ns)
	alerts := filepath.Join(dir, "logs", "alerts", "alerts.json")
	size := func() int64 {
		fi, err := os.Stat(alerts)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	var toAlert, toBlock []time.Duration
	for i := 0; i < 300; i++ {
		ip := fmt.Sprintf("198.18.%d.%d", i/250, i%250+1)
		before := size()
		start := time.Now()
		fmt.Fprintf(f, "Nov 27 10:00:00 web01 sshd[%d]: Failed password for root from %s port 50000 ssh2\n", 1000+i, ip)
		alerted := time.Duration(0)
		for !blocked(ip) {
			if alerted == 0 && size() > before {
				alerted = time.Since(start)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s never blocked", ip)
			}
			time.Sleep(100 * time.Microsecond)
		}
		toBlock = append(toBlock, time.Since(start))
		if alerted == 0 { // the alert is written before the block goes in
			alerted = toBlock[len(toBlock)-1]
		}
		toAlert = append(toAlert, alerted)
		time.Sleep(2 * time.Millisecond)
	}
	for _, m := range []struct {
		what string
		lat  []time.Duration
	}{{"its alert in alerts.json", toAlert}, {"block in the kernel", toBlock}} {
		slices.Sort(m.lat)
		t.Logf("line written → %s over %d lines: p50 %s, p99 %s, max %s", m.what,
			len(m.lat), m.lat[len(m.lat)/2].Round(10*time.Microsecond), m.lat[len(m.lat)*99/100].Round(10*time.Microsecond), m.lat[len(m.lat)-1].Round(10*time.Microsecond))
	}
}

// TestMeasureAttack10k: 10,000 addresses each fail eight passwords (rule
// 5763); the time from the last line written until every address is blocked.
// With interleaved set, the attackers take turns (the realistic, harder
// case for correlation).
func TestMeasureAttack10k(t *testing.T) {
	t.Run("consecutive", func(t *testing.T) { measureAttack(t, false) })
	t.Run("interleaved", func(t *testing.T) { measureAttack(t, true) })
}

func measureAttack(t *testing.T, interleaved bool) {
	requireBench(t)
	dir, ns, f := benchSetup(t, "5763")
	if fetch := profiler(t, dir, fmt.Sprint(interleaved)); fetch != nil {
		// A CPU profile of the instance during the attack, a dump of its
		// goroutines two seconds in, a trace, and its metrics at the end.
		var wg sync.WaitGroup
		wg.Go(func() { fetch(0, "/debug/pprof/profile?seconds=2", "") })
		wg.Go(func() { fetch(time.Second, "/debug/pprof/goroutine?debug=1", ".goroutines") })
		wg.Go(func() { fetch(200*time.Millisecond, "/debug/pprof/trace?seconds=1", ".trace") })
		t.Cleanup(func() {
			wg.Wait()
			fetch(0, "/metrics", ".metrics")
			fetch(0, "/debug/pprof/allocs", ".allocs")
		})
	}
	const n = 10000
	ips := make([]string, n)
	var sb strings.Builder
	for i := range ips {
		ips[i] = fmt.Sprintf("100.%d.%d.%d", 64+(i>>16), i>>8&255, i&255)
	}
	start := time.Now()
	line := func(i int) {
		fmt.Fprintf(&sb, "Nov 27 10:00:00 web01 sshd[%d]: Failed password for root from %s port 50000 ssh2\n", i, ips[i])
	}
	if interleaved {
		for round := 0; round < 8; round++ {
			for i := range ips {
				line(i)
			}
		}
	} else {
		for i := range ips {
			for round := 0; round < 8; round++ {
				line(i)
			}
		}
	}
	cpu0 := processCPU(t, dir)
	if _, err := f.WriteString(sb.String()); err != nil {
		t.Fatal(err)
	}
	last := time.Now()
	// Watch cheaply, so that watching does not load the machine: the
	// last attacker's address in the kernel, over netlink, every 2 ms
	// (blocks go in in the order of the lines, one batch after the other;
	// once it is there, every 100th address is probed too); the instance's
	// counters over its socket every 10 ms (when every decision was made,
	// when every run had been reported: a run is reported after its block
	// was read back from the kernel); then the whole set listed once to
	// confirm that every address is in the kernel.
	cl := api.NewSocketClient(filepath.Join(dir, "riposte.sock"))
	inSet := func() int { return len(netnstest.SetElements(t, ns, "inet", "riposte", "riposte_addr4")) }
	blocked := blockedProbe(t, ns)
	var decided, inKernel, ended time.Duration
	for i := 0; ; i++ {
		if inKernel == 0 && blocked(ips[n-1]) {
			inKernel = time.Since(last)
			for j := 0; j < n; j += 100 {
				if !blocked(ips[j]) {
					t.Fatalf("%s is blocked but %s (attacker %d) is not", ips[n-1], ips[j], j)
				}
			}
		}
		if i%5 == 0 {
			var h health
			if err := cl.Get(context.Background(), "/v1/health", &h); err == nil {
				if decided == 0 && h.Stats.Decisions >= n {
					decided = time.Since(last)
				}
				if h.Stats.Runs >= n {
					ended = time.Since(last)
					break
				}
			}
			if time.Since(last) > 60*time.Second {
				t.Fatalf("%d of %d addresses blocked after 60 s; health %+v", inSet(), n, h)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	cpu := processCPU(t, dir) - cpu0
	if got := inSet(); got < n {
		t.Fatalf("every run ended, but only %d of %d addresses are in the kernel", got, n)
	}
	if inKernel == 0 {
		// Every run was reported before a probe saw the last address: the
		// reports, which come after the blocks, bound the time.
		inKernel = ended
	}
	t.Logf("%d addresses × 8 lines written in %s; all blocked in the kernel %s after the last line (decisions all made after %s; every run reported after %s; all %d confirmed in the kernel; %s of CPU)",
		n, last.Sub(start).Round(time.Millisecond), inKernel.Round(time.Millisecond), decided.Round(time.Millisecond), ended.Round(time.Millisecond), n, cpu.Round(10*time.Millisecond))
}

// TestMeasureAPILoad runs a manager and, as separate processes, simulated
// agents and the load generator (riposte-load): PUT /active-response to
// every agent from 50 concurrent clients, the time until every agent has
// acknowledged a command sent to all, the manager's memory, and paging
// through the active responses once there are 100,000 of them.
// RIPOSTE_E2E_AGENTS sets the number of agents (default 100).
func TestMeasureAPILoad(t *testing.T) {
	requireBench(t)
	requireRoot(t)
	n := 100
	if v := os.Getenv("RIPOSTE_E2E_AGENTS"); v != "" {
		fmt.Sscan(v, &n)
	}
	load := filepath.Join(filepath.Dir(riposteBin), "riposte-load")
	if out, err := exec.Command("go", "build", "-o", load, "github.com/riposte/riposte/cmd/riposte-load").CombinedOutput(); err != nil {
		t.Fatalf("building riposte-load: %v\n%s", err, out)
	}
	ports := freePorts(t, 2)
	dir := newDataDir(t, nil)
	fleetXML := fmt.Sprintf("<fleet><agent_listen>127.0.0.1:%d</agent_listen><enrollment_listen>127.0.0.1:%d</enrollment_listen>"+
		"<heartbeat_interval>10s</heartbeat_interval><disconnect_after>60s</disconnect_after></fleet>", ports[0], ports[1])
	cfg := writeConfig(t, dir, `<command><name>firewall-drop</name><executable>firewall-drop</executable><timeout_allowed>yes</timeout_allowed></command>
  `+located("firewall-drop", "1", "local", "<timeout>600</timeout>"), "", fleetXML)
	mgr := startProcess(t, dir, "", "manager", "--config", cfg, "--data-dir", dir)
	api := mgr.apiURL()

	sim := exec.Command(load, "sim", "--manager", fmt.Sprintf("127.0.0.1:%d", ports[1]), "--token-file", filepath.Join(dir, "enrollment.token"),
		"--ca", filepath.Join(dir, "pki", "ca.pem"), "--n", fmt.Sprint(n), "--dir", t.TempDir(), "--results", "--heartbeat", "10s")
	if out := os.Getenv("RIPOSTE_E2E_PROFILE"); out != "" {
		sim.Args = append(sim.Args, "--cpuprofile", out+".sim")
	}
	simOut := &lockedBuffer{}
	sim.Stdout, sim.Stderr = simOut, simOut
	start := time.Now()
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGTERM first, so that a profile is written.
		_ = sim.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { sim.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			sim.Process.Kill()
			<-done
		}
	})
	waitFor(t, 10*time.Minute, "the simulated agents", func() bool { return strings.Contains(simOut.String(), "agents connected") })
	t.Logf("%d simulated agents enrolled and connected in %s", n, time.Since(start).Round(time.Millisecond))
	rss := func() string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", mgr.cmd.Process.Pid))
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				return strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
			}
		}
		return "?"
	}
	t.Logf("manager resident memory with %d connected agents: %s", n, rss())

	common := []string{"--api", api, "--password-file", filepath.Join(dir, "admin.password"), "--insecure", "--json"}
	runLoad := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(load, append(args, common...)...).Output()
		if err != nil {
			t.Fatalf("riposte-load %s: %v\n%s", args[0], err, out)
		}
		var r struct {
			Requests int     `json:"requests"`
			Failed   int     `json:"failed"`
			RPS      float64 `json:"requests_per_second"`
			Latency  struct {
				P50 float64 `json:"p50_ms"`
				P99 float64 `json:"p99_ms"`
				Max float64 `json:"max_ms"`
			} `json:"latency"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("riposte-load %s: %v\n%s", args[0], err, out)
		}
		if r.Failed > 0 {
			t.Errorf("riposte-load %s: %d of %d requests failed:\n%s", args[0], r.Failed, r.Requests, out)
		}
		return fmt.Sprintf("%d requests, %.0f/s, p50 %.1f ms, p99 %.1f ms, max %.1f ms", r.Requests, r.RPS, r.Latency.P50, r.Latency.P99, r.Latency.Max)
	}
	// One command to every agent: the time until all acknowledged.
	c := newAPIClient(t, api, "")
	c.login("admin", adminPassword(t, dir))
	t0 := time.Now()
	var res wazuhResult
	c.call(http.MethodPut, "/active-response", map[string]any{"command": "firewall-drop0", "alert": map[string]any{"data": map[string]any{"srcip": "192.0.2.1"}}}, &res)
	sent := time.Since(t0)
	waitFor(t, 2*time.Minute, "every agent's acknowledgement", func() bool {
		var cmds struct {
			Items []struct {
				Status string `json:"status"`
			} `json:"items"`
		}
		c.call(http.MethodGet, "/api/v1/commands", nil, &cmds)
		done := 0
		for _, x := range cmds.Items {
			if x.Status != "pending" {
				done++
			}
		}
		return done >= n
	})
	t.Logf("PUT /active-response to all %d agents: answered in %s (%d affected); every agent acknowledged within %s",
		n, sent.Round(time.Millisecond), res.Data.TotalAffectedItems, time.Since(t0).Round(time.Millisecond))

	for _, rate := range []string{"20", "50"} {
		if fetch := profiler(t, dir, "put"+rate); fetch != nil {
			go fetch(time.Second, "/debug/pprof/profile?seconds=5", "")
			go fetch(3*time.Second, "/debug/pprof/trace?seconds=2", ".trace")
		}
		t.Logf("PUT /active-response to every agent from 50 clients at %s requests/s: %s", rate,
			runLoad("put", "--agents-from-api", "--clients", "50", "--requests", "1500", "--rate", rate))
		if fetch := profiler(t, dir, "put"+rate); fetch != nil {
			fetch(0, "/debug/pprof/heap", ".heap")
		}
	}
	t.Logf("PUT /active-response to every agent from 50 clients, each sending as soon as answered: %s",
		runLoad("put", "--agents-from-api", "--clients", "50", "--requests", "1000"))
	t.Logf("manager resident memory after the load: %s", rss())

	// Many active responses (stateful blocks of random TEST-NET addresses,
	// each agent reporting its run), then pages of the list.
	per := max(100000/n, 20)
	t.Logf("stateful blocks: %s", runLoad("put", "--agents-from-api", "--clients", "50", "--requests", fmt.Sprint(per), "--command", "firewall-drop600", "--benchmark-addresses"))
	var page struct {
		Total int `json:"total"`
	}
	last, stable := -1, time.Now()
	waitFor(t, 5*time.Minute, "the active responses to settle", func() bool {
		c.call(http.MethodGet, "/api/v1/responses?limit=1", nil, &page)
		if page.Total != last {
			last, stable = page.Total, time.Now()
		}
		// Results queue behind the earlier load: wait for them to start
		// landing, then for the count to stop moving.
		return page.Total > 0 && time.Since(stable) > 3*time.Second
	})
	if fetch := profiler(t, dir, "pages"); fetch != nil {
		go fetch(100*time.Millisecond, "/debug/pprof/profile?seconds=1", "")
		go fetch(100*time.Millisecond, "/debug/pprof/trace?seconds=1", ".trace")
	}
	t.Logf("%d active responses; pages of 50 from 10 clients: %s", page.Total, runLoad("pages", "--clients", "10", "--requests", "500", "--limit", "50"))
	t.Logf("manager resident memory with %d active responses: %s", page.Total, rss())
}
