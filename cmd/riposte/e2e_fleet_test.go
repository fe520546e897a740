package main_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/netnstest"
)

// fleetNet is a small network made of namespaces: the manager's, holding a
// bridge with address 10.201.0.1/24, and one per agent, each linked to the
// bridge by a veth pair and given its own address 10.201.0.(10+i). Nothing
// is created in the test's own namespace.
type fleetNet struct {
	mgr        string
	mgrAddr    string
	agents     []string
	agentAddrs []string
}

func newFleetNet(t *testing.T, n int) *fleetNet {
	t.Helper()
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	fn := &fleetNet{mgr: netnstest.New(t, "rpm-", "nft"), mgrAddr: "10.201.0.1"}
	ip("-n", fn.mgr, "link", "add", "br0", "type", "bridge")
	ip("-n", fn.mgr, "addr", "add", fn.mgrAddr+"/24", "dev", "br0")
	ip("-n", fn.mgr, "link", "set", "br0", "up")
	for i := 1; i <= n; i++ {
		ns := netnstest.New(t, fmt.Sprintf("rpa%d-", i))
		addr := fmt.Sprintf("10.201.0.%d", 10+i)
		peer := fmt.Sprintf("va%d", i)
		ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", peer, "netns", fn.mgr)
		ip("-n", fn.mgr, "link", "set", peer, "master", "br0")
		ip("-n", fn.mgr, "link", "set", peer, "up")
		ip("-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
		ip("-n", ns, "link", "set", "eth0", "up")
		fn.agents = append(fn.agents, ns)
		fn.agentAddrs = append(fn.agentAddrs, addr)
	}
	return fn
}

// fleetConfig is the manager's configuration for the fleet tests: the
// fixture commands, one response per location, and short fleet intervals.
func fleetConfig(t *testing.T, dir, responses string) string {
	t.Helper()
	fw := `<command><name>firewall-drop</name><executable>firewall-drop</executable><timeout_allowed>yes</timeout_allowed></command>`
	sections := cmdStateful + "\n  " + cmdStateless + "\n  " + fw + "\n  " + responses
	fleet := `<fleet><agent_listen>:1514</agent_listen><enrollment_listen>:1515</enrollment_listen>` +
		`<heartbeat_interval>1s</heartbeat_interval><disconnect_after>3s</disconnect_after></fleet>`
	return writeConfig(t, dir, sections, "", fleet)
}

// located is an <active-response> for rule id running command at location.
func located(command, ruleID, location, extra string) string {
	return "<active-response><command>" + command + "</command><location>" + location + "</location><rules_id>" +
		ruleID + "</rules_id>" + extra + "</active-response>"
}

// fleetAgent is one enrolled agent process.
type fleetAgent struct {
	id, ns, addr, dir string
	proc              *instance
}

// startManager starts riposte manager in the manager namespace.
func startManager(t *testing.T, fn *fleetNet, dir, config string) *instance {
	t.Helper()
	return startProcess(t, dir, fn.mgr, "manager", "--config", config, "--data-dir", dir)
}

// caPin is the pin of the manager's CA as riposte prints it.
func caPin(t *testing.T, mgrDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mgrDir, "pki", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("ca.pem holds no PEM block")
	}
	sum := sha256.Sum256(blk.Bytes)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// enrollAgent enrolls agent i (1-based) of fn with the manager and starts
// it. Odd agents pin the CA, even ones are given its file.
func enrollAgent(t *testing.T, fn *fleetNet, mgrDir string, i int) *fleetAgent {
	t.Helper()
	a := &fleetAgent{ns: fn.agents[i-1], addr: fn.agentAddrs[i-1]}
	a.dir = newDataDir(t, map[string]string{"stateful": "stateful.py", "stateless": "stateless.py"})
	args := []string{"netns", "exec", a.ns, riposteBin, "agent", "enroll",
		"--manager", fn.mgrAddr + ":1515", "--token-file", filepath.Join(mgrDir, "enrollment.token"),
		"--data-dir", a.dir, "--name", fmt.Sprintf("agent-%d", i)}
	if i%2 == 1 {
		args = append(args, "--ca-pin", caPin(t, mgrDir))
	} else {
		args = append(args, "--ca", filepath.Join(mgrDir, "pki", "ca.pem"))
	}
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("agent enroll: %v\n%s", err, out)
	}
	var id struct {
		AgentID string `json:"agent_id"`
	}
	b, err := os.ReadFile(filepath.Join(a.dir, "enrollment.json"))
	if err != nil {
		t.Fatalf("enrollment.json: %v (enroll said %s)", err, out)
	}
	if err := json.Unmarshal(b, &id); err != nil || id.AgentID == "" {
		t.Fatalf("enrollment.json %s: %v", b, err)
	}
	a.id = id.AgentID
	a.start(t)
	return a
}

