package metrics

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// scrape fetches the handler's text exposition and returns the value of
// every sample, keyed by its series as written (name{label="value",...}).
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s: %s", resp.Status, b)
	}
	out := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCounters(t *testing.T) {
	m := New()
	m.Alert(SourceSocket)
	m.Alert(SourceSocket)
	m.Alert(SourceAlertsJSON)
	m.Alert("telnet") // not a source
	m.Malformed(SourceHTTP)
	m.Decision("run", time.Millisecond)
	m.Decision("allowlisted", 2*time.Millisecond)
	m.Decision("surprise", 0)
	m.Dispatch("001", "sent", time.Millisecond)
	m.Dispatch("002", "queued (agent disconnected)", time.Millisecond)
	m.Dispatch("003", "not deliverable: unknown agent", time.Millisecond)
	m.Dispatch("004", "failed: store down", time.Millisecond)
	m.Dispatch("005", "", time.Millisecond)
	m.Run("001", "firewall-drop", "add", "ok", 3*time.Millisecond, 20*time.Millisecond)
	m.Run("001", "firewall-drop", "add", "ok", time.Millisecond, time.Millisecond)
	m.Run("002", "firewall-drop", "delete", "failed", time.Millisecond, time.Millisecond)
	m.Run("002", "host deny; rm", "launch", "weird", time.Millisecond, time.Millisecond)
	m.Verified("firewall-drop", 30*time.Millisecond)

	got := scrape(t, m)
	want := map[string]float64{
		`riposte_alerts_total{source="socket"}`:                                     2,
		`riposte_alerts_total{source="alerts_json"}`:                                1,
		`riposte_alerts_total{source="other"}`:                                      1,
		`riposte_alerts_total{source="api"}`:                                        0,
		`riposte_alerts_malformed_total{source="http"}`:                             1,
		`riposte_alerts_malformed_total{source="socket"}`:                           0,
		`riposte_decisions_total{outcome="run"}`:                                    1,
		`riposte_decisions_total{outcome="allowlisted"}`:                            1,
		`riposte_decisions_total{outcome="other"}`:                                  1,
		`riposte_decisions_total{outcome="dry-run"}`:                                0,
		`riposte_dispatch_total{delivery="sent"}`:                                   1,
		`riposte_dispatch_total{delivery="queued"}`:                                 1,
		`riposte_dispatch_total{delivery="undeliverable"}`:                          1,
		`riposte_dispatch_total{delivery="failed"}`:                                 1,
		`riposte_dispatch_total{delivery="other"}`:                                  1,
		`riposte_runs_total{command="firewall-drop",status="ok",verb="add"}`:        2,
		`riposte_runs_total{command="firewall-drop",status="failed",verb="delete"}`: 1,
		`riposte_runs_total{command="other",status="other",verb="other"}`:           1,
		`riposte_verified_total{command="firewall-drop"}`:                           1,
		`riposte_latency_seconds_count{stage="decision"}`:                           3,
		`riposte_latency_seconds_sum{stage="decision"}`:                             0.003,
		`riposte_latency_seconds_bucket{stage="decision",le="0.0001"}`:              1,
		`riposte_latency_seconds_bucket{stage="decision",le="0.001"}`:               2,
		`riposte_latency_seconds_bucket{stage="decision",le="0.0025"}`:              3,
		`riposte_latency_seconds_bucket{stage="decision",le="+Inf"}`:                3,
		`riposte_latency_seconds_count{stage="dispatch"}`:                           5,
		`riposte_latency_seconds_count{stage="run_start"}`:                          4,
		`riposte_latency_seconds_count{stage="run"}`:                                4,
		`riposte_latency_seconds_bucket{stage="run",le="0.01"}`:                     3,
		`riposte_latency_seconds_bucket{stage="run",le="0.025"}`:                    4,
		`riposte_latency_seconds_count{stage="verified"}`:                           1,
		`riposte_latency_seconds_bucket{stage="verified",le="10"}`:                  1,
		`riposte_latency_seconds_bucket{stage="verified",le="0.025"}`:               0,
		`riposte_latency_seconds_bucket{stage="run_start",le="0.0025"}`:             3,
		`riposte_latency_seconds_bucket{stage="run_start",le="0.005"}`:              4,
		`riposte_latency_seconds_bucket{stage="dispatch",le="0.001"}`:               5,
		`riposte_latency_seconds_bucket{stage="dispatch",le="0.0005"}`:              0,
		`riposte_latency_seconds_bucket{stage="decision",le="0.00025"}`:             1,
		`riposte_latency_seconds_bucket{stage="decision",le="0.0005"}`:              1,
		`riposte_latency_seconds_bucket{stage="decision",le="5"}`:                   3,
		`riposte_latency_seconds_bucket{stage="run",le="0.001"}`:                    3,
		`riposte_latency_seconds_bucket{stage="run",le="0.0005"}`:                   0,
		`riposte_latency_seconds_bucket{stage="verified",le="0.05"}`:                1,
		`riposte_latency_seconds_bucket{stage="run_start",le="0.001"}`:              3,
		`riposte_latency_seconds_bucket{stage="run_start",le="0.0005"}`:             0,
	}
	for series, v := range want {
		g, ok := got[series]
		if !ok {
			t.Errorf("%s: missing", series)
			continue
		}
		if diff := g - v; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%s = %v, want %v", series, g, v)
		}
	}
	// No series for an odd value, and none with an agent label.
	for series := range got {
		if strings.Contains(series, "host deny") || strings.Contains(series, "telnet") || strings.Contains(series, "surprise") {
			t.Errorf("odd value kept as a label: %s", series)
		}
		if strings.HasPrefix(series, "riposte_") && !strings.HasPrefix(series, "riposte_active_responses") && strings.Contains(series, "agent=") {
			t.Errorf("agent label outside riposte_active_responses: %s", series)
		}
	}
	// The Go and process collectors are there.
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s: missing", name)
		}
	}
}

