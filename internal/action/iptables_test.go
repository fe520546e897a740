package action

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// iptablesFake is a stateful iptables and ip6tables: -C answers from the
// rules inserted, -I and -D change them. It records every argv.
type iptablesFake struct {
	mu    sync.Mutex
	rules map[string]int // "prog chain spec..." -> copies
	calls []string
}

func (f *iptablesFake) Run(_ context.Context, _ []byte, name string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.Join(append([]string{name}, args...), " "))
	if name != "iptables" && name != "ip6tables" || len(args) < 3 || args[0] != "-w" {
		return nil, fmt.Errorf("%s: unexpected call", name)
	}
	key := name + " " + strings.Join(args[2:], " ")
	switch args[1] {
	case "-C":
		if f.rules[key] == 0 {
			return nil, errors.New("exit status 1: iptables: Bad rule (does a matching rule exist in that chain?).")
		}
	case "-I":
		f.rules[key]++
	case "-D":
		if f.rules[key] == 0 {
			return nil, errors.New("exit status 1: iptables: Bad rule")
		}
		f.rules[key]--
	default:
		return nil, fmt.Errorf("%s %s: unexpected", name, args[1])
	}
	return nil, nil
}

func (f *iptablesFake) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// TestIptablesArgv checks the exact commands: Wazuh's, with -w and a -C
// before each change.
func TestIptablesArgv(t *testing.T) {
	f := &iptablesFake{rules: map[string]int{}}
	act := newFirewallDrop(&Env{GOOS: "linux", Exec: f, Options: Options{Backend: "iptables"}})
	ctx := t.Context()
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"add", func() error { return act.Add(ctx, fwInput(t, Add, "192.0.2.7")) }, []string{
			"iptables -w -C INPUT -s 192.0.2.7 -j DROP",
			"iptables -w -I INPUT -s 192.0.2.7 -j DROP",
			"iptables -w -C INPUT -s 192.0.2.7 -j DROP",
			"iptables -w -C FORWARD -s 192.0.2.7 -j DROP",
			"iptables -w -I FORWARD -s 192.0.2.7 -j DROP",
			"iptables -w -C FORWARD -s 192.0.2.7 -j DROP",
		}},
		{"add again", func() error { return act.Add(ctx, fwInput(t, Add, "192.0.2.7")) }, []string{
			"iptables -w -C INPUT -s 192.0.2.7 -j DROP",
			"iptables -w -C FORWARD -s 192.0.2.7 -j DROP",
		}},
		{"delete a rule doubled by Wazuh's script", func() error {
			f.rules["iptables INPUT -s 192.0.2.7 -j DROP"]++
			return act.Delete(ctx, fwInput(t, Delete, "192.0.2.7"))
		}, []string{
			"iptables -w -C INPUT -s 192.0.2.7 -j DROP",
			"iptables -w -D INPUT -s 192.0.2.7 -j DROP",
			"iptables -w -C INPUT -s 192.0.2.7 -j DROP",
			"iptables -w -D INPUT -s 192.0.2.7 -j DROP",
			"iptables -w -C INPUT -s 192.0.2.7 -j DROP",
			"iptables -w -C FORWARD -s 192.0.2.7 -j DROP",
			"iptables -w -D FORWARD -s 192.0.2.7 -j DROP",
			"iptables -w -C FORWARD -s 192.0.2.7 -j DROP",
		}},
		{"delete again", func() error { return act.Delete(ctx, fwInput(t, Delete, "192.0.2.7")) }, []string{
			"iptables -w -C INPUT -s 192.0.2.7 -j DROP",
			"iptables -w -C FORWARD -s 192.0.2.7 -j DROP",
		}},
		{"IPv6 and mapped IPv4", func() error {
			return errors.Join(act.Add(ctx, fwInput(t, Add, "2001:DB8::0:7")), act.Add(ctx, fwInput(t, Add, "::ffff:203.0.113.9")))
		}, []string{
			"ip6tables -w -C INPUT -s 2001:db8::7 -j DROP",
			"ip6tables -w -I INPUT -s 2001:db8::7 -j DROP",
			"ip6tables -w -C INPUT -s 2001:db8::7 -j DROP",
			"ip6tables -w -C FORWARD -s 2001:db8::7 -j DROP",
			"ip6tables -w -I FORWARD -s 2001:db8::7 -j DROP",
			"ip6tables -w -C FORWARD -s 2001:db8::7 -j DROP",
			"iptables -w -C INPUT -s 203.0.113.9 -j DROP",
			"iptables -w -I INPUT -s 203.0.113.9 -j DROP",
			"iptables -w -C INPUT -s 203.0.113.9 -j DROP",
			"iptables -w -C FORWARD -s 203.0.113.9 -j DROP",
			"iptables -w -I FORWARD -s 203.0.113.9 -j DROP",
			"iptables -w -C FORWARD -s 203.0.113.9 -j DROP",
		}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := f.take(); !slices.Equal(got, st.want) {
			t.Errorf("%s:\n%s\nwant\n%s", st.name, strings.Join(got, "\n"), strings.Join(st.want, "\n"))
		}
	}
}

func TestIptablesOutput(t *testing.T) {
	f := &iptablesFake{rules: map[string]int{}}
	act := newFirewallDrop(&Env{GOOS: "linux", Exec: f, Options: Options{Backend: "iptables", Output: true}})
	if err := act.Add(t.Context(), fwInput(t, Add, "198.51.100.0/24")); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"iptables INPUT -s 198.51.100.0/24 -j DROP",
		"iptables FORWARD -s 198.51.100.0/24 -j DROP",
		"iptables OUTPUT -d 198.51.100.0/24 -j DROP",
	}
	for _, r := range want {
		if f.rules[r] != 1 {
			t.Errorf("rule %q: %d copies", r, f.rules[r])
		}
	}
}

