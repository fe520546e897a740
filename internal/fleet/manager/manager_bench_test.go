package manager

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte/riposte/internal/fleet"
)

var benchAlert = json.RawMessage(`{"timestamp":"2026-03-01T12:00:00.000+0000","rule":{"level":10,"description":"sshd: brute force trying to get access to the system. Authentication failed.","id":"5763","frequency":8,"firedtimes":1,"groups":["syslog","sshd","authentication_failures"]},"agent":{"id":"001","name":"web"},"manager":{"name":"manager"},"id":"1772366400.12345","full_log":"Mar  1 12:00:00 web sshd[1234]: Failed password for invalid user admin from 203.0.113.7 port 52311 ssh2","decoder":{"parent":"sshd","name":"sshd"},"data":{"srcip":"203.0.113.7","srcport":"52311","srcuser":"admin"},"location":"/var/log/auth.log"}`)

// BenchmarkDispatchLatency measures one Dispatch until the simulated agent
// receives the command.
func BenchmarkDispatchLatency(b *testing.B) {
	s := startServer(b, "")
	m, _ := startManager(b, connect(b, s), Options{Logger: discardLogger(), RetryInterval: time.Hour})
	id, err := m.Register(bg, "web", "", "fp", nil, nil, false)
	if err != nil {
		b.Fatal(err)
	}
	agent := newSimAgent(b, s, id)
	agent.heartbeat(true)
	waitFor(b, "connected", func() bool { return statusOf(m, id) == StatusActive })
	d := Dispatch{Name: "firewall-drop", Executable: "firewall-drop", Timeout: time.Minute, Alert: benchAlert,
		SrcIP: netip.MustParseAddr("203.0.113.7"), Targets: []string{id}}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		m.Dispatch(d)
		c := agent.next()
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		agent.ack(c.ID, fleet.AckAccepted)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkAll1k(b *testing.B)  { benchAll(b, 1000) }
func BenchmarkAll10k(b *testing.B) { benchAll(b, 10000) }

// benchAll measures Dispatch to all of n simulated agents (100
// connections, each serving n/100 agents and acknowledging at once) until
// the manager has processed every acknowledgement.
func benchAll(b *testing.B, n int) {
	s := startServer(b, "")
	base := heapInuse()
	var acks atomic.Int64
	m, _ := startManager(b, connect(b, s), Options{
		Logger: discardLogger(), RetryInterval: time.Hour, DisconnectAfter: time.Hour,
		OnRecord: func(r Record) {
			if r.Kind == "ack" {
				acks.Add(1)
			}
		},
	})
	ids := make([]string, n)
	for i := range ids {
		id, err := m.Register(bg, fmt.Sprintf("host%05d", i), "", "fp", nil, nil, false)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = id
	}
	const conns = 100
	subj := fleet.Subjects{}
	for c := range conns {
		nc := connect(b, s)
		for i := c; i < n; i += conns {
			id := ids[i]
			result := subj.Result(id)
			sub, err := nc.Subscribe(subj.Command(id), func(msg *nats.Msg) {
				var cmd fleet.Command
				if err := json.Unmarshal(msg.Data, &cmd); err != nil {
					b.Error(err)
					return
				}
				ack, _ := json.Marshal(fleet.Result{Kind: fleet.Ack, CommandID: cmd.ID, Outcome: fleet.AckAccepted, Time: time.Now()})
				_ = nc.Publish(result, ack)
			})
			if err != nil {
				b.Fatal(err)
			}
			_ = sub.SetPendingLimits(-1, -1)
			hb, _ := json.Marshal(fleet.Heartbeat{Name: id, Version: "bench", Time: time.Now()})
			_ = nc.Publish(subj.Heartbeat(id), hb)
		}
		if err := nc.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, "all connected", func() bool {
		for _, a := range m.Agents() {
			if a.Status != StatusActive {
				return false
			}
		}
		return true
	})
	d := Dispatch{Name: "firewall-drop", Executable: "firewall-drop", Timeout: time.Hour, Alert: benchAlert,
		SrcIP: netip.MustParseAddr("203.0.113.7"), AllAgents: true}
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		acks.Store(0)
		t0 := time.Now()
		out := m.Dispatch(d)
		dispatched := time.Since(t0)
		for id, st := range out {
			if st != Sent {
				b.Fatalf("agent %s: %s", id, st)
			}
		}
		deadline := time.Now().Add(2 * time.Minute)
		for acks.Load() < int64(n) {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d acks after 2m", acks.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
		elapsed := time.Since(t0)
		total += elapsed
		if i == 0 {
			b.ReportMetric(float64(dispatched.Microseconds())/1000, "dispatch-ms")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "all-acked-ms")
	// The heap holds the in-process nats-server and the 100 simulated
	// connections too; base is the heap with the server alone.
	b.ReportMetric(float64(heapInuse())/(1<<20), "heap-MiB")
	b.ReportMetric(float64(base)/(1<<20), "base-heap-MiB")
	b.ReportMetric(0, "ns/op")
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkActive100k lists 100,000 active responses, as a console page
// after a change does.
func BenchmarkActive100k(b *testing.B) {
	m := &Manager{active: make(map[string]*activeEntry)}
	now := time.Now()
	for i := range 100000 {
		ip := fmt.Sprintf("198.18.%d.%d", i>>8&255, i&255)
		agent := fmt.Sprintf("%03d", i%100+1)
		id := ActiveID(agent, ip)
		m.active[id] = &activeEntry{a: Active{ID: id, Agent: agent, Name: "firewall-drop", Key: ip, Keys: []string{ip}, SrcIP: ip,
			Added: now.Add(time.Duration(i) * time.Millisecond), Until: now.Add(time.Hour + time.Duration(i%977)*time.Second)}}
	}
	for b.Loop() {
		if len(m.Active(Filter{})) != 100000 {
			b.Fatal("short list")
		}
	}
}
