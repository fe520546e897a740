//go:build linux

package action

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNftConcurrentAdds blocks many addresses at once from separate runs
// sharing one process's state, as an attack from many addresses does: every
// address lands in its set with its own run's timeout, an address asked
// twice holds the longer timeout, one inside a CIDR block in place is left
// to it, and a re-add refreshes its element.
func TestNftConcurrentAdds(t *testing.T) {
	ns := newNetns(t)
	var shared Shared
	backend := func(timeout time.Duration) *nftBackend {
		return nftTestBackend(t, ns, &Env{Shared: &shared, Timeout: timeout})
	}
	if err := backend(time.Hour).add(t.Context(), pfx("10.9.0.0/16")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2000)
	for i := range 1500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			timeout := time.Hour
			if i%2 == 1 {
				timeout = 2 * time.Hour
			}
			a := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
			if i%3 == 0 {
				a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
			}
			errs <- backend(timeout).add(t.Context(), netip.PrefixFrom(a, a.BitLen()))
		}()
	}
	for _, s := range []string{"10.9.1.1/32", "192.0.2.50/32", "192.0.2.50/32"} {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- backend(3*time.Hour).add(t.Context(), pfx(s)) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); errs <- backend(time.Minute).add(t.Context(), pfx("192.0.2.50/32")) }()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	v4, v6 := nftListSet(t, ns, nftAddr4), nftListSet(t, ns, nftAddr6)
	if len(v4) != 1000+1 || len(v6) != 500 {
		t.Fatalf("%d IPv4 and %d IPv6 addresses in the sets, want 1001 and 500", len(v4), len(v6))
	}
	for _, e := range v4 {
		if e.Text == "10.9.1.1/32" || e.Text == "10.9.1.1" {
			t.Error("an address inside a CIDR block in place got its own element")
		}
		if (e.Text == "192.0.2.50/32" || e.Text == "192.0.2.50") && e.Timeout != 3*3600 {
			t.Errorf("an address asked twice holds timeout %d, want the longer %d", e.Timeout, 3*3600)
		}
	}
	// A re-add refreshes the element (deleted and added again).
	if err := backend(4*time.Hour).add(t.Context(), pfx("192.0.2.50/32")); err != nil {
		t.Fatal(err)
	}
	for _, e := range nftListSet(t, ns, nftAddr4) {
		if (e.Text == "192.0.2.50/32" || e.Text == "192.0.2.50") && e.Timeout != 4*3600 {
			t.Errorf("refreshed element holds timeout %d, want %d", e.Timeout, 4*3600)
		}
	}
}

func BenchmarkNftConcurrentAdds(b *testing.B) {
	ns := newNetns(b)
	var shared Shared
	be := nftTestBackend(b, ns, &Env{Shared: &shared, Timeout: time.Hour})
	i := 0
	b.SetParallelism(32)
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i++
			n := i
			mu.Unlock()
			a := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
			if err := be.add(b.Context(), netip.PrefixFrom(a, 32)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestNftBatchListsNets: a batch of many addresses checks the net set by
// listing it, unless it was found long lately, and gives the same result
// as the lookups: addresses a CIDR block holds get no element of their
// own, the others do, and a long set is remembered as such.
func TestNftBatchListsNets(t *testing.T) {
	ns := newNetns(t)
	b := nftTestBackend(t, ns, &Env{Timeout: time.Hour})
	for _, p := range []string{"10.9.0.0/16", "10.20.0.0/24", "2001:db8:9::/48"} {
		must(t, b.add(t.Context(), pfx(p)))
	}
	batch := func(first byte, n int) []*nftAddReq {
		var reqs []*nftAddReq
		for i := range n {
			a := netip.AddrFrom4([4]byte{10, first + byte(i%3)*10, byte(i >> 8), byte(i)})
			if i%4 == 0 {
				a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, first + byte(i%3)*10, 14: byte(i >> 8), 15: byte(i)})
			}
			reqs = append(reqs, &nftAddReq{addr: a, timeout: time.Hour})
		}
		return reqs
	}
	run := func(reqs []*nftAddReq, hint *nftNetsHint) {
		t.Helper()
		err := b.withLayout(t.Context(), func(s *nftSession) error {
			errs, err := s.addAddrBatch(reqs, hint)
			for a, e := range errs {
				t.Errorf("%s: %v", a, e)
			}
			return err
		})
		must(t, err)
	}
	// 300 addresses: 10.9.x.y, 10.19.x.y and 10.29.x.y, a quarter of them
	// IPv6 (2001:db8:9::, :19::, :29::); the 9s are inside a block.
	var hint nftNetsHint
	run(batch(9, 300), &hint)
	// The same with lookups, as after a long set was found.
	long := nftNetsHint{until: [2]time.Time{time.Now().Add(time.Hour), time.Now().Add(time.Hour)}}
	run(batch(9, 300)[:200], &long) // re-adds, checked by lookups
	v4, v6 := nftListSet(t, ns, nftAddr4), nftListSet(t, ns, nftAddr6)
	for _, e := range append(v4, v6...) {
		if strings.HasPrefix(e.Text, "10.9.") || strings.HasPrefix(e.Text, "2001:db8:9:") {
			t.Errorf("%s, inside a block, got its own element", e.Text)
		}
	}
	if len(v4)+len(v6) != 200 {
		t.Errorf("%d addresses of their own, want 200 (the 100 inside a block left out)", len(v4)+len(v6))
	}
	if !hint.until[0].IsZero() || !hint.until[1].IsZero() {
		t.Error("a net set of one interval was taken for long")
	}
	// Past nftListNetsMax intervals the set is remembered as long.
	for i := range nftListNetsMax + 1 {
		must(t, b.add(t.Context(), netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i), 0}), 24)))
	}
	run(batch(100, 100), &hint)
	if time.Until(hint.until[0]) < nftNetsRecheck-time.Second || hint.next[0] != 2*nftNetsRecheck {
		t.Errorf("a net set of %d intervals: taken for long until %s, next for %s", nftListNetsMax+2, hint.until[0], hint.next[0])
	}
	// Found long again: twice as long.
	hint.until[0] = time.Time{}
	run(batch(110, 100), &hint)
	if time.Until(hint.until[0]) < 2*nftNetsRecheck-time.Second || hint.next[0] != 4*nftNetsRecheck {
		t.Errorf("found long again: until %s, next for %s", hint.until[0], hint.next[0])
	}
}