func TestScrapeAndCompare(t *testing.T) {
	m := New()
	m.Alert(SourceAnalysis)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	want := `
# HELP riposte_alerts_total Alerts accepted, by entry point.
# TYPE riposte_alerts_total counter
riposte_alerts_total{source="alerts_json"} 0
riposte_alerts_total{source="analysis"} 1
riposte_alerts_total{source="api"} 0
riposte_alerts_total{source="http"} 0
riposte_alerts_total{source="other"} 0
riposte_alerts_total{source="socket"} 0
`
	if err := testutil.ScrapeAndCompare(srv.URL, strings.NewReader(want), "riposte_alerts_total"); err != nil {
		t.Error(err)
	}
}

func TestCommandCap(t *testing.T) {
	m := New()
	for i := range maxCommands + 10 {
		m.Run("001", fmt.Sprintf("cmd%d", i), "add", "ok", 0, 0)
	}
	m.Run("001", "cmd0", "add", "ok", 0, 0) // one given out before the cap
	m.Verified(fmt.Sprintf("cmd%d", maxCommands+5), 0)
	m.Verified("cmd1", 0)

	got := scrape(t, m)
	n := 0
	for series := range got {
		if strings.HasPrefix(series, "riposte_runs_total{") {
			n++
		}
	}
	if n != maxCommands+1 {
		t.Errorf("%d series of riposte_runs_total, want %d", n, maxCommands+1)
	}
	for series, want := range map[string]float64{
		`riposte_runs_total{command="cmd0",status="ok",verb="add"}`:  2,
		`riposte_runs_total{command="other",status="ok",verb="add"}`: 10,
		`riposte_verified_total{command="other"}`:                    1,
		`riposte_verified_total{command="cmd1"}`:                     1,
	} {
		if got[series] != want {
			t.Errorf("%s = %v, want %v", series, got[series], want)
		}
	}
	if len(*m.runCache.Load()) != maxCommands {
		t.Errorf("run cache holds %d keys, want %d", len(*m.runCache.Load()), maxCommands)
	}
}

