package instance

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/config"
	"github.com/riposte/riposte/internal/enroll"
	"github.com/riposte/riposte/internal/execd"
)

// startFleet runs a manager listening on loopback and one enrolled agent
// in this process, the agent with a script that exits at once; onResult
// receives the agent's results.
func startFleet(tb testing.TB, onResult func(execd.Result)) *Instance {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	enrollAddr := ln.Addr().String()
	ln.Close()
	conf := `<ossec_config>
  <command><name>noop</name><executable>noop</executable><timeout_allowed>no</timeout_allowed></command>
  <active-response><command>noop</command><location>defined-agent</location><agent_id>001</agent_id><level>5</level></active-response>
  <riposte><http_listen>off</http_listen><api><listen>off</listen></api><fleet><agent_listen>127.0.0.1:0</agent_listen><enrollment_listen>` + enrollAddr + `</enrollment_listen></fleet></riposte>
</ossec_config>`
	cfg, _, err := config.Parse("fleet.conf", []byte(conf))
	if err != nil {
		tb.Fatal(err)
	}
	mdir := tb.TempDir()
	in, err := New(cfg, Options{Dir: mdir, Manager: true})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })

	adir := tb.TempDir()
	token, err := os.ReadFile(in.layout.TokenFile())
	if err != nil {
		tb.Fatal(err)
	}
	var id *enroll.Identity
	deadline := time.Now().Add(10 * time.Second)
	for {
		id, err = enroll.Enroll(ctx, enroll.ClientOptions{Manager: enrollAddr, Token: strings.TrimSpace(string(token)),
			CAFile: filepath.Join(in.layout.PKIDir(), "ca.pem"), Name: "bench", Dir: adir})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the enrollment listener starts with Run
	}
	if err != nil {
		tb.Fatal(err)
	}
	bin := filepath.Join(adir, execd.BinDir)
	os.MkdirAll(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "noop"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		tb.Fatal(err)
	}
	acfg := config.Default()
	acfg.LocalFiles = nil
	ag, err := NewAgent(acfg, AgentOptions{Dir: adir, OnResult: onResult})
	if err != nil {
		tb.Fatal(err)
	}
	actx, acancel := context.WithCancel(context.Background())
	adone := make(chan error, 1)
	go func() { adone <- ag.Run(actx) }()
	tb.Cleanup(func() { acancel(); <-adone })
	for in.mgr.Agents()[len(in.mgr.Agents())-1].Status != "active" {
		if time.Now().After(deadline) {
			tb.Fatalf("agent %s never connected", id.AgentID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return in
}

// TestAlertReachesAgent: an alert on the manager runs the script on the
// agent, with the command id as the request id.
func TestAlertReachesAgent(t *testing.T) {
	results := make(chan execd.Result, 1)
	in := startFleet(t, func(r execd.Result) { results <- r })
	a, _ := alert.Parse([]byte(`{"rule":{"id":"1","level":7},"agent":{"id":"000"},"data":{"srcip":"203.0.113.7"}}`))
	rep := in.Ingest(context.Background(), []*alert.Alert{a}, api.IngestOptions{})
	if got := rep[0].Decisions[0].Delivery["001"]; got != "sent" {
		t.Fatalf("delivery to 001: %q", got)
	}
	select {
	case r := <-results:
		if r.Status != execd.StatusOK || r.RequestID == "" {
			t.Fatalf("result %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the script never ran on the agent")
	}
}

// BenchmarkAlertToAgentCommand measures an alert accepted by the manager
// until the script started on an agent connected over loopback TLS
// (decision, command stored in JetStream, delivered, acknowledged path,
// fork/exec), reporting the 50th and 99th percentiles.
func BenchmarkAlertToAgentCommand(b *testing.B) {
	results := make(chan execd.Result, 1)
	in := startFleet(b, func(r execd.Result) { results <- r })
	a, err := alert.Parse([]byte(`{"rule":{"id":"1","level":7},"agent":{"id":"000"},"data":{"srcip":"203.0.113.7"}}`))
	if err != nil {
		b.Fatal(err)
	}
	var delays []time.Duration
	for b.Loop() {
		t0 := time.Now()
		in.Ingest(context.Background(), []*alert.Alert{a}, api.IngestOptions{})
		r := <-results
		if r.Status != execd.StatusOK {
			b.Fatalf("result %+v", r)
		}
		delays = append(delays, r.Started.Sub(t0))
	}
	slices.Sort(delays)
	pct := func(p float64) float64 {
		return float64(delays[int(float64(len(delays)-1)*p)].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	if testing.Verbose() {
		fmt.Printf("alert→agent script started over %d runs: p50 %.0fµs p99 %.0fµs max %s\n", len(delays), pct(0.5), pct(0.99), delays[len(delays)-1])
	}
}
