package main_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestFleetOfflineAgent checks durable commands: a command sent while its
// agent is away runs once when it comes back, one that expired meanwhile
// never runs and is recorded as expired; a manager restart loses nothing;
// a removed agent is cut off at once.
func TestFleetOfflineAgent(t *testing.T) {
	requireRoot(t)
	fn := newFleetNet(t, 2)
	mdir := newDataDir(t, nil)
	cfg := fleetConfig(t, mdir, strings.Join([]string{
		located("stateless", "100011", "defined-agent", "<agent_id>002</agent_id>"),
		located("stateful", "100012", "defined-agent", "<agent_id>002</agent_id><timeout>2</timeout>"),
		located("stateful", "100013", "defined-agent", "<agent_id>001</agent_id><timeout>300</timeout>"),
	}, "\n  "))
	mgr := startManager(t, fn, mdir, cfg)
	a1 := enrollAgent(t, fn, mdir, 1)
	a2 := enrollAgent(t, fn, mdir, 2)
	waitAgentStatus(t, mdir, "001", "active")
	waitAgentStatus(t, mdir, "002", "active")

	// Agent 002 goes away.
	a2.proc.stop()
	waitAgentStatus(t, mdir, "002", "disconnected")
	sendJSON(t, mdir, agentAlert("001", "100011", "203.0.113.11", "erin"))  // stateless, valid 10 min
	sendJSON(t, mdir, agentAlert("001", "100012", "203.0.113.12", "frank")) // stateful 2 s: expires while away
	var cmds []commandRow
	ctl(t, mdir, &cmds, "commands", "--agent", "002")
	pending := 0
	for _, c := range cmds {
		if c.Status == "pending" {
			pending++
		}
	}
	if pending != 2 {
		t.Errorf("commands of the absent agent: %+v, want 2 pending", cmds)
	}
	time.Sleep(2500 * time.Millisecond)

	// Agent 001 gets a long block; then the manager restarts.
	sendJSON(t, mdir, agentAlert("002", "100013", "203.0.113.13", "gina"))
	waitFor(t, 10*time.Second, "the stateful add on agent 001", func() bool {
		return len(recorded(t, a1.dir, "stateful", "add", "203.0.113.13")) == 1
	})
	var act []activeRow
	waitFor(t, 10*time.Second, "agent 001's response in the central list", func() bool {
		ctl(t, mdir, &act, "responses", "list", "--agent", "001")
		return len(act) == 1
	})
	mgr.stop()
	mgr = startManager(t, fn, mdir, cfg)
	ctl(t, mdir, &act, "responses", "list", "--agent", "001")
	if len(act) != 1 || !contains(act[0].Keys, "203.0.113.13") {
		t.Errorf("after the manager restart the central list holds %+v", act)
	}
	waitAgentStatus(t, mdir, "001", "active")

	// Agent 002 comes back: the valid command runs once, the expired never.
	a2.start(t)
	waitFor(t, 15*time.Second, "the missed stateless command on agent 002", func() bool {
		return len(recorded(t, a2.dir, "stateless", "add", "203.0.113.11")) == 1
	})
	waitFor(t, 10*time.Second, "the expired command recorded as expired", func() bool {
		ctl(t, mdir, &cmds, "commands", "--agent", "002")
		for _, c := range cmds {
			if c.Command.Name == "stateful" && c.Status == "expired" {
				return true
			}
		}
		return false
	})
	time.Sleep(1500 * time.Millisecond) // a resend would land by now
	if n := len(recorded(t, a2.dir, "stateless", "add", "203.0.113.11")); n != 1 {
		t.Errorf("the missed command ran %d times, want once", n)
	}
	if n := len(recorded(t, a2.dir, "stateful", "", "")); n != 0 {
		t.Errorf("the expired stateful command ran on agent 002 (%d records)", n)
	}

	// Removing agent 001 cuts it off at once, and it stays out. (It was
	// disconnected once already, by the manager's restart.)
	disconnects := func() int { return strings.Count(a1.proc.stderr.String(), "disconnected from the manager") }
	connects := func() int { return strings.Count(a1.proc.stderr.String(), "msg=connected") }
	before := disconnects()
	ctl(t, mdir, nil, "agent", "remove", "001")
	waitAgentStatus(t, mdir, "001", "revoked")
	waitFor(t, 10*time.Second, "agent 001 to be cut off", func() bool { return disconnects() > before })
	connected := connects()
	time.Sleep(3 * time.Second) // it tries again every second, and is refused
	if n := connects(); n != connected {
		t.Errorf("the removed agent connected again (%d connections, %d when cut off)", n, connected)
	}
	resp := sendJSON(t, mdir, agentAlert("002", "100013", "203.0.113.14", "hank"))
	if d := resp.Results[0].Decisions; len(d) != 1 || !strings.HasPrefix(d[0].Delivery["001"], "not ") {
		t.Errorf("a command for the removed agent: %+v", d)
	}
	mgr.stop()
}

