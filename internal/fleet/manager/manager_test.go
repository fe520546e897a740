package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte/riposte/internal/fleet"
)

var bg = context.Background()

func mustRegister(t *testing.T, m *Manager, name string) string {
	t.Helper()
	id, err := m.Register(bg, name, "192.0.2.1", "fp-"+name, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func statusOf(m *Manager, id string) string {
	for _, a := range m.Agents() {
		if a.ID == id {
			return a.Status
		}
	}
	return ""
}

func commandStatus(m *Manager, agent, id string) string {
	for _, c := range m.Commands(agent) {
		if c.Command.ID == id {
			return c.Status
		}
	}
	return ""
}

func TestRegisterAuthorizeRemove(t *testing.T) {
	s := startServer(t, "")
	var (
		mu      sync.Mutex
		revoked []string
	)
	recs := &recorder{}
	m, _ := startManager(t, connect(t, s), Options{
		OnRevoke: func(id string) { mu.Lock(); revoked = append(revoked, id); mu.Unlock() },
		OnRecord: recs.add,
	})

	web1 := mustRegister(t, m, "web1")
	web2 := mustRegister(t, m, "web2")
	if web1 != "001" || web2 != "002" {
		t.Fatalf("ids = %s, %s; want 001, 002", web1, web2)
	}
	if _, err := m.Register(bg, "web1", "192.0.2.9", "fp-other", nil, nil, false); !errors.Is(err, ErrDuplicateName) {
		t.Fatalf("duplicate name: err = %v, want ErrDuplicateName", err)
	}
	web1b, err := m.Register(bg, "web1", "192.0.2.9", "FP-NEW", []string{"default"}, []string{"env:prod"}, true)
	if err != nil || web1b != "003" {
		t.Fatalf("forced register = %q, %v; want 003", web1b, err)
	}

	for _, tc := range []struct {
		id, fp string
		want   error
	}{
		{"002", "fp-web2", nil},
		{"002", "FP-WEB2", nil},
		{"003", "fp-new", nil},
		{"002", "fp-web1", ErrFingerprint},
		{"002", "", ErrFingerprint},
		{"001", "fp-web1", ErrRevoked},
		{"042", "fp-web1", ErrUnknownAgent},
		{"000", "", ErrUnknownAgent},
	} {
		if err := m.Authorize(tc.id, tc.fp); !errors.Is(err, tc.want) {
			t.Errorf("Authorize(%s, %s) = %v, want %v", tc.id, tc.fp, err, tc.want)
		}
	}

	// A command queued for web2 (never connected) becomes undeliverable
	// when web2 is removed.
	out := m.Dispatch(Dispatch{Name: "firewall-drop", Executable: "firewall-drop", Targets: []string{web2}})
	if out[web2] != Queued {
		t.Fatalf("dispatch to a never connected agent = %q, want %q", out[web2], Queued)
	}
	cmdID := m.Commands(web2)[0].Command.ID
	if err := m.Remove(bg, web2); err != nil {
		t.Fatal(err)
	}
	if got := commandStatus(m, web2, cmdID); got != CmdUndeliverable {
		t.Errorf("command after revoke: status %q, want %q", got, CmdUndeliverable)
	}
	if len(recs.find("undeliverable", cmdID)) != 1 {
		t.Errorf("no undeliverable record for %s", cmdID)
	}
	if err := m.Authorize(web2, "fp-web2"); !errors.Is(err, ErrRevoked) {
		t.Errorf("Authorize after Remove = %v, want ErrRevoked", err)
	}
	if err := m.Remove(bg, "077"); !errors.Is(err, ErrUnknownAgent) {
		t.Errorf("Remove(unknown) = %v", err)
	}
	mu.Lock()
	if !slices.Equal(revoked, []string{"001", "002"}) {
		t.Errorf("OnRevoke calls = %v, want [001 002]", revoked)
	}
	mu.Unlock()

	var got []string
	for _, a := range m.Agents() {
		got = append(got, a.ID+"="+a.Status)
	}
	want := []string{"000=active", "001=revoked", "002=revoked", "003=never_connected"}
	if !slices.Equal(got, want) {
		t.Errorf("Agents() = %v, want %v", got, want)
	}
	a3 := m.Agents()[3]
	if !slices.Equal(a3.Groups, []string{"default"}) || !slices.Equal(a3.Labels, []string{"env:prod"}) || a3.RegisteredIP != "192.0.2.9" {
		t.Errorf("agent 003 = %+v", a3.Agent)
	}
}

func TestDispatchTargets(t *testing.T) {
	s := startServer(t, "")
	var (
		mu    sync.Mutex
		local []fleet.Command
	)
	m, _ := startManager(t, connect(t, s), Options{
		Node: "m1", RetryInterval: time.Hour,
		Local: func(c fleet.Command) error { mu.Lock(); local = append(local, c); mu.Unlock(); return nil },
	})
	// The second manager shares the state and includes itself in "all";
	// it has no local executor.
	m2, _ := startManager(t, connect(t, s), Options{Node: "m2", AllIncludesManager: true, RetryInterval: time.Hour})

	on := mustRegister(t, m, "on")     // 001, connected
	off := mustRegister(t, m, "off")   // 002, never connected
	gone := mustRegister(t, m, "gone") // 003, revoked
	if err := m.Remove(bg, gone); err != nil {
		t.Fatal(err)
	}
	agent := newSimAgent(t, s, on)
	agent.heartbeat(true)
	waitFor(t, "agent connected on both managers", func() bool {
		return statusOf(m, on) == StatusActive && statusOf(m2, on) == StatusActive && statusOf(m2, gone) == StatusRevoked
	})

	for _, tc := range []struct {
		name string
		mgr  *Manager
		d    Dispatch
		want map[string]string
	}{
		{"local", m, Dispatch{Targets: []string{"000"}}, map[string]string{"000": Sent}},
		{"defined", m, Dispatch{Targets: []string{on}}, map[string]string{on: Sent}},
		{"disconnected", m, Dispatch{Targets: []string{off}}, map[string]string{off: Queued}},
		{"unknown", m, Dispatch{Targets: []string{"009"}}, map[string]string{"009": UnknownAgent}},
		{"revoked", m, Dispatch{Targets: []string{gone}}, map[string]string{gone: RevokedAgent}},
		{"all", m, Dispatch{AllAgents: true}, map[string]string{on: Sent, off: Queued}},
		{"all including the manager", m2, Dispatch{AllAgents: true}, map[string]string{"000": NoLocalExecutor, on: Sent, off: Queued}},
		{"invalid executable", m, Dispatch{Executable: "../sh", Targets: []string{on, "000"}}, map[string]string{on: InvalidExecutable, "000": InvalidExecutable}},
		{"too large", m, Dispatch{Alert: []byte(`"` + strings.Repeat("x", fleet.MaxMessage) + `"`), Targets: []string{on}}, map[string]string{on: TooLarge}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			local = nil
			mu.Unlock()
			d := tc.d
			d.Name = "firewall-drop"
			if d.Executable == "" {
				d.Executable = "firewall-drop"
			}
			got := tc.mgr.Dispatch(d)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("Dispatch (-want +got):\n%s", diff)
			}
			if got[on] == Sent {
				if c := agent.next(); c.Agent != on || c.Kind != fleet.KindRun || c.Executable != "firewall-drop" || c.Origin != tc.mgr.o.Node {
					t.Errorf("agent received %+v", c)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if wantLocal := tc.mgr == m && got["000"] == Sent; wantLocal != (len(local) == 1) {
				t.Errorf("Local called %d times", len(local))
			}
		})
	}
	agent.none(100 * time.Millisecond)
	// Every agent's commands, or one agent's.
	all, some := m.Commands(""), m.Commands(off)
	if len(some) == 0 || len(all) <= len(some) {
		t.Errorf("Commands(\"\") lists %d, Commands(%s) %d", len(all), off, len(some))
	}
	for _, c := range some {
		if c.Command.Agent != off {
			t.Errorf("Commands(%s) lists a command of %s", off, c.Command.Agent)
		}
	}
}

func TestDeliveryAckAndHello(t *testing.T) {
	s := startServer(t, "")
	clk := newClock()
	recs := &recorder{}
	m, _ := startManager(t, connect(t, s), Options{
		Now: clk.Now, RetryInterval: time.Hour, DisconnectAfter: time.Hour, CommandTTL: 10 * time.Minute,
		OnRecord: recs.add,
	})
	id := mustRegister(t, m, "web")
	agent := newSimAgent(t, s, id)
	agent.heartbeat(true)
	waitFor(t, "connected", func() bool { return statusOf(m, id) == StatusActive })

	run := Dispatch{Name: "firewall-drop", Executable: "firewall-drop", Targets: []string{id}, Alert: []byte(`{"data":{"srcip":"203.0.113.7"}}`)}

	// Delivered, then acknowledged.
	if out := m.Dispatch(run); out[id] != Sent {
		t.Fatalf("Dispatch = %v", out)
	}
	c1 := agent.next()
	if string(c1.Alert) != `{"data":{"srcip":"203.0.113.7"}}` || !c1.Expires.Equal(clk.Now().Add(10*time.Minute)) {
		t.Errorf("command = %+v", c1)
	}
	if got := commandStatus(m, id, c1.ID); got != CmdPending {
		t.Errorf("before ack: status %q", got)
	}
	agent.ack(c1.ID, fleet.AckAccepted)
	waitFor(t, "ack processed", func() bool { return commandStatus(m, id, c1.ID) == CmdAccepted })

	// Missed while unsubscribed; a hello brings it exactly once per hello.
	agent.unsubscribe()
	if out := m.Dispatch(run); out[id] != Sent {
		t.Fatalf("Dispatch = %v", out)
	}
	if err := m.nc.Flush(); err != nil { // the command reaches the server while nobody listens
		t.Fatal(err)
	}
	agent.subscribe()
	agent.none(50 * time.Millisecond)
	var c2 fleet.Command
	for range 2 {
		agent.heartbeat(true)
		c2 = agent.next()
		agent.none(100 * time.Millisecond)
	}
	if c2.ID == c1.ID {
		t.Fatal("the acknowledged command was sent again")
	}
	agent.ack(c2.ID, fleet.AckAccepted)
	waitFor(t, "second ack", func() bool { return commandStatus(m, id, c2.ID) == CmdAccepted })
	agent.heartbeat(true)
	agent.none(100 * time.Millisecond)

	// Missed, then expired: recorded, never sent.
	agent.unsubscribe()
	m.Dispatch(run)
	if err := m.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c3 := m.Commands(id)[2].Command
	clk.Add(11 * time.Minute)
	waitFor(t, "expired record", func() bool { return len(recs.find("expired", c3.ID)) == 1 })
	if got := commandStatus(m, id, c3.ID); got != CmdExpired {
		t.Errorf("status = %q, want expired", got)
	}
	agent.subscribe()
	agent.heartbeat(true)
	agent.none(200 * time.Millisecond)
	if n := len(recs.find("command", "")); n != 3 {
		t.Errorf("%d command records, want 3", n)
	}
	if n := len(recs.find("ack", "")); n != 2 {
		t.Errorf("%d ack records, want 2", n)
	}
}

func TestRetry(t *testing.T) {
	s := startServer(t, "")
	m, _ := startManager(t, connect(t, s), Options{RetryInterval: 50 * time.Millisecond})
	id := mustRegister(t, m, "web")
	agent := newSimAgent(t, s, id)
	agent.heartbeat(true)
	waitFor(t, "connected", func() bool { return statusOf(m, id) == StatusActive })
	agent.unsubscribe()
	m.Dispatch(Dispatch{Name: "host-deny", Executable: "host-deny", Targets: []string{id}})
	if err := m.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	agent.subscribe()
	c := agent.next() // sent again without a hello
	agent.ack(c.ID, fleet.AckDuplicate)
	waitFor(t, "ack", func() bool { return commandStatus(m, id, c.ID) == CmdAccepted })
	// Drain resends that crossed the acknowledgement, then none.
	time.Sleep(150 * time.Millisecond)
	for len(agent.cmds) > 0 {
		<-agent.cmds
	}
	agent.none(200 * time.Millisecond)
}

func TestActiveState(t *testing.T) {
	s := startServer(t, "")
	m, _ := startManager(t, connect(t, s), Options{})
	id := mustRegister(t, m, "web")
	agent := newSimAgent(t, s, id)
	agent.heartbeat(true)
	waitFor(t, "connected", func() bool { return statusOf(m, id) == StatusActive })

	ip := netip.MustParseAddr("203.0.113.7")
	m.Dispatch(Dispatch{Name: "firewall-drop", Executable: "firewall-drop", Timeout: 10 * time.Minute, SrcIP: ip, Targets: []string{id}})
	c := agent.next()
	if c.Timeout.D() != 10*time.Minute || !c.Expires.Equal(c.Issued.Add(10*time.Minute)) {
		t.Errorf("stateful command: timeout %v, expires %v, issued %v", c.Timeout.D(), c.Expires, c.Issued)
	}
	agent.ack(c.ID, fleet.AckAccepted)
	started := time.Now().UTC().Truncate(time.Second)
	add := fleet.Result{Kind: fleet.Run, CommandID: c.ID, Outcome: "ok", Verb: "add", Name: "firewall-drop", Executable: "firewall-drop",
		Key: "203.0.113.7", Keys: []string{"203.0.113.7"}, Timeout: fleet.Duration(10 * time.Minute), Started: started, Backend: "builtin", Time: started}
	agent.result(add)
	// An aborted add (already active) changes nothing.
	agent.result(fleet.Result{Kind: fleet.Run, Outcome: "aborted", Verb: "add", Key: "198.51.100.1", Timeout: fleet.Duration(time.Minute), Time: started})
	waitFor(t, "command done", func() bool { return commandStatus(m, id, c.ID) == CmdDone })

	want := []Active{{
		ID: ActiveID(id, "203.0.113.7"), Agent: id, Name: "firewall-drop", Executable: "firewall-drop",
		Key: "203.0.113.7", Keys: []string{"203.0.113.7"}, SrcIP: "203.0.113.7", CommandID: c.ID,
		Added: started, Until: started.Add(10 * time.Minute), Backend: "builtin",
	}}
	waitFor(t, "active", func() bool { return len(m.Active(Filter{})) > 0 })
	for _, tc := range []struct {
		name string
		f    Filter
		want []Active
	}{
		{"all", Filter{}, want},
		{"agent", Filter{Agent: id}, want},
		{"other agent", Filter{Agent: "002"}, nil},
		{"ip", Filter{IP: ip}, want},
		{"other ip", Filter{IP: netip.MustParseAddr("198.51.100.1")}, nil},
		{"command", Filter{Command: "firewall-drop"}, want},
		{"other command", Filter{Command: "host-deny"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, m.Active(tc.f)); diff != "" {
				t.Errorf("Active (-want +got):\n%s", diff)
			}
		})
	}

	// The agent's timer deletes it.
	agent.result(fleet.Result{Kind: fleet.Run, Outcome: "ok", Verb: "delete", Key: "203.0.113.7", Time: time.Now()})
	waitFor(t, "active gone", func() bool { return len(m.Active(Filter{})) == 0 })
}

// addActive makes agent report a stateful add of key.
func addActive(t *testing.T, a *simAgent, key string) {
	t.Helper()
	a.result(fleet.Result{Kind: fleet.Run, Outcome: "ok", Verb: "add", Name: "firewall-drop", Executable: "firewall-drop",
		Key: key, Timeout: fleet.Duration(time.Hour), Started: time.Now(), Time: time.Now()})
}

func TestUndoExtend(t *testing.T) {
	s := startServer(t, "")
	m, _ := startManager(t, connect(t, s), Options{})
	a1 := newSimAgent(t, s, mustRegister(t, m, "a1"))
	a2 := newSimAgent(t, s, mustRegister(t, m, "a2"))
	for _, a := range []*simAgent{a1, a2} {
		a.heartbeat(true)
	}
	const ipA, ipB = "203.0.113.7", "198.51.100.9"
	addActive(t, a1, ipA)
	addActive(t, a2, ipA)
	addActive(t, a2, ipB)
	waitFor(t, "3 active", func() bool { return len(m.Active(Filter{})) == 3 && statusOf(m, a2.id) == StatusActive })

	got, err := m.Undo("", netip.MustParseAddr(ipA))
	if err != nil || len(got) != 2 {
		t.Fatalf("Undo(ipA) = %v, %v", got, err)
	}
	for _, a := range []*simAgent{a1, a2} {
		if c := a.next(); c.Kind != fleet.KindUndo || c.Key != ipA || c.Agent != a.id || c.Executable != "firewall-drop" {
			t.Errorf("agent %s got %+v", a.id, c)
		}
	}
	a1.none(50 * time.Millisecond)
	a2.none(50 * time.Millisecond)

	if _, err := m.Undo(ActiveID(a2.id, ipB), netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	if c := a2.next(); c.Kind != fleet.KindUndo || c.Key != ipB {
		t.Errorf("undo by id: got %+v", c)
	}
	a1.none(50 * time.Millisecond)

	until := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	if _, err := m.Extend(ActiveID(a1.id, ipA), netip.Addr{}, until); err != nil {
		t.Fatal(err)
	}
	c := a1.next()
	if c.Kind != fleet.KindExtend || c.Key != ipA || !c.Until.Equal(until) {
		t.Errorf("extend: got %+v", c)
	}
	a2.none(50 * time.Millisecond)
	a1.ack(c.ID, fleet.AckAccepted)
	waitFor(t, "extended", func() bool {
		act := m.Active(Filter{Agent: a1.id})
		return len(act) == 1 && act[0].Until.Equal(until)
	})

	if _, err := m.Undo("", netip.MustParseAddr("192.0.2.55")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Undo(no match) = %v, want ErrNotFound", err)
	}
	if _, err := m.Extend(ActiveID(a1.id, ipA), netip.Addr{}, time.Now().Add(-time.Minute)); err == nil {
		t.Error("Extend into the past succeeded")
	}
}

func TestOffenders(t *testing.T) {
	s := startServer(t, "")
	clk := newClock()
	m, _ := startManager(t, connect(t, s), Options{Now: clk.Now, Offenders: OffenderPolicy{Enabled: true, Cap: time.Hour, Decay: 2 * time.Hour}})
	min := time.Minute
	for i, tc := range []struct {
		name   string
		base   time.Duration
		ladder []int
		want   []time.Duration
	}{
		// Wazuh's example: timeout 600 with repeated_offenders 10,20,30.
		{"ladder", 10 * min, []int{10, 20, 30}, []time.Duration{10 * min, 10 * min, 20 * min, 30 * min, 30 * min}},
		{"doubling", 10 * min, nil, []time.Duration{10 * min, 20 * min, 40 * min, time.Hour, time.Hour}},
		{"ladder capped", 10 * min, []int{90}, []time.Duration{10 * min, time.Hour, time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip := netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)})
			for n, want := range tc.want {
				got, count := m.Timeout(tc.base, tc.ladder, ip)
				if got != want || count != n+1 {
					t.Errorf("offense %d: %v (count %d), want %v", n+1, got, count, want)
				}
				clk.Add(time.Minute)
			}
		})
	}
	t.Run("decay", func(t *testing.T) {
		ip := netip.MustParseAddr("2001:db8::1")
		m.Timeout(10*min, nil, ip)
		clk.Add(90 * min)
		if got, n := m.Timeout(10*min, nil, ip); got != 20*min || n != 2 {
			t.Errorf("within decay: %v, %d", got, n)
		}
		clk.Add(2*time.Hour + time.Second)
		if got, n := m.Timeout(10*min, nil, ip); got != 10*min || n != 1 {
			t.Errorf("after decay: %v, %d", got, n)
		}
	})
	t.Run("dispatch applies it", func(t *testing.T) {
		id := mustRegister(t, m, "web")
		agent := newSimAgent(t, s, id)
		agent.heartbeat(true)
		waitFor(t, "connected", func() bool { return statusOf(m, id) == StatusActive })
		d := Dispatch{Name: "firewall-drop", Executable: "firewall-drop", Timeout: 10 * min, Ladder: []int{30}, SrcIP: netip.MustParseAddr("192.0.2.200"), Targets: []string{id}}
		for _, want := range []time.Duration{10 * min, 30 * min} {
			m.Dispatch(d)
			c := agent.next()
			if c.Timeout.D() != want || c.Ladder != nil || !c.Expires.Equal(c.Issued.Add(want)) {
				t.Errorf("command timeout %v ladder %v expires %v, want %v and no ladder", c.Timeout.D(), c.Ladder, c.Expires, want)
			}
		}
	})
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	// Each manager has a connection of its own, closed when it stops, as
	// a restarted process would.
	nc := connect(t, s)
	m1, stop := startManager(t, nc, Options{Node: "n1"})
	on := mustRegister(t, m1, "on")
	off := mustRegister(t, m1, "off")
	agent := newSimAgent(t, s, on)
	agent.heartbeat(true)
	addActive(t, agent, "203.0.113.7")
	waitFor(t, "active", func() bool { return len(m1.Active(Filter{})) == 1 })
	m1.Dispatch(Dispatch{Name: "host-deny", Executable: "host-deny", Targets: []string{off}})
	pending := m1.Commands(off)
	ip := netip.MustParseAddr("192.0.2.77")
	m1.Timeout(time.Minute, nil, ip)
	stop()
	nc.Close()
	// Until the server has dropped the first manager's pending pulls, it
	// may still deliver to them (the result then comes back only after the
	// consumer's AckWait): publish once none is left.
	js, err := jetstream.New(connect(t, s))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no pending pulls", func() bool {
		c, err := js.Consumer(bg, fleet.StreamAudit, "manager_n1")
		if err != nil {
			return false
		}
		ci, err := c.Info(bg)
		return err == nil && ci.NumWaiting == 0
	})

	// Published while no manager runs: kept by the durable consumer.
	addActive(t, agent, "198.51.100.1")

	m2, _ := startManager(t, connect(t, s), Options{Node: "n1"})
	if err := m2.Authorize(on, "fp-on"); err != nil {
		t.Errorf("Authorize after restart: %v", err)
	}
	if got := statusOf(m2, off); got != StatusNeverConnected {
		t.Errorf("status of %s = %q", off, got)
	}
	if diff := cmp.Diff(pending[0].Command, m2.Commands(off)[0].Command); diff != "" || m2.Commands(off)[0].Status != CmdPending {
		t.Errorf("pending command after restart (-before +after):\n%s", diff)
	}
	waitFor(t, "both active", func() bool { return len(m2.Active(Filter{Agent: on})) == 2 })
	if got, n := m2.Timeout(time.Minute, nil, ip); n != 2 || got != 2*time.Minute {
		t.Errorf("offender after restart: %v, %d", got, n)
	}
	if id := mustRegister(t, m2, "third"); id != "003" {
		t.Errorf("next id after restart = %s", id)
	}
}

