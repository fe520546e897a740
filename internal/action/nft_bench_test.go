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

// benchPrefixes returns n distinct IPv4 /32 prefixes in 10.0.0.0/8.
func benchPrefixes(n int) []netip.Prefix {
	ps := make([]netip.Prefix, n)
	for i := range ps {
		ps[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	return ps
}

// benchNets returns n distinct IPv4 /30 prefixes in 10.0.0.0/8 (n up to
// 4,194,304).
func benchNets(n int) []netip.Prefix {
	ps := make([]netip.Prefix, n)
	for i := range ps {
		ps[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 14), byte(i >> 6), byte(i << 2)}), 30)
	}
	return ps
}

// BenchmarkNftAdd blocks many addresses (or, for cidrs=N, /30 blocks) at
// once with AddMany, timeout included, into empty sets, read-back check
// included.
func BenchmarkNftAdd(b *testing.B) {
	for _, bc := range []struct {
		n    int
		nets bool
	}{{10000, false}, {100000, false}, {10000, true}, {100000, true}} {
		name, ps, set := "elements", benchPrefixes(bc.n), nftAddr4
		if bc.nets {
			name, ps, set = "cidrs", benchNets(bc.n), nftNet4
		}
		b.Run(fmt.Sprintf("%s=%d", name, bc.n), func(b *testing.B) {
			ns := newNetns(b)
			be := nftTestBackend(b, ns, &Env{})
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
			want := bc.n
			if !bc.nets {
				want++ // 192.0.2.1
			}
			if got := nftCount(b, ns, set); got != want {
				b.Fatalf("%d elements in %s, want %d", got, set, want)
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N*bc.n), "ns/element")
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/total")
		})
	}
}

// nftCount counts the elements of a set. Listing an interval set takes
// time quadratic in its size, so a hash set is counted with nft -j, and
// the interval set by looking up the first 131,072 /30s benchNets makes,
// each of which must be an interval's start to count.
func nftCount(b *testing.B, ns, set string) int {
	if set != nftNet4 {
		return len(nftListSet(b, ns, set))
	}
	s, err := openNftSession(ns)
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	ps := benchNets(1 << 17)
	addrs := make([]netip.Addr, len(ps))
	for i, p := range ps {
		addrs[i] = p.Addr()
	}
	got, err := s.lookup(set, addrs...)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for i, a := range got {
		if a == addrs[i] {
			n++
		}
	}
	return n
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// nftLatencyCase is one sub-benchmark of BenchmarkNftLatency.
type nftLatencyCase struct {
	mode    string // "process" or "netns-fd"
	preload int    // elements in place before the adds
	nets    bool   // the preload is /30 blocks rather than addresses
	cidr    bool   // the adds are /30 blocks rather than addresses
}

func (c nftLatencyCase) String() string {
	s := fmt.Sprintf("%s,set=%d", c.mode, c.preload)
	if c.nets {
		s = fmt.Sprintf("%s,nets=%d", c.mode, c.preload)
	}
	if c.cidr {
		s += ",add=cidr"
	}
	return s
}

// nftCidrOps caps the adds of a CIDR latency case, each of which costs the
// kernel time linear in the set's size.
const nftCidrOps = 200

// BenchmarkNftLatency times one block as execd makes it: a decision turned
// into a set element present in the kernel and read back (Add's lookups,
// one transaction, a lookup again), each op one new address. Run it with
// -benchtime=2000x or so: p50 and p99 come from the ops.
//
// "process" runs the adds in a child process started inside the test
// namespace, dialling netlink there as Riposte does in production;
// "netns-fd" runs them here, each session opening /run/netns/NAME as tests
// do, which adds a namespace switch per add. set=N preloads N addresses
// (the hash set), nets=N preloads N /30 blocks (the interval set, which an
// address add looks up). add=cidr adds /30 blocks instead of addresses, at
// most nftCidrOps of them: the kernel commits a change to an interval set
// in time linear in its size.
func BenchmarkNftLatency(b *testing.B) {
	for _, bc := range []nftLatencyCase{
		{mode: "process", preload: 0},
		{mode: "process", preload: 10000},
		{mode: "process", preload: 100000},
		{mode: "process", preload: 100000, nets: true},
		{mode: "netns-fd", preload: 0},
		{mode: "process", preload: 0, cidr: true},
		{mode: "process", preload: 10000, nets: true, cidr: true},
		{mode: "process", preload: 100000, nets: true, cidr: true},
	} {
		b.Run(bc.String(), func(b *testing.B) {
			ns := newNetns(b)
			requireProgram(b, "nft")
			n := b.N
			if bc.cidr {
				n = min(n, nftCidrOps)
			}
			var durs []time.Duration
			if bc.mode == "process" {
				durs = latencyInChild(b, ns, n, bc)
			} else {
				be := nftTestBackend(b, ns, &Env{Timeout: time.Hour})
				var err error
				durs, err = timeAdds(be, n, bc)
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
			b.ReportMetric(float64(durs[len(durs)-1].Nanoseconds())/1e3, "max-µs")
		})
	}
}

// timeAdds preloads the sets, adds one address to have the table in
// place, then times n adds of new addresses (or /30 blocks) outside the
// preload.
func timeAdds(be *nftBackend, n int, c nftLatencyCase) ([]time.Duration, error) {
	ctx := context.Background()
	preload := benchPrefixes(c.preload)
	if c.nets {
		preload = benchNets(c.preload)
	}
	if err := be.AddMany(ctx, append(preload, pfx("172.31.255.255/32")), time.Hour); err != nil {
		return nil, err
	}
	durs := make([]time.Duration, 0, n)
	for i := range n {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16 + byte(i>>16), byte(i >> 8), byte(i)}), 32)
		if c.cidr {
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16 + byte(i>>14), byte(i >> 6), byte(i << 2)}), 30)
		}
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
func latencyInChild(b *testing.B, ns string, n int, c nftLatencyCase) []time.Duration {
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNftLatencyChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), fmt.Sprintf("RIPOSTE_NFT_LATENCY=%d,%d,%d,%d", n, c.preload, b2i(c.nets), b2i(c.cidr)))
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
	var n, nets, cidr int
	var c nftLatencyCase
	if _, err := fmt.Sscanf(os.Getenv("RIPOSTE_NFT_LATENCY"), "%d,%d,%d,%d", &n, &c.preload, &nets, &cidr); err != nil {
		t.Skip("run by BenchmarkNftLatency")
	}
	c.nets, c.cidr = nets == 1, cidr == 1
	be := &nftBackend{connect: func() (*nftSession, error) { return openNftSession("") }, timeout: time.Hour}
	durs, err := timeAdds(be, n, c)
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
