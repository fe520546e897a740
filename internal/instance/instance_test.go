package instance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/config"
	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/fleet/manager"
)

const benchConf = `<ossec_config>
  <command><name>noop</name><executable>noop</executable><timeout_allowed>no</timeout_allowed></command>
  <active-response><command>noop</command><location>local</location><level>5</level></active-response>
  <riposte><http_listen>off</http_listen><api><listen>off</listen></api></riposte>
</ossec_config>`

// startInstance runs an instance with one stateless response on a script
// that exits at once.
func startInstance(tb testing.TB, onResult func(execd.Result)) *Instance {
	tb.Helper()
	in, stop := startInstanceIn(tb, tb.TempDir(), onResult)
	tb.Cleanup(stop)
	return in
}

// startInstanceIn runs the instance of startInstance in dir, until stop.
func startInstanceIn(tb testing.TB, dir string, onResult func(execd.Result)) (in *Instance, stop func()) {
	tb.Helper()
	cfg, _, err := config.Parse("bench.conf", []byte(benchConf))
	if err != nil {
		tb.Fatal(err)
	}
	bin := filepath.Join(dir, execd.BinDir)
	os.MkdirAll(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "noop"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		tb.Fatal(err)
	}
	in, err = New(cfg, Options{Dir: dir, OnResult: onResult})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	var once sync.Once
	return in, func() { once.Do(func() { cancel(); <-done }) }
}

func TestIngestRunsLocally(t *testing.T) {
	results := make(chan execd.Result, 4)
	in := startInstance(t, func(r execd.Result) { results <- r })
	a, err := alert.Parse([]byte(`{"rule":{"id":"1","level":7},"agent":{"id":"000"}}`))
	if err != nil {
		t.Fatal(err)
	}
	rep := in.Ingest(context.Background(), []*alert.Alert{a}, api.IngestOptions{})
	if len(rep) != 1 || len(rep[0].Decisions) != 1 || rep[0].Decisions[0].Delivery["000"] != manager.Sent {
		t.Fatalf("report %+v", rep)
	}
	select {
	case r := <-results:
		if r.Status != execd.StatusOK {
			t.Fatalf("result %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no result")
	}
	// An alert from another agent with location local is not deliverable here.
	b, _ := alert.Parse([]byte(`{"rule":{"id":"1","level":7},"agent":{"id":"004"}}`))
	rep = in.Ingest(context.Background(), []*alert.Alert{b}, api.IngestOptions{})
	if got := rep[0].Decisions[0].Delivery["004"]; !strings.HasPrefix(got, manager.NotDeliverable) {
		t.Fatalf("delivery to 004: %q", got)
	}
}

// BenchmarkAlertToScriptStarted measures the path from an alert accepted to
// the external script started, reporting the 50th and 99th percentiles.
func BenchmarkAlertToScriptStarted(b *testing.B) {
	results := make(chan execd.Result, 1)
	in := startInstance(b, func(r execd.Result) { results <- r })
	a, err := alert.Parse([]byte(`{"rule":{"id":"1","level":7},"agent":{"id":"000"},"data":{"srcip":"203.0.113.7"}}`))
	if err != nil {
		b.Fatal(err)
	}
	var delays []time.Duration
	for b.Loop() {
		in.Ingest(context.Background(), []*alert.Alert{a}, api.IngestOptions{})
		r := <-results
		if r.Status != execd.StatusOK {
			b.Fatalf("result %+v", r)
		}
		delays = append(delays, r.StartDelay)
	}
	slices.Sort(delays)
	pct := func(p float64) float64 {
		return float64(delays[int(float64(len(delays)-1)*p)].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	if testing.Verbose() {
		fmt.Printf("alert→script started over %d runs: p50 %.0fµs p99 %.0fµs max %s\n", len(delays), pct(0.5), pct(0.99), delays[len(delays)-1])
	}
}

// TestWhiteListHostResolved checks that a white-listed host name protects
// the addresses it resolves to.
func TestWhiteListHostResolved(t *testing.T) {
	dir := t.TempDir()
	cfg, _, err := config.Parse("wl.conf", []byte(`<ossec_config>
  <command><name>noop</name><executable>noop</executable><timeout_allowed>no</timeout_allowed></command>
  <active-response><command>noop</command><location>local</location><level>5</level></active-response>
  <global><white_list>localhost</white_list></global>
  <riposte><http_listen>off</http_listen><white_list_resolve_interval>1s</white_list_resolve_interval></riposte>
</ossec_config>`))
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(cfg, Options{Dir: dir, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	defer func() { cancel(); <-done }()
	a, _ := alert.Parse([]byte(`{"rule":{"id":"1","level":7},"data":{"srcip":"127.0.0.1"}}`))
	deadline := time.Now().Add(5 * time.Second)
	for {
		rep := in.Ingest(context.Background(), []*alert.Alert{a}, api.IngestOptions{})
		if rep[0].Decisions[0].Outcome == "allowlisted" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("localhost never protected 127.0.0.1: %+v", rep[0].Decisions[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