func TestTwoManagers(t *testing.T) {
	s := startServer(t, "")
	m1, _ := startManager(t, connect(t, s), Options{Node: "a"})
	m2, _ := startManager(t, connect(t, s), Options{Node: "b"})
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids []string
	)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := m1
			if i%2 == 1 {
				m = m2
			}
			id, err := m.Register(bg, fmt.Sprintf("host%d", i), "", "fp", nil, nil, false)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != 10 {
		t.Fatalf("ids not unique: %v", ids)
	}
	waitFor(t, "registry shared", func() bool { return len(m1.Agents()) == 11 && len(m2.Agents()) == 11 })

	// A command issued by one manager and acknowledged (both consume
	// results) leaves pending on both.
	agent := newSimAgent(t, s, ids[0])
	agent.heartbeat(true)
	waitFor(t, "connected", func() bool { return statusOf(m1, ids[0]) == StatusActive })
	m1.Dispatch(Dispatch{Name: "host-deny", Executable: "host-deny", Targets: []string{ids[0]}})
	c := agent.next()
	waitFor(t, "command seen by the other manager", func() bool { return commandStatus(m2, ids[0], c.ID) == CmdPending })
	agent.ack(c.ID, fleet.AckAccepted)
	waitFor(t, "accepted on both", func() bool {
		return commandStatus(m1, ids[0], c.ID) == CmdAccepted && commandStatus(m2, ids[0], c.ID) == CmdAccepted
	})
}