func (a *fleetAgent) start(t *testing.T) {
	t.Helper()
	cfg := filepath.Join(a.dir, "agent.conf")
	if err := os.WriteFile(cfg, []byte(agentConf), 0o644); err != nil {
		t.Fatal(err)
	}
	a.proc = startProcess(t, a.dir, a.ns, "agent", "--data-dir", a.dir, "--config", cfg, "--log-level", "debug")
}

// agentConf is the agents' configuration: heartbeats as often as the
// manager of these tests expects them.
const agentConf = `<ossec_config><riposte><fleet><heartbeat_interval>1s</heartbeat_interval>` +
	`<disconnect_after>3s</disconnect_after></fleet></riposte></ossec_config>`

// ctl runs "riposte ctl --data-dir DIR ARGS... --json" and decodes its
// output into v (when not nil).
func ctl(t *testing.T, dir string, v any, args ...string) string {
	t.Helper()
	full := append([]string{"ctl", "--data-dir", dir}, args...)
	if v != nil {
		full = append(full, "--json")
	}
	cmd := exec.Command(riposteBin, full...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("riposte %s: %v\n%s%s", strings.Join(full, " "), err, out, stderr)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("riposte %s: %v\n%s", strings.Join(full, " "), err, out)
		}
	}
	return string(out)
}

type agentRow struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

type activeRow struct {
	ID      string    `json:"id"`
	Agent   string    `json:"agent"`
	Name    string    `json:"name"`
	Keys    []string  `json:"keys"`
	SrcIP   string    `json:"srcip"`
	Until   time.Time `json:"until"`
	Backend string    `json:"backend"`
}

type commandRow struct {
	Command struct {
		ID    string `json:"id"`
		Agent string `json:"agent"`
		Name  string `json:"name"`
	} `json:"command"`
	Status  string `json:"status"`
	Outcome string `json:"outcome"`
}

func agentStatuses(t *testing.T, dir string) map[string]string {
	t.Helper()
	var rows []agentRow
	ctl(t, dir, &rows, "agents", "list")
	m := make(map[string]string, len(rows))
	for _, r := range rows {
		m[r.ID] = r.Status
	}
	return m
}

func waitAgentStatus(t *testing.T, dir, id, status string) {
	t.Helper()
	waitFor(t, 15*time.Second, "agent "+id+" "+status, func() bool { return agentStatuses(t, dir)[id] == status })
}

// agentAlert is an alert raised on agent id for rule ruleID.
func agentAlert(agentID, ruleID, srcip, user string) string {
	doc := alertDoc(alertSpec{RuleID: ruleID, SrcIP: srcip, DstUser: user})
	return strings.Replace(doc, `"agent":{"id":"000","name":"host"}`, `"agent":{"id":"`+agentID+`","name":"agent-`+agentID+`"}`, 1)
}