// natsServerBin builds nats-server once for the cluster test.
var natsServerBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "riposte-nats-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "nats-server")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building nats-server: %v: %s", err, out)
	}
	return bin, nil
})

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// TestFleetExternalCluster runs a manager and two agents on a NATS cluster
// of three nodes started by the test, with the manager's state replicated
// three times, and kills a node in the middle: responses keep flowing.
func TestFleetExternalCluster(t *testing.T) {
	requireRoot(t)
	bin, err := natsServerBin()
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 8)
	client, route := ports[:3], ports[3:6]
	var routes []string
	for _, p := range route {
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(p))
	}
	var urls []string
	nodes := make([]*exec.Cmd, 3)
	for i := range 3 {
		urls = append(urls, "nats://127.0.0.1:"+strconv.Itoa(client[i]))
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(client[i]), "-n", fmt.Sprintf("n%d", i+1),
			"-js", "-sd", t.TempDir(), "--cluster_name", "riposte-test", "--cluster", routes[i], "--routes", strings.Join(routes, ","))
		logs := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		nodes[i] = cmd
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("nats-server n%d:\n%s", i+1, truncate(logs.String(), 4000))
			}
		})
	}
	url := strings.Join(urls, ",")
	// Wait for the cluster's JetStream to have a leader.
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	waitFor(t, 30*time.Second, "the cluster's JetStream", func() bool {
		ctx, cancel := contextWithTimeout(time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})

	mdir := newDataDir(t, nil)
	enrollPort := ports[6]
	fleetXML := "<fleet><nats_url>" + url + "</nats_url><replicas>3</replicas>" +
		"<enrollment_listen>127.0.0.1:" + strconv.Itoa(enrollPort) + "</enrollment_listen>" +
		"<agent_listen>127.0.0.1:" + strconv.Itoa(ports[7]) + "</agent_listen>" +
		"<heartbeat_interval>1s</heartbeat_interval><disconnect_after>3s</disconnect_after></fleet>"
	cfgPath := writeConfig(t, mdir, cmdStateless+"\n  "+located("stateless", "100021", "all", ""), "", fleetXML)
	mgr := startProcess(t, mdir, "", "manager", "--config", cfgPath, "--data-dir", mdir)
	var agents []*fleetAgent
	for i := 1; i <= 2; i++ {
		a := &fleetAgent{dir: newDataDir(t, map[string]string{"stateless": "stateless.py"})}
		out, err := exec.Command(riposteBin, "agent", "enroll", "--manager", "127.0.0.1:"+strconv.Itoa(enrollPort),
			"--token-file", filepath.Join(mdir, "enrollment.token"), "--ca", filepath.Join(mdir, "pki", "ca.pem"),
			"--data-dir", a.dir, "--name", fmt.Sprintf("c%d", i)).CombinedOutput()
		if err != nil {
			t.Fatalf("enroll: %v\n%s", err, out)
		}
		a.id = fmt.Sprintf("%03d", i)
		cfg := filepath.Join(a.dir, "agent.conf")
		if err := os.WriteFile(cfg, []byte(agentConf), 0o644); err != nil {
			t.Fatal(err)
		}
		a.proc = startProcess(t, a.dir, "", "agent", "--data-dir", a.dir, "--config", cfg, "--nats", url)
		agents = append(agents, a)
	}
	for _, a := range agents {
		waitAgentStatus(t, mdir, a.id, "active")
	}
	sendJSON(t, mdir, agentAlert("001", "100021", "192.0.2.21", "ivan"))
	for _, a := range agents {
		waitFor(t, 10*time.Second, "the run on agent "+a.id, func() bool {
			return len(recorded(t, a.dir, "stateless", "add", "192.0.2.21")) == 1
		})
	}
	// Kill one node; the others keep the state and the traffic.
	nodes[0].Process.Signal(syscall.SIGKILL)
	sendJSON(t, mdir, agentAlert("001", "100021", "192.0.2.22", "judy"))
	for _, a := range agents {
		waitFor(t, 20*time.Second, "the run on agent "+a.id+" after a node died", func() bool {
			return len(recorded(t, a.dir, "stateless", "add", "192.0.2.22")) == 1
		})
	}
	var rows []agentRow
	ctl(t, mdir, &rows, "agents", "list")
	if len(rows) != 3 {
		t.Errorf("agents after the node died: %+v", rows)
	}
	mgr.stop()
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