func TestTwoManagersExpireOnce(t *testing.T) {
	s := startServer(t, "")
	clk := newClock()
	recs := &recorder{}
	// Without Run, so the test decides when each expires.
	newM := func(node string) *Manager {
		m, err := New(bg, Options{Conn: connect(t, s), Node: node, Now: clk.Now, OnRecord: recs.add, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		return m
	}
	m1, m2 := newM("a"), newM("b")
	id := mustRegister(t, m1, "off")
	waitFor(t, "registry shared", func() bool { return statusOf(m2, id) == StatusNeverConnected })
	m1.Dispatch(Dispatch{Name: "host-deny", Executable: "host-deny", Targets: []string{id}})
	c := m1.Commands(id)[0].Command
	waitFor(t, "both know the command", func() bool { return commandStatus(m2, id, c.ID) == CmdPending })
	clk.Add(time.Hour)
	var wg sync.WaitGroup
	for _, m := range []*Manager{m1, m2} {
		wg.Add(1)
		go func() { defer wg.Done(); m.expire(bg) }()
	}
	wg.Wait()
	waitFor(t, "expired on both", func() bool {
		return commandStatus(m1, id, c.ID) == CmdExpired && commandStatus(m2, id, c.ID) == CmdExpired
	})
	m1.expire(bg)
	m2.expire(bg)
	if got := recs.find("expired", c.ID); len(got) != 1 {
		t.Errorf("%d expired records, want 1: %+v", len(got), got)
	}
}

func TestForgedIdentity(t *testing.T) {
	s := startServer(t, "")
	m, _ := startManager(t, connect(t, s), Options{})
	victim := newSimAgent(t, s, mustRegister(t, m, "victim"))
	forger := newSimAgent(t, s, mustRegister(t, m, "forger"))
	victim.heartbeat(true)
	forger.heartbeat(true)
	waitFor(t, "connected", func() bool { return statusOf(m, victim.id) == StatusActive })
	m.Dispatch(Dispatch{Name: "host-deny", Executable: "host-deny", Targets: []string{victim.id}})
	c := victim.next()

	// The forger's body names the victim and its command: it is still the
	// forger's result.
	forger.publish(forger.subj.Result(forger.id), map[string]any{
		"agent": victim.id, "kind": "ack", "command_id": c.ID, "outcome": "accepted", "time": time.Now(),
	})
	forger.publish(forger.subj.Result(forger.id), map[string]any{
		"agent": victim.id, "kind": "run", "command_id": c.ID, "outcome": "ok", "verb": "add", "key": "203.0.113.7", "timeout": "1h", "time": time.Now(),
	})
	waitFor(t, "results processed", func() bool { return m.Stats().Results == 2 })
	if got := commandStatus(m, victim.id, c.ID); got != CmdPending {
		t.Errorf("victim's command: status %q, want pending", got)
	}
	act := m.Active(Filter{})
	if len(act) != 1 || act[0].Agent != forger.id || act[0].ID != ActiveID(forger.id, "203.0.113.7") {
		t.Errorf("active = %+v, want one on %s", act, forger.id)
	}
}

func TestDroppedAndEvents(t *testing.T) {
	s := startServer(t, "")
	got := make(chan string, 10)
	m, _ := startManager(t, connect(t, s), Options{OnEvents: func(a fleet.Agent, ev fleet.Events) {
		got <- a.ID + " " + a.Name + " " + ev.Location + " " + strings.Join(ev.Lines, "|")
	}})
	a := newSimAgent(t, s, mustRegister(t, m, "web"))
	stranger := newSimAgent(t, s, "042")

	a.publish(a.subj.Events(a.id), fleet.Events{Location: "/var/log/auth.log", Lines: []string{"one", "two"}})
	select {
	case s := <-got:
		if s != "001 web /var/log/auth.log one|two" {
			t.Errorf("OnEvents got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no events")
	}

	huge := fleet.Heartbeat{Name: strings.Repeat("x", fleet.MaxMessage)}
	for _, send := range []func(){
		func() { a.publish(a.subj.Heartbeat(a.id), huge) },
		func() { _ = a.nc.Publish(a.subj.Heartbeat(a.id), []byte("{not json")) },
		func() { _ = a.nc.Publish(a.subj.Result(a.id), []byte("[]")) },
		func() { stranger.heartbeat(true) },
		func() { stranger.publish(stranger.subj.Events(stranger.id), fleet.Events{Lines: []string{"x"}}) },
		func() { stranger.ack("x", "accepted") },
	} {
		send()
	}
	_ = a.nc.Flush()
	waitFor(t, "6 dropped", func() bool { return m.Stats().Dropped == 6 })
	if statusOf(m, "042") != "" {
		t.Error("a stranger's heartbeat registered it")
	}
	select {
	case s := <-got:
		t.Errorf("events of a stranger passed on: %q", s)
	default:
	}
}

func TestLocalResult(t *testing.T) {
	for _, alone := range []bool{false, true} {
		t.Run(fmt.Sprintf("alone=%v", alone), func(t *testing.T) { testLocalResult(t, alone) })
	}
}

func testLocalResult(t *testing.T, alone bool) {
	s := startServer(t, "")
	var cmds = make(chan fleet.Command, 1)
	m, _ := startManager(t, connect(t, s), Options{Alone: alone, Local: func(c fleet.Command) error { cmds <- c; return nil }})
	out := m.Dispatch(Dispatch{Name: "firewall-drop", Executable: "firewall-drop", Timeout: time.Hour, Targets: []string{"000"}, SrcIP: netip.MustParseAddr("203.0.113.9")})
	if out["000"] != Sent {
		t.Fatalf("Dispatch = %v", out)
	}
	c := <-cmds
	m.LocalResult(fleet.Result{Kind: fleet.Run, CommandID: c.ID, Outcome: "ok", Verb: "add", Key: "203.0.113.9", Timeout: fleet.Duration(time.Hour), Started: time.Now(), Time: time.Now()})
	waitFor(t, "local active", func() bool { return len(m.Active(Filter{Agent: "000"})) == 1 })
	if got := commandStatus(m, "000", c.ID); got != CmdDone {
		t.Errorf("local command status %q", got)
	}
	if a := m.Active(Filter{})[0]; a.SrcIP != "203.0.113.9" {
		t.Errorf("local active = %+v", a)
	}
}

// TestLocalResultAtOnce: a lone manager applies a result that comes back
// while Local is still running the command.
func TestLocalResultAtOnce(t *testing.T) {
	s := startServer(t, "")
	var m *Manager
	m, _ = startManager(t, connect(t, s), Options{Alone: true, Local: func(c fleet.Command) error {
		m.LocalResult(fleet.Result{Kind: fleet.Run, CommandID: c.ID, Outcome: "ok", Verb: "add", Key: "203.0.113.9", Timeout: fleet.Duration(time.Hour), Started: time.Now(), Time: time.Now()})
		return nil
	}})
	out := m.Dispatch(Dispatch{Name: "firewall-drop", Executable: "firewall-drop", Timeout: time.Hour, Targets: []string{"000"}, SrcIP: netip.MustParseAddr("203.0.113.9")})
	if out["000"] != Sent {
		t.Fatalf("Dispatch = %v", out)
	}
	var id string
	for _, c := range m.Commands("000") {
		id = c.Command.ID
	}
	if got := commandStatus(m, "000", id); got != CmdDone {
		t.Errorf("local command status %q, want %q", got, CmdDone)
	}
	if a := m.Active(Filter{}); len(a) != 1 || a[0].SrcIP != "203.0.113.9" {
		t.Errorf("local active = %+v", a)
	}
}

func TestSweepActive(t *testing.T) {
	s := startServer(t, "")
	clk := newClock()
	m, _ := startManager(t, connect(t, s), Options{Now: clk.Now, RetryInterval: 20 * time.Millisecond, DisconnectAfter: time.Hour})
	a := newSimAgent(t, s, mustRegister(t, m, "web"))
	a.result(fleet.Result{Kind: fleet.Run, Outcome: "ok", Verb: "add", Key: "203.0.113.7", Timeout: fleet.Duration(time.Minute), Started: clk.Now(), Time: clk.Now()})
	waitFor(t, "active", func() bool { return len(m.Active(Filter{})) == 1 })
	clk.Add(time.Minute + 30*time.Second) // past its end, within the grace
	time.Sleep(100 * time.Millisecond)
	if len(m.Active(Filter{})) != 1 {
		t.Fatal("dropped within the grace period")
	}
	clk.Add(time.Minute)
	waitFor(t, "swept", func() bool { return len(m.Active(Filter{})) == 0 })
}

func TestHeartbeatPersistence(t *testing.T) {
	s := startServer(t, "")
	nc := connect(t, s)
	clk := newClock()
	m, _ := startManager(t, nc, Options{Now: clk.Now, DisconnectAfter: time.Hour})
	id := mustRegister(t, m, "web")
	a := newSimAgent(t, s, id)
	kv, err := m.js.KeyValue(bg, fleet.BucketAgents)
	if err != nil {
		t.Fatal(err)
	}
	stored := func() fleet.Agent {
		e, err := kv.Get(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		var ag fleet.Agent
		if err := json.Unmarshal(e.Value(), &ag); err != nil {
			t.Fatal(err)
		}
		return ag
	}
	send := func(hb fleet.Heartbeat) {
		before := m.Stats().Heartbeats
		a.publish(a.subj.Heartbeat(id), hb)
		waitFor(t, "heartbeat processed", func() bool { return m.Stats().Heartbeats > before })
		select {
		case <-m.js.PublishAsyncComplete():
		case <-time.After(5 * time.Second):
			t.Fatal("writes not acknowledged")
		}
		e, err := kv.Get(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "watcher caught up", func() bool {
			m.mu.RLock()
			defer m.mu.RUnlock()
			return m.agents[id].rev == e.Revision()
		})
	}
	hb := fleet.Heartbeat{Name: "web", Version: "1.0", OS: "linux"}
	for _, step := range []struct {
		name    string
		advance time.Duration
		hello   bool
		version string
		stored  bool // whether this heartbeat's time is written
	}{
		{"hello", 0, true, "1.0", true},
		{"times only", 10 * time.Second, false, "1.0", false},
		{"a minute later", time.Minute, false, "1.0", true},
		{"content changed", time.Second, false, "1.1", true},
		{"unchanged again", time.Second, false, "1.1", false},
	} {
		clk.Add(step.advance)
		prev := stored().LastSeen
		hb.Hello, hb.Version = step.hello, step.version
		send(hb)
		got := stored().LastSeen
		if want := clk.Now(); step.stored && !got.Equal(want) {
			t.Errorf("%s: stored LastSeen %v, want %v", step.name, got, want)
		} else if !step.stored && !got.Equal(prev) {
			t.Errorf("%s: stored LastSeen moved to %v", step.name, got)
		}
	}
	if v := stored().Last.Version; v != "1.1" {
		t.Errorf("stored version %q", v)
	}
}

func TestAckAndRunOutcomes(t *testing.T) {
	s := startServer(t, "")
	m, _ := startManager(t, connect(t, s), Options{RetryInterval: time.Hour})
	id := mustRegister(t, m, "web")
	agent := newSimAgent(t, s, id)
	agent.heartbeat(true)
	waitFor(t, "connected", func() bool { return statusOf(m, id) == StatusActive })
	for _, tc := range []struct {
		ack, run string // run empty: no run result
		want     string
	}{
		{fleet.AckAccepted, "", CmdAccepted},
		{fleet.AckDuplicate, "", CmdAccepted},
		{fleet.AckExpired, "", CmdExpired},
		{fleet.AckInvalid, "", CmdFailed},
		{fleet.AckRefused, "", CmdFailed},
		{fleet.AckAccepted, "ok", CmdDone},
		{fleet.AckAccepted, "aborted", CmdDone},
		{fleet.AckAccepted, "failed", CmdFailed},
		{"", "ok", CmdDone}, // the acknowledgement was lost
	} {
		t.Run(tc.ack+"/"+tc.run, func(t *testing.T) {
			m.Dispatch(Dispatch{Name: "host-deny", Executable: "host-deny", Targets: []string{id}})
			c := agent.next()
			if tc.ack != "" {
				agent.ack(c.ID, tc.ack)
			}
			if tc.run != "" {
				agent.result(fleet.Result{Kind: fleet.Run, CommandID: c.ID, Outcome: tc.run, Verb: "add", Time: time.Now()})
			}
			waitFor(t, "status "+tc.want, func() bool { return commandStatus(m, id, c.ID) == tc.want })
		})
	}
}

func TestForgetFinished(t *testing.T) {
	m := &Manager{cmds: map[string]map[string]*cmdEntry{}}
	base := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	add := func(agent, id, status string, finished time.Time) {
		if m.cmds[agent] == nil {
			m.cmds[agent] = map[string]*cmdEntry{}
		}
		m.cmds[agent][id] = &cmdEntry{rec: CommandRecord{Command: fleet.Command{ID: id, Agent: agent}, Status: status, Finished: finished}}
	}
	add("001", "old", CmdDone, base)
	add("001", "pending", CmdPending, time.Time{})
	add("002", "mid", CmdExpired, base.Add(time.Minute))
	add("002", "new", CmdFailed, base.Add(2*time.Minute))
	add("003", "accepted", CmdAccepted, time.Time{})
	kept := func() string {
		var left []string
		for _, cmds := range m.cmds {
			for id := range cmds {
				left = append(left, id)
			}
		}
		slices.Sort(left)
		return fmt.Sprint(left)
	}
	m.forgetFinished(3)
	if got := kept(); got != "[accepted mid new old pending]" {
		t.Errorf("with no more finished than the limit, kept %v, want all", got)
	}
	m.forgetFinished(2)
	if got := kept(); got != "[accepted new pending]" {
		t.Errorf("kept %v, want the pending, the accepted and the newest finished (three quarters of the limit)", got)
	}
}

// A dispatch is answered without waiting for the store: when the command
// bucket refuses the write, the command is still sent, kept in memory, and
// the write that never landed is recorded.
func TestDispatchStoreFailure(t *testing.T) {
	// A cluster manager writes the record at once, a lone one after
	// storeDefer: both find out it did not land.
	for _, alone := range []bool{false, true} {
		t.Run(fmt.Sprintf("alone=%v", alone), func(t *testing.T) { testDispatchStoreFailure(t, alone) })
	}
}

func testDispatchStoreFailure(t *testing.T, alone bool) {
	s := startServer(t, "")
	nc := connect(t, s)
	rec := &recorder{}
	m, _ := startManager(t, nc, Options{Node: "n1", OnRecord: rec.add, Alone: alone})
	m.storeWait = time.Millisecond
	id := mustRegister(t, m, "web")
	agent := newSimAgent(t, s, id)
	agent.heartbeat(true)
	waitFor(t, "connected", func() bool { return statusOf(m, id) == StatusActive })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(bg, "KV_"+fleet.BucketCommands); err != nil {
		t.Fatal(err)
	}
	out := m.Dispatch(Dispatch{Name: "host-deny", Executable: "host-deny", Targets: []string{id}})
	if out[id] != Sent {
		t.Fatalf("dispatch = %q, want %q", out[id], Sent)
	}
	c := agent.next()
	waitFor(t, "the unstored record", func() bool { return len(rec.find("unstored", c.ID)) == 1 })
	if cmds := m.Commands(id); len(cmds) != 1 || cmds[0].Command.ID != c.ID {
		t.Errorf("commands in memory = %+v, want the one sent", cmds)
	}
	if got := m.Stats().StoreErrors; got == 0 {
		t.Error("the failed store is not counted")
	}
}

// A manager alone on its store reads the buckets at start and does not
// follow them: what it writes is already in its memory, and nothing else
// writes there.
func TestAlone(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	nc := connect(t, s)
	m, stop := startManager(t, nc, Options{Node: "n1", Alone: true})
	id := mustRegister(t, m, "web")
	agent := newSimAgent(t, s, id)
	agent.heartbeat(true)
	waitFor(t, "connected", func() bool { return statusOf(m, id) == StatusActive })
	out := m.Dispatch(Dispatch{Name: "host-deny", Executable: "host-deny", Targets: []string{id}})
	if out[id] != Sent {
		t.Fatalf("dispatch = %q", out[id])
	}
	c := agent.next()
	agent.result(fleet.Result{Kind: fleet.Run, CommandID: c.ID, Outcome: "ok", Verb: "add"})
	waitFor(t, "the result", func() bool {
		cmds := m.Commands(id)
		return len(cmds) == 1 && cmds[0].Status == CmdDone
	})

	// A write by someone else is not followed...
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(bg, fleet.BucketCommands)
	if err != nil {
		t.Fatal(err)
	}
	foreign := CommandRecord{Command: fleet.Command{ID: "foreign", Kind: fleet.KindRun, Agent: id, Issued: time.Now(), Expires: time.Now().Add(time.Hour), Name: "host-deny", Executable: "host-deny"}, Status: CmdPending}
	b, _ := json.Marshal(foreign)
	if _, err := kv.Put(bg, cmdKey(id, "foreign"), b); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(m.Commands(id)); n != 1 {
		t.Errorf("%d commands after a foreign write, want 1: an alone manager does not follow", n)
	}
	// ...and both are there at the next start.
	stop()
	m2, _ := startManager(t, nc, Options{Node: "n1", Alone: true})
	got := map[string]string{}
	for _, r := range m2.Commands(id) {
		got[r.Command.ID] = r.Status
	}
	if got[c.ID] != CmdDone || got["foreign"] != CmdPending {
		t.Errorf("commands after restart = %v, want %s done and foreign pending", got, c.ID)
	}
}

// TestDeferredRecordWrite: on a manager alone on its store, the record of
// a command sent to a connected agent is written once, with its final
// status, when the result comes within storeDefer; one with no answer is
// written pending after storeDefer; a first write that comes after the
// final status leaves it; and Close writes those still deferred. A manager
// of a cluster writes the record at once.
func TestDeferredRecordWrite(t *testing.T) {
	s := startServer(t, "")
	m, stop := startManager(t, connect(t, s), Options{Alone: true})
	id := mustRegister(t, m, "web")
	agent := newSimAgent(t, s, id)
	agent.heartbeat(true)
	waitFor(t, "connected", func() bool { return statusOf(m, id) == StatusActive })
	history := func(cmdID string) []CommandRecord {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		entries, err := m.kvCommands.History(ctx, cmdKey(id, cmdID))
		if err != nil {
			return nil
		}
		var out []CommandRecord
		for _, e := range entries {
			var r CommandRecord
			if json.Unmarshal(e.Value(), &r) == nil {
				out = append(out, r)
			}
		}
		return out
	}
	// writes counts the writes to the bucket so far.
	writes := func() uint64 {
		t.Helper()
		st, err := m.kvCommands.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
	}
	d := Dispatch{Name: "firewall-drop", Executable: "firewall-drop", Targets: []string{id}}

	// Answered at once: one write, the final one.
	before := writes()
	m.Dispatch(d)
	c := agent.next()
	agent.result(fleet.Result{Kind: fleet.Run, CommandID: c.ID, Outcome: "ok", Verb: "add", Time: time.Now()})
	waitFor(t, "the result's record", func() bool { h := history(c.ID); return len(h) > 0 && h[len(h)-1].Status == CmdDone })
	time.Sleep(2 * storeDefer)
	if n := writes() - before; n != 1 {
		t.Errorf("answered command written %d times, want once", n)
	}

	// Never answered: written pending once storeDefer has passed.
	m.Dispatch(d)
	c = agent.next()
	if h := history(c.ID); len(h) != 0 {
		t.Errorf("record written before storeDefer: %+v", h)
	}
	waitFor(t, "the pending record", func() bool { h := history(c.ID); return len(h) == 1 && h[0].Status == CmdPending })

	// A first write that lands after the final status does not replace it.
	m.Dispatch(d)
	c = agent.next()
	m.mu.RLock()
	e := m.cmds[id][c.ID]
	stale := recordsOf([]*cmdEntry{e})
	m.mu.RUnlock()
	agent.result(fleet.Result{Kind: fleet.Run, CommandID: c.ID, Outcome: "ok", Verb: "add", Time: time.Now()})
	waitFor(t, "the final record", func() bool { h := history(c.ID); return len(h) == 1 && h[0].Status == CmdDone })
	m.store([]*cmdEntry{e}, stale, time.Now())
	time.Sleep(2 * storeDefer)
	if h := history(c.ID); len(h) != 1 || h[0].Status != CmdDone {
		t.Errorf("a late first write replaced the final record: %+v", h)
	}

	// Still deferred when the manager closes: written by Close.
	m.Dispatch(d)
	c = agent.next()
	stop()
	if h := history(c.ID); len(h) != 1 || h[0].Status != CmdPending {
		t.Errorf("record of a command deferred at Close: %+v", h)
	}

	// In a cluster: written at once.
	m2, _ := startManager(t, connect(t, s), Options{Node: "clustered"})
	agent.heartbeat(true)
	waitFor(t, "connected", func() bool { return statusOf(m2, id) == StatusActive })
	if out := m2.Dispatch(Dispatch{Name: "firewall-drop", Executable: "firewall-drop", Targets: []string{id}}); out[id] != Sent {
		t.Fatalf("dispatch in a cluster: %v", out)
	}
	c = agent.next()
	for end := time.Now().Add(storeDefer / 2); ; time.Sleep(5 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := m2.kvCommands.Get(ctx, cmdKey(id, c.ID))
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatal("a cluster manager put off the record's write")
		}
	}
}