func TestIptablesFailures(t *testing.T) {
	missing := &fakeRunner{answers: map[string]fakeAnswer{"iptables": {err: fmt.Errorf("iptables: %w", ErrNotFound)}}}
	act := newFirewallDrop(&Env{GOOS: "linux", Exec: missing, Options: Options{Backend: "iptables"}})
	if err := act.Add(t.Context(), fwInput(t, Add, "192.0.2.7")); !errors.Is(err, ErrNotFound) {
		t.Errorf("add without iptables: %v", err)
	}
	if err := act.Delete(t.Context(), fwInput(t, Delete, "192.0.2.7")); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete without iptables: %v", err)
	}
	// Inserting "works" but the rule never shows: the add fails.
	liar := &fakeRunner{answers: map[string]fakeAnswer{"iptables -w -C": {err: errors.New("exit status 1")}}}
	act = newFirewallDrop(&Env{GOOS: "linux", Exec: liar, Options: Options{Backend: "iptables"}})
	if err := act.Add(t.Context(), fwInput(t, Add, "192.0.2.7")); err == nil || !strings.Contains(err.Error(), "after inserting it") {
		t.Errorf("add not verified: %v", err)
	}
	// ipset: the entry never shows.
	act = newFirewallDrop(&Env{GOOS: "linux", Exec: &fakeRunner{answers: map[string]fakeAnswer{"ipset test": {err: errors.New("exit status 1")}}}, Options: Options{Backend: "ipset"}})
	if err := act.Add(t.Context(), fwInput(t, Add, "192.0.2.7")); err == nil || !strings.Contains(err.Error(), "after adding it") {
		t.Errorf("ipset add not verified: %v", err)
	}
}

func TestIpsetArgv(t *testing.T) {
	f := &fakeRunner{answers: map[string]fakeAnswer{"ipset test riposte4 192.0.2.7": {}, "iptables -w -C": {err: errors.New("exit status 1")}}}
	act := newFirewallDrop(&Env{GOOS: "linux", Exec: f, Timeout: 1500 * time.Millisecond, Options: Options{Backend: "ipset"}})
	if err := act.Add(t.Context(), fwInput(t, Add, "192.0.2.7")); err == nil {
		t.Fatal("rules never show, yet add worked")
	}
	want := []string{
		"ipset -exist create riposte4 hash:net family inet timeout 0",
		"iptables -w -C INPUT -m set --match-set riposte4 src -j DROP",
		"iptables -w -I INPUT -m set --match-set riposte4 src -j DROP",
		"iptables -w -C INPUT -m set --match-set riposte4 src -j DROP",
	}
	if got := f.argvs(); !slices.Equal(got, want) {
		t.Errorf("argv:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	f = &fakeRunner{answers: map[string]fakeAnswer{}}
	b := newIpsetBackend(&Env{Exec: f, Timeout: 1500 * time.Millisecond})
	b.ready[ipsetV6] = true
	if err := b.add(t.Context(), pfx("2001:db8::/64")); err != nil {
		t.Fatal(err)
	}
	if err := b.del(t.Context(), pfx("2001:db8::/64")); err == nil {
		t.Fatal("entry still there (test succeeds), yet delete worked")
	}
	want = []string{
		"ipset -exist add riposte6 2001:db8::/64 timeout 2",
		"ipset test riposte6 2001:db8::/64",
		"ipset -exist del riposte6 2001:db8::/64",
		"ipset test riposte6 2001:db8::/64",
	}
	if got := f.argvs(); !slices.Equal(got, want) {
		t.Errorf("argv:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestIpsetTimeout(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {-time.Second, 0}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2},
		{10 * time.Minute, 600}, {ipsetMaxTimeout * time.Second, ipsetMaxTimeout}, {(ipsetMaxTimeout + 1) * time.Second, 0},
	}
	for _, tt := range tests {
		if got := ipsetTimeout(tt.d); got != tt.want {
			t.Errorf("ipsetTimeout(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// BenchmarkIptablesAdd adds distinct addresses one by one with the iptables
// backend (six commands each: -C, -I, -C in INPUT and FORWARD), through
// "ip netns exec". ns/element and elements/s are averages; first100 and
// last100 are the time per element at the start and at the end, as
// iptables -C slows down with the number of rules.
func BenchmarkIptablesAdd(b *testing.B) {
	for _, n := range []int{2000} {
		b.Run(fmt.Sprintf("elements=%d", n), func(b *testing.B) {
			requireProgram(b, "iptables")
			ctx := context.Background()
			var total, first, last time.Duration
			for range b.N {
				b.StopTimer()
				ns := newNetns(b)
				be := newIptablesBackend(&Env{Exec: netnsRunner(ns)})
				b.StartTimer()
				start := time.Now()
				for i := range n {
					if i == 100 {
						first += time.Since(start)
					}
					if i == n-100 {
						last -= time.Since(start)
					}
					p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 32)
					if err := be.add(ctx, p); err != nil {
						b.Fatal(err)
					}
				}
				total += time.Since(start)
				last += time.Since(start)
			}
			perElem := total / time.Duration(b.N*n)
			b.ReportMetric(float64(perElem.Nanoseconds()), "ns/element")
			b.ReportMetric(float64(time.Second)/float64(perElem), "elements/s")
			b.ReportMetric(float64(first.Milliseconds())/float64(b.N*100), "ms/element-first100")
			b.ReportMetric(float64(last.Milliseconds())/float64(b.N*100), "ms/element-last100")
		})
	}
}