// TestFleetLocations runs a manager and three agents, each in its own
// network namespace, and checks that every location runs where the seed
// says, that the manager's central list shows what is active where, that an
// undo lifts a block on the agent that holds it, and that an agent cannot
// read another agent's commands.
func TestFleetLocations(t *testing.T) {
	requireRoot(t)
	fn := newFleetNet(t, 3)
	mdir := newDataDir(t, map[string]string{"stateless": "stateless.py"})
	cfg := fleetConfig(t, mdir, strings.Join([]string{
		located("stateful", "100001", "local", "<timeout>60</timeout>"),
		located("firewall-drop", "100002", "defined-agent", "<agent_id>002</agent_id><timeout>120</timeout>"),
		located("stateless", "100003", "all", ""),
		located("stateless", "100004", "server", ""),
	}, "\n  "))
	mgr := startManager(t, fn, mdir, cfg)
	var agents []*fleetAgent
	for i := 1; i <= 3; i++ {
		agents = append(agents, enrollAgent(t, fn, mdir, i))
	}
	for i, a := range agents {
		if want := fmt.Sprintf("%03d", i+1); a.id != want {
			t.Fatalf("agent %d enrolled as %q, want %q", i+1, a.id, want)
		}
		waitAgentStatus(t, mdir, a.id, "active")
	}

	// local: runs on the agent that raised the alert, only there.
	sendJSON(t, mdir, agentAlert("001", "100001", "198.51.100.1", "alice"))
	waitFor(t, 10*time.Second, "the stateful add on agent 001", func() bool {
		return len(recorded(t, agents[0].dir, "stateful", "add", "198.51.100.1")) == 1
	})
	// defined-agent: agent 002 blocks with the built-in firewall-drop,
	// whoever raised the alert.
	sendJSON(t, mdir, agentAlert("003", "100002", "198.51.100.2", "bob"))
	waitFor(t, 10*time.Second, "198.51.100.2 in agent 002's nftables set", func() bool {
		return strings.Contains(nftTable(agents[1].ns), "198.51.100.2")
	})
	// all: every agent, not the manager.
	sendJSON(t, mdir, agentAlert("002", "100003", "198.51.100.3", "carol"))
	for _, a := range agents {
		waitFor(t, 10*time.Second, "the stateless run on agent "+a.id, func() bool {
			return len(recorded(t, a.dir, "stateless", "add", "198.51.100.3")) == 1
		})
	}
	// server: the manager, whoever raised the alert.
	sendJSON(t, mdir, agentAlert("001", "100004", "198.51.100.4", "dave"))
	waitFor(t, 10*time.Second, "the stateless run on the manager", func() bool {
		return len(recorded(t, mdir, "stateless", "add", "198.51.100.4")) == 1
	})
	time.Sleep(300 * time.Millisecond)
	for _, a := range agents {
		if n := len(recorded(t, a.dir, "stateless", "add", "198.51.100.4")); n != 0 {
			t.Errorf("server response ran on agent %s too", a.id)
		}
	}
	if n := len(recorded(t, mdir, "stateless", "add", "198.51.100.3")); n != 0 {
		t.Errorf("location all ran on the manager (%d runs)", n)
	}
	for _, a := range agents[1:] {
		if n := len(recorded(t, a.dir, "stateful", "", "")); n != 0 {
			t.Errorf("local response ran on agent %s", a.id)
		}
	}
	for _, a := range []*fleetAgent{agents[0], agents[2]} {
		if strings.Contains(nftTable(a.ns), "198.51.100.2") {
			t.Errorf("defined-agent 002 block applied on agent %s", a.id)
		}
	}
	// The script saw the manager's node name and Wazuh's message.
	if m := recorded(t, agents[0].dir, "stateful", "add", "198.51.100.1"); len(m) == 1 && m[0].Origin.Module != "wazuh-execd" {
		t.Errorf("agent script got origin %+v", m[0].Origin)
	}

	// The central list shows both stateful responses where they are.
	var act []activeRow
	waitFor(t, 10*time.Second, "both stateful responses in the central list", func() bool {
		ctl(t, mdir, &act, "responses", "list")
		return len(act) == 2
	})
	byAgent := map[string]activeRow{}
	for _, r := range act {
		byAgent[r.Agent] = r
	}
	if r := byAgent["002"]; r.Name != "firewall-drop" || !contains(r.Keys, "198.51.100.2") || time.Until(r.Until) < 100*time.Second {
		t.Errorf("agent 002's block in the central list: %+v", r)
	}
	if r := byAgent["001"]; r.Name != "stateful" || time.Until(r.Until) < 40*time.Second {
		t.Errorf("agent 001's response in the central list: %+v", r)
	}
	var only []activeRow
	ctl(t, mdir, &only, "responses", "list", "--ip", "198.51.100.2")
	if len(only) != 1 || only[0].Agent != "002" {
		t.Errorf("list --ip: %+v", only)
	}

	// Undo by address: the delete runs on agent 002 and the block is gone.
	ctl(t, mdir, nil, "responses", "undo", "--ip", "198.51.100.2")
	waitFor(t, 10*time.Second, "the block lifted on agent 002", func() bool {
		return !strings.Contains(nftTable(agents[1].ns), "198.51.100.2")
	})
	waitFor(t, 10*time.Second, "the central list to drop the undone block", func() bool {
		ctl(t, mdir, &act, "responses", "list", "--ip", "198.51.100.2")
		return len(act) == 0
	})

	// By hand, as agent_control -b: on agent 003, honouring the white list.
	ctl(t, mdir, nil, "ar", "run", "--agent", "003", "--command", "firewall-drop", "--srcip", "198.51.100.9", "--timeout", "90")
	waitFor(t, 10*time.Second, "the manual block on agent 003", func() bool {
		return strings.Contains(nftTable(agents[2].ns), "198.51.100.9")
	})
	mgr.expectLog(0, "level=ERROR")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
