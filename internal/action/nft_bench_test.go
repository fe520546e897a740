//go:build linux

package action

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchPrefixes returns n distinct IPv4 /32 prefixes.
func benchPrefixes(n int) []netip.Prefix {
	ps := make([]netip.Prefix, n)
	for i := range ps {
		ps[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	return ps
}

// BenchmarkNftAdd blocks many addresses at once with AddMany, timeout
// included, into an empty set, read-back check included.
func BenchmarkNftAdd(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("elements=%d", n), func(b *testing.B) {
			ns := newNetns(b)
			be := nftTestBackend(b, ns, &Env{})
			ps := benchPrefixes(n)
			ctx := context.Background()
			var total time.Duration
			for range b.N {
				b.StopTimer()
				inNetns(b, ns, "nft", "flush", "ruleset")
				be.ready = false
				must(b, be.AddMany(ctx, []netip.Prefix{pfx("192.0.2.1/32")}, 0)) // table in place
				b.StartTimer()
				start := time.Now()
				if err := be.AddMany(ctx, ps, time.Hour); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
			}
			b.StopTimer()
			if got := len(nftListSet(b, ns, nftSet4)); got != n+1 {
				b.Fatalf("%d elements, want %d", got, n+1)
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N*n), "ns/element")
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/total")
		})
	}
}

// BenchmarkNftLatency times one block as execd makes it: a decision turned
// into a set element present in the kernel and read back (Add's lookups,
// one transaction, lookups again), each op one new address. Run it with
// -benchtime=2000x or so: p50 and p99 come from the ops.
//
// "process" runs the adds in a child process started inside the test
// namespace, dialling netlink there as Riposte does in production;
// "netns-fd" runs them here, each session opening /run/netns/NAME as tests
// do, which adds a namespace switch per add. set=N preloads N elements:
// the kernel's commit of an interval set takes time linear in its size.
func BenchmarkNftLatency(b *testing.B) {
	for _, bc := range []struct {
		mode    string
		preload int
	}{
		{"process", 0},
		{"process", 10000},
		{"process", 100000},
		{"netns-fd", 0},
	} {
		b.Run(fmt.Sprintf("%s,set=%d", bc.mode, bc.preload), func(b *testing.B) {
			ns := newNetns(b)
			requireProgram(b, "nft")
			var durs []time.Duration
			if bc.mode == "process" {
				durs = latencyInChild(b, ns, b.N, bc.preload)
			} else {
				be := nftTestBackend(b, ns, &Env{Timeout: time.Hour})
				var err error
				durs, err = timeAdds(be, b.N, bc.preload)
				if err != nil {
					b.Fatal(err)
				}
			}
			slices.Sort(durs)
			var sum time.Duration
			for _, d := range durs {
				sum += d
			}
			b.ReportMetric(float64(sum.Nanoseconds())/float64(len(durs)), "ns/op")
			b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
}

// timeAdds preloads the set, adds one address to have the table in place,
// then times n adds of new addresses.
func timeAdds(be *nftBackend, n, preload int) ([]time.Duration, error) {
	ctx := context.Background()
	if err := be.AddMany(ctx, append(benchPrefixes(preload), pfx("172.31.255.255/32")), time.Hour); err != nil {
		return nil, err
	}
	durs := make([]time.Duration, 0, n)
	for i := range n {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16 + byte(i>>16), byte(i >> 8), byte(i)}), 32)
		start := time.Now()
		if err := be.add(ctx, p); err != nil {
			return nil, err
		}
		durs = append(durs, time.Since(start))
	}
	return durs, nil
}

// latencyInChild runs TestNftLatencyChild in a child process inside ns and
// returns the times it measured.
func latencyInChild(b *testing.B, ns string, n, preload int) []time.Duration {
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNftLatencyChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), fmt.Sprintf("RIPOSTE_NFT_LATENCY=%d,%d", n, preload))
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("child: %v\n%s", err, out)
	}
	_, line, ok := strings.Cut(string(out), "latency-ns: ")
	if !ok {
		b.Fatalf("child printed no times:\n%s", out)
	}
	line, _, _ = strings.Cut(line, "\n")
	var ns64 []int64
	if err := json.Unmarshal([]byte(line), &ns64); err != nil || len(ns64) != n {
		b.Fatalf("child times %q: %v", line, err)
	}
	durs := make([]time.Duration, n)
	for i, d := range ns64 {
		durs[i] = time.Duration(d)
	}
	return durs
}

// TestNftLatencyChild is BenchmarkNftLatency's child, started inside the
// benchmark's namespace; it is skipped otherwise.
func TestNftLatencyChild(t *testing.T) {
	var n, preload int
	if _, err := fmt.Sscanf(os.Getenv("RIPOSTE_NFT_LATENCY"), "%d,%d", &n, &preload); err != nil {
		t.Skip("run by BenchmarkNftLatency")
	}
	be := &nftBackend{connect: func() (*nftSession, error) { return openNftSession("") }, timeout: time.Hour}
	durs, err := timeAdds(be, n, preload)
	if err != nil {
		t.Fatal(err)
	}
	ns64 := make([]int64, len(durs))
	for i, d := range durs {
		ns64[i] = d.Nanoseconds()
	}
	out, _ := json.Marshal(ns64)
	fmt.Printf("latency-ns: %s\n", out)
}
