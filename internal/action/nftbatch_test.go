//go:build linux

package action

import (
	"net/netip"
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