func TestActiveAndQueues(t *testing.T) {
	m := New()
	if got := scrape(t, m); hasPrefix(got, "riposte_active_responses") || hasPrefix(got, "riposte_queue_depth") {
		t.Fatal("gauges without a function have series")
	}
	active := map[ActiveKey]int{
		{Backend: "nftables", Agent: "001"}: 3,
		{Backend: "nftables", Agent: "002"}: 1,
		{Backend: "script", Agent: "001"}:   2,
		{Backend: "a b", Agent: "003"}:      4, // odd backend
		{Backend: "c{d}", Agent: "003"}:     1, // odd backend too: summed with the one above
	}
	m.SetActiveFunc(func() map[ActiveKey]int { return active })
	depth := 7
	m.SetQueueFunc("commands", func() int { return depth })
	m.SetQueueFunc("alerts", func() int { return 2 })

	got := scrape(t, m)
	for series, want := range map[string]float64{
		`riposte_active_responses{agent="001",backend="nftables"}`: 3,
		`riposte_active_responses{agent="002",backend="nftables"}`: 1,
		`riposte_active_responses{agent="001",backend="script"}`:   2,
		`riposte_active_responses{agent="003",backend="other"}`:    5,
		`riposte_queue_depth{queue="commands"}`:                    7,
		`riposte_queue_depth{queue="alerts"}`:                      2,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}

	// Computed at every scrape: a change shows, a removal leaves nothing.
	active = map[ActiveKey]int{{Backend: "nftables", Agent: "002"}: 9}
	depth = 0
	m.SetQueueFunc("alerts", nil)
	got = scrape(t, m)
	if v := got[`riposte_active_responses{agent="002",backend="nftables"}`]; v != 9 {
		t.Errorf("after change: %v, want 9", v)
	}
	if _, ok := got[`riposte_active_responses{agent="001",backend="nftables"}`]; ok {
		t.Error("a response no longer active is still reported")
	}
	if v, ok := got[`riposte_queue_depth{queue="commands"}`]; !ok || v != 0 {
		t.Errorf("commands queue = %v, %v; want 0", v, ok)
	}
	if _, ok := got[`riposte_queue_depth{queue="alerts"}`]; ok {
		t.Error("removed queue still reported")
	}
	m.SetActiveFunc(nil)
	if hasPrefix(scrape(t, m), "riposte_active_responses") {
		t.Error("active gauge reported after SetActiveFunc(nil)")
	}
}

func TestCapActive(t *testing.T) {
	in := make(map[ActiveKey]int)
	for i := range maxActiveSeries + 100 {
		in[ActiveKey{Backend: "nftables", Agent: fmt.Sprintf("%06d", i)}] = 1
	}
	in[ActiveKey{Backend: "script", Agent: "000001"}] = 5
	out := capActive(in)
	// The cap, plus one "other" series per backend.
	if len(out) != maxActiveSeries+2 {
		t.Fatalf("%d series, want %d", len(out), maxActiveSeries+2)
	}
	total := 0
	for _, n := range out {
		total += n
	}
	if total != maxActiveSeries+100+5 {
		t.Errorf("total %d, want %d: counts lost in capping", total, maxActiveSeries+105)
	}
	// Agents in order: the first ones keep their series, the last ones
	// and the script backend (after nftables) are summed.
	if out[ActiveKey{"nftables", "000000"}] != 1 {
		t.Error("first agent lost its series")
	}
	if got := out[ActiveKey{"nftables", Other}] + out[ActiveKey{"script", Other}]; got != 100+5 {
		t.Errorf("other = %d, want 105", got)
	}
}

func TestNil(t *testing.T) {
	var m *Metrics
	m.Alert(SourceAPI)
	m.Malformed(SourceAPI)
	m.Decision("run", time.Second)
	m.Dispatch("001", "sent", time.Second)
	m.Run("001", "x", "add", "ok", 0, 0)
	m.Verified("x", 0)
	m.SetActiveFunc(nil)
	m.SetQueueFunc("q", nil)
}

func TestRegistriesAreSeparate(t *testing.T) {
	a, b := New(), New()
	a.Alert(SourceAPI)
	if got := scrape(t, b)[`riposte_alerts_total{source="api"}`]; got != 0 {
		t.Errorf("second registry sees the first's alert: %v", got)
	}
}

func hasPrefix(series map[string]float64, prefix string) bool {
	for s := range series {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func BenchmarkDecision(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.Decision("run", 150*time.Microsecond)
	}
}

func BenchmarkRun(b *testing.B) {
	m := New()
	m.Run("001", "firewall-drop", "add", "ok", time.Millisecond, time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		m.Run("001", "firewall-drop", "add", "ok", time.Millisecond, 5*time.Millisecond)
	}
}

func BenchmarkRunParallel(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Run("001", "firewall-drop", "add", "ok", time.Millisecond, 5*time.Millisecond)
		}
	})
}

func BenchmarkDispatch(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.Dispatch("001", "queued (agent disconnected)", 200*time.Microsecond)
	}
}
