package metrics

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// ActiveKey is a series of riposte_active_responses: the backend that
// carries the responses out ("builtin", "script", or an action's backend
// such as "nftables") and the agent id.
type ActiveKey struct {
	Backend, Agent string
}

// activeCollector computes riposte_active_responses at scrape time.
type activeCollector struct {
	desc *prometheus.Desc
	f    atomic.Pointer[func() map[ActiveKey]int]
}

func (c *activeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *activeCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.f.Load()
	if f == nil {
		return
	}
	for k, n := range capActive((*f)()) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k.Backend, k.Agent)
	}
}

// capActive makes label values safe and bounds the series: past
// maxActiveSeries, in backend then agent order, the counts are summed
// under agent Other.
func capActive(in map[ActiveKey]int) map[ActiveKey]int {
	out := make(map[ActiveKey]int, min(len(in), maxActiveSeries+8))
	for k, n := range in {
		out[ActiveKey{Backend: freeLabel(k.Backend), Agent: freeLabel(k.Agent)}] += n
	}
	if len(out) <= maxActiveSeries {
		return out
	}
	keys := make([]ActiveKey, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b ActiveKey) int {
		return cmp.Or(cmp.Compare(a.Backend, b.Backend), cmp.Compare(a.Agent, b.Agent))
	})
	capped := make(map[ActiveKey]int, maxActiveSeries+8)
	for _, k := range keys {
		if _, ok := capped[k]; !ok && len(capped) >= maxActiveSeries {
			// Summed under other, whose series may go past the cap by
			// one per backend.
			capped[ActiveKey{Backend: k.Backend, Agent: Other}] += out[k]
			continue
		}
		capped[k] += out[k]
	}
	return capped
}

// queueCollector reads riposte_queue_depth at scrape time.
type queueCollector struct {
	desc  *prometheus.Desc
	mu    sync.Mutex
	funcs map[string]func() int
}

func (c *queueCollector) set(name string, f func() int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f == nil {
		delete(c.funcs, name)
		return
	}
	c.funcs[name] = f
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	funcs := make(map[string]func() int, len(c.funcs))
	for k, f := range c.funcs {
		funcs[k] = f
	}
	c.mu.Unlock()
	// Called outside the lock: a queue's function may take its own.
	for name, f := range funcs {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(f()), name)
	}
}
