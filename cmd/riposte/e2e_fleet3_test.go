package main_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sys/unix"

	"github.com/riposte/riposte/internal/enroll"
	"github.com/riposte/riposte/internal/fleet"
)

// netnsDialer dials from inside a network namespace: the socket is made on
// a thread that has entered the namespace, and keeps it afterwards.
type netnsDialer struct{ ns string }

func (d netnsDialer) Dial(network, address string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is left locked, and so discarded, if it cannot go back.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		target, err := os.Open(filepath.Join("/var/run/netns", d.ns))
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns: %w", err)}
			return
		}
		c, err := net.DialTimeout(network, address, 5*time.Second)
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// TestFleetAgentIsolation connects with agent 001's own certificate, from
// its namespace, and tries to read agent 002's commands and to forge agent
// 002's results: the broker refuses both and the manager's state does not
// change. Then it lengthens a block through the manager and checks the
// agent holding it.
func TestFleetAgentIsolation(t *testing.T) {
	requireRoot(t)
	fn := newFleetNet(t, 2)
	mdir := newDataDir(t, nil)
	cfg := fleetConfig(t, mdir, located("firewall-drop", "100031", "defined-agent", "<agent_id>002</agent_id><timeout>120</timeout>"))
	startManager(t, fn, mdir, cfg)
	a1 := enrollAgent(t, fn, mdir, 1)
	a2 := enrollAgent(t, fn, mdir, 2)
	waitAgentStatus(t, mdir, "002", "active")

	id, err := enroll.LoadIdentity(a1.dir)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := id.NATSOptions()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var asyncErrs []string
	opts = append(opts, nats.SetCustomDialer(netnsDialer{a1.ns}), nats.MaxReconnects(0),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			mu.Lock()
			asyncErrs = append(asyncErrs, err.Error())
			mu.Unlock()
		}))
	nc, err := nats.Connect(strings.Join(id.NATSURLs, ","), opts...)
	if err != nil {
		t.Fatalf("agent 001's own identity cannot connect: %v", err)
	}
	defer nc.Close()

	// Reading another agent's commands is refused.
	stolen := make(chan *nats.Msg, 4)
	if _, err := nc.ChanSubscribe(fleet.Subjects{}.Command("002"), stolen); err != nil {
		t.Fatal(err)
	}
	// Forging another agent's result: a stateful add that never happened.
	forged, _ := json.Marshal(fleet.Result{Kind: fleet.Run, Outcome: "ok", Time: time.Now(), Name: "firewall-drop",
		Executable: "firewall-drop", Verb: "add", Key: "firewall-drop|192.0.2.250", Keys: []string{"192.0.2.250"},
		Timeout: fleet.Duration(time.Hour), Started: time.Now(), Backend: "builtin"})
	if err := nc.Publish(fleet.Subjects{}.Result("002"), forged); err != nil {
		t.Fatal(err)
	}
	_ = nc.FlushTimeout(2 * time.Second)
	waitFor(t, 5*time.Second, "two permissions violations", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, e := range asyncErrs {
			if strings.Contains(strings.ToLower(e), "permissions violation") {
				n++
			}
		}
		return n >= 2
	})
	// A real command for 002 meanwhile does not reach the thief.
	sendJSON(t, mdir, agentAlert("001", "100031", "192.0.2.31", "kim"))
	waitFor(t, 10*time.Second, "the block on agent 002", func() bool { return strings.Contains(nftTable(a2.ns), "192.0.2.31") })
	select {
	case m := <-stolen:
		t.Fatalf("agent 001 read agent 002's command: %s", m.Data)
	case <-time.After(300 * time.Millisecond):
	}
	var act []activeRow
	ctl(t, mdir, &act, "responses", "list")
	for _, r := range act {
		if contains(r.Keys, "192.0.2.250") {
			t.Errorf("the forged result reached the central list: %+v", r)
		}
	}
	if len(act) != 1 || act[0].Agent != "002" {
		t.Fatalf("central list %+v, want agent 002's block only", act)
	}
	// Publishing as itself is allowed (the broker is not simply closed).
	if err := nc.Publish(fleet.Subjects{}.Heartbeat("001"), []byte(`{"name":"agent-1"}`)); err != nil || nc.FlushTimeout(2*time.Second) != nil {
		t.Errorf("agent 001 cannot publish its own heartbeat: %v", err)
	}

	// Extend the block by an hour: the agent's own timer moves.
	before := a2.proc.active()
	ctl(t, mdir, nil, "responses", "extend", act[0].ID, "--by", "1h")
	waitFor(t, 10*time.Second, "agent 002's deadline to move", func() bool {
		now := a2.proc.active()
		return len(now) == 1 && len(before) == 1 && now[0].Deadline.Sub(before[0].Deadline) > 50*time.Minute
	})
	waitFor(t, 10*time.Second, "the central list to show the new deadline", func() bool {
		ctl(t, mdir, &act, "responses", "list", "--agent", "002")
		return len(act) == 1 && time.Until(act[0].Until) > 55*time.Minute
	})
	if !strings.Contains(nftTable(a2.ns), "192.0.2.31") {
		t.Error("the extended block is gone from agent 002's set")
	}
}

// TestFleetAgentLogs: an agent follows its auth log and sends the lines to
// the manager, whose rules see an SSH brute force from that agent; the
// response with location local blocks the attacker on that agent only.
func TestFleetAgentLogs(t *testing.T) {
	requireRoot(t)
	fn := newFleetNet(t, 2)
	mdir := newDataDir(t, nil)
	cfg := fleetConfig(t, mdir, located("firewall-drop", "5712,5763", "local", "<timeout>120</timeout>"))
	mgr := startManager(t, fn, mdir, cfg)
	a1 := enrollAgent(t, fn, mdir, 1)
	a2 := enrollAgent(t, fn, mdir, 2)
	// Agent 001 follows a log of its own.
	logPath := filepath.Join(a1.dir, "auth.log")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := `<ossec_config><localfile><log_format>syslog</log_format><location>` + logPath + `</location></localfile>` +
		`<riposte><fleet><heartbeat_interval>1s</heartbeat_interval><disconnect_after>3s</disconnect_after></fleet></riposte></ossec_config>`
	a1.proc.stop()
	confPath := filepath.Join(a1.dir, "agent.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	a1.proc = startProcess(t, a1.dir, a1.ns, "agent", "--data-dir", a1.dir, "--config", confPath)
	waitAgentStatus(t, mdir, "001", "active")
	waitAgentStatus(t, mdir, "002", "active")
	time.Sleep(300 * time.Millisecond) // the follower is at the end of the file

	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		fmt.Fprintf(f, "Nov 27 10:00:%02d web01 sshd[%d]: Failed password for root from 203.0.113.77 port %d ssh2\n", i, 4000+i, 50000+i)
	}
	f.Close()
	waitFor(t, 15*time.Second, "203.0.113.77 blocked on agent 001", func() bool {
		return strings.Contains(nftTable(a1.ns), "203.0.113.77")
	})
	if strings.Contains(nftTable(a2.ns), "203.0.113.77") {
		t.Error("the block landed on agent 002 too")
	}
	// The manager's alerts.json names the agent the lines came from.
	alerts := readFile(filepath.Join(mdir, "logs", "alerts", "alerts.json"))
	if !strings.Contains(alerts, `"agent":{"id":"001","ip":`) && !strings.Contains(alerts, `"agent":{"id":"001","name":"agent-1"`) {
		t.Errorf("alerts.json does not name agent 001:\n%s", truncate(alerts, 3000))
	}
	mgr.expectLog(0, "level=ERROR")
}
