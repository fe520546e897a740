package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxErrorKinds bounds the distinct transport error messages a Report
// keeps; the rest are counted under "other".
const maxErrorKinds = 20

// Sample is the outcome of one request.
type Sample struct {
	// Latency is from sending the request to the end of the answer,
	// authenticating again included.
	Latency time.Duration
	// Status is the HTTP status; 0 when no answer was read.
	Status int
	// Err is why no answer was read.
	Err error
	// Codes are the Wazuh error codes in the answer: one per agent in
	// failed_items, or the code of an error answer.
	Codes []int
	// Failed marks a request that did not fully succeed: no answer, a
	// status other than 2xx, or a non-zero Wazuh "error".
	Failed bool
	// Items counts what the request achieved: agents the command was sent
	// to (put), items read (pages).
	Items int
}

// Report sums up a run.
type Report struct {
	Requests int `json:"requests"`
	OK       int `json:"ok"`
	Failed   int `json:"failed"`
	// Status counts answers by HTTP status, 0 for requests without one.
	Status map[int]int `json:"status"`
	// Codes counts Wazuh error codes (see Sample.Codes).
	Codes map[int]int `json:"error_codes,omitempty"`
	// Errors counts transport errors by message.
	Errors map[string]int `json:"errors,omitempty"`
	// Items sums Sample.Items.
	Items int `json:"items"`
	// Reauths is how many times the client authenticated again after a
	// 401.
	Reauths int64 `json:"reauths"`
	// Elapsed is the wall time of the run.
	Elapsed time.Duration `json:"-"`
	// Throughput is requests per second, ItemsPerSecond items per second.
	Throughput     float64 `json:"requests_per_second"`
	ItemsPerSecond float64 `json:"items_per_second"`
	Latency        Latency `json:"latency"`
	// What and ItemsName name the request and its items in the text
	// report ("PUT /active-response", "commands").
	What      string `json:"what"`
	ItemsName string `json:"items_name"`
}

// MarshalJSON adds the elapsed time in seconds.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		*plain
		ElapsedSeconds float64 `json:"elapsed_seconds"`
	}{(*plain)(r), r.Elapsed.Seconds()})
}

// Latency summarises latencies: nearest-rank percentiles.
type Latency struct {
	Min, Mean, P50, P90, P99, Max time.Duration
}

// MarshalJSON writes the latencies in milliseconds.
func (l Latency) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return json.Marshal(map[string]float64{
		"min_ms": ms(l.Min), "mean_ms": ms(l.Mean), "p50_ms": ms(l.P50),
		"p90_ms": ms(l.P90), "p99_ms": ms(l.P99), "max_ms": ms(l.Max),
	})
}

// Summarize computes the latency summary of ds, which it sorts.
func Summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{
		Min:  ds[0],
		Mean: sum / time.Duration(len(ds)),
		P50:  Percentile(ds, 50),
		P90:  Percentile(ds, 90),
		P99:  Percentile(ds, 99),
		Max:  ds[len(ds)-1],
	}
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value with at least p% of the values
// at or below it. It returns 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// op sends one request. worker is the worker's number; rng is the
// worker's own.
type op func(ctx context.Context, worker int, rng *rand.Rand) Sample

// run sends requests with clients concurrent workers, until requests are
// done or ctx ends, and sums them up.
func run(ctx context.Context, clients, requests int, do op) *Report {
	clients = max(1, min(clients, requests))
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		samples = make([][]Sample, clients)
	)
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for ctx.Err() == nil && next.Add(1) <= int64(requests) {
				samples[w] = append(samples[w], do(ctx, w, rng))
			}
		})
	}
	wg.Wait()
	return summarize(slices.Concat(samples...), time.Since(start))
}

// summarize builds the report of samples taken in elapsed.
func summarize(samples []Sample, elapsed time.Duration) *Report {
	r := &Report{Status: make(map[int]int), Codes: make(map[int]int), Errors: make(map[string]int), Elapsed: elapsed}
	lat := make([]time.Duration, 0, len(samples))
	for _, s := range samples {
		r.Requests++
		lat = append(lat, s.Latency)
		r.Status[s.Status]++
		for _, c := range s.Codes {
			r.Codes[c]++
		}
		if s.Err != nil {
			k := errorKind(s.Err)
			if _, ok := r.Errors[k]; !ok && len(r.Errors) >= maxErrorKinds {
				k = "other"
			}
			r.Errors[k]++
		}
		if s.Failed {
			r.Failed++
		} else {
			r.OK++
		}
		r.Items += s.Items
	}
	r.Latency = Summarize(lat)
	if elapsed > 0 {
		r.Throughput = float64(r.Requests) / elapsed.Seconds()
		r.ItemsPerSecond = float64(r.Items) / elapsed.Seconds()
	}
	return r
}

// errorKind names a transport error without the URL, which is the same
// for every request.
func errorKind(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timeout"
		}
		err = ue.Err
	}
	// Without the address, the same for every request.
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Op + ": " + oe.Err.Error()
	}
	return err.Error()
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s %d %s in %s (%.1f/s): %d ok, %d failed", "requests", r.Requests, r.What,
		r.Elapsed.Round(time.Millisecond), r.Throughput, r.OK, r.Failed)
	if r.Reauths > 0 {
		fmt.Fprintf(&b, ", %d re-authentications", r.Reauths)
	}
	b.WriteString("\n")
	if r.ItemsName != "" {
		fmt.Fprintf(&b, "%-9s %d (%.1f/s)\n", r.ItemsName, r.Items, r.ItemsPerSecond)
	}
	b.WriteString(line("status", r.Status, func(k int) string {
		if k == 0 {
			return "none"
		}
		return strconv.Itoa(k)
	}))
	b.WriteString(line("codes", r.Codes, strconv.Itoa))
	b.WriteString(line("errors", r.Errors, func(k string) string { return strconv.Quote(k) }))
	l := r.Latency
	fmt.Fprintf(&b, "%-9s min %s  mean %s  p50 %s  p90 %s  p99 %s  max %s\n", "latency",
		round(l.Min), round(l.Mean), round(l.P50), round(l.P90), round(l.P99), round(l.Max))
	_, err := io.WriteString(w, b.String())
	return err
}

// line formats counts by key, in key order; empty for no counts.
func line[K int | string](name string, counts map[K]int, key func(K) string) string {
	if len(counts) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, key(k)+": "+strconv.Itoa(counts[k]))
	}
	return fmt.Sprintf("%-9s %s\n", name, strings.Join(parts, ", "))
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
