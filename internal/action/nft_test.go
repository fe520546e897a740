//go:build linux

package action

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/riposte/riposte/internal/netnstest"
	"golang.org/x/sys/unix"
)

var updateNft = flag.Bool("update-nft", false, "rewrite testdata/nft golden files")

// nftTestBackend returns an nftables backend working in ns.
func nftTestBackend(t testing.TB, ns string, env *Env) *nftBackend {
	t.Helper()
	requireProgram(t, "nft")
	env.Exec = netnsRunner(ns)
	env.Options.Backend = "nftables"
	return newNftBackend(env)
}

// waitFor polls cond every 50ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func TestNftTimeoutExpires(t *testing.T) {
	ns := newNetns(t)
	b := nftTestBackend(t, ns, &Env{Timeout: 2 * time.Second})
	start := time.Now()
	if err := b.add(t.Context(), pfx("192.0.2.1/32")); err != nil {
		t.Fatal(err)
	}
	if got := nftListSet(t, ns, nftAddr4); len(got) != 1 || got[0].Timeout != 2 {
		t.Fatalf("after add: %+v", got)
	}
	gone := func() bool { return len(nftListSet(t, ns, nftAddr4)) == 0 }
	if !waitFor(5*time.Second, gone) {
		t.Fatalf("element still there after %v", time.Since(start))
	}
	if d := time.Since(start); d < 1900*time.Millisecond {
		t.Fatalf("element gone after %v, before its 2s timeout", d)
	}
	if ok, err := b.present(t.Context(), pfx("192.0.2.1/32")); err != nil || ok {
		t.Fatalf("present after expiry = %v, %v", ok, err)
	}
}

func TestNftRefresh(t *testing.T) {
	ns := newNetns(t)
	b := nftTestBackend(t, ns, &Env{Timeout: 2 * time.Second})
	p := pfx("2001:db8::5/128")
	start := time.Now()
	if err := b.add(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	if err := b.add(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	refreshed := time.Now()
	// Past the first timeout, the refreshed element is still there.
	time.Sleep(time.Until(start.Add(2500 * time.Millisecond)))
	if got := nftListSet(t, ns, nftAddr6); len(got) != 1 {
		t.Fatalf("%v after the first add: %+v", time.Since(start), got)
	}
	if !waitFor(5*time.Second, func() bool { return len(nftListSet(t, ns, nftAddr6)) == 0 }) {
		t.Fatal("refreshed element never expired")
	}
	if d := time.Since(refreshed); d < 1900*time.Millisecond {
		t.Fatalf("refreshed element gone %v after the refresh", d)
	}
}

func TestNftPresentAfterFlush(t *testing.T) {
	ns := newNetns(t)
	b := nftTestBackend(t, ns, &Env{})
	act := &firewallDrop{env: &Env{}, backend: b}
	ctx := t.Context()
	in := fwInput(t, Add, "192.0.2.44")
	present := func() bool {
		t.Helper()
		ok, err := act.Present(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if present() {
		t.Fatal("present before add")
	}
	if err := act.Add(ctx, in); err != nil {
		t.Fatal(err)
	}
	if !present() {
		t.Fatal("not present after add")
	}
	inNetns(t, ns, "nft", "flush", "set", "inet", "riposte", "riposte_addr4")
	if present() {
		t.Fatal("present after nft flush set")
	}
	if err := act.Add(ctx, in); err != nil {
		t.Fatal(err)
	}
	if !present() {
		t.Fatal("not present after add again")
	}
	// The whole ruleset goes (a firewall reload): the same action, which
	// thinks its table is there, builds it again.
	inNetns(t, ns, "nft", "flush", "ruleset")
	if present() {
		t.Fatal("present after nft flush ruleset")
	}
	if err := act.Delete(ctx, fwInput(t, Delete, "192.0.2.44")); err != nil {
		t.Fatalf("delete without table: %v", err)
	}
	if err := act.Add(ctx, in); err != nil {
		t.Fatal(err)
	}
	if !present() {
		t.Fatal("not present after add on a flushed ruleset")
	}
	out := inNetns(t, ns, "nft", "list", "chain", "inet", "riposte", "riposte_input")
	for _, r := range []string{"ip saddr @riposte_addr4 drop", "ip saddr @riposte_net4 drop", "ip6 saddr @riposte_addr6 drop", "ip6 saddr @riposte_net6 drop"} {
		if !strings.Contains(out, r) {
			t.Fatalf("chain not rebuilt: no %q:\n%s", r, out)
		}
	}
}

func TestNftOverlap(t *testing.T) {
	ns := newNetns(t)
	b := nftTestBackend(t, ns, &Env{Timeout: time.Hour})
	ctx := t.Context()
	texts := func() []string {
		var s []string
		for _, set := range []string{nftAddr4, nftNet4} {
			for _, e := range nftListSet(t, ns, set) {
				s = append(s, e.Text)
			}
		}
		slices.Sort(s)
		return s
	}
	// An address inside a wider block is already blocked.
	must(t, b.add(ctx, pfx("10.0.0.0/8")))
	must(t, b.add(ctx, pfx("10.1.2.3/32")))
	if ok, err := b.present(ctx, pfx("10.1.2.3/32")); err != nil || !ok {
		t.Fatalf("10.1.2.3 under 10.0.0.0/8: present = %v, %v", ok, err)
	}
	// Same start address, narrower block.
	must(t, b.add(ctx, pfx("10.0.0.0/32")))
	// Deleting the narrower block leaves the wider one.
	must(t, b.del(ctx, pfx("10.1.2.3/32")))
	must(t, b.del(ctx, pfx("10.0.0.0/32")))
	if got := texts(); !slices.Equal(got, []string{"10.0.0.0/8"}) {
		t.Fatalf("set: %q", got)
	}
	// A wider block replaces the narrower CIDR blocks inside it; an
	// address blocked on its own stays in its set.
	must(t, b.add(ctx, pfx("192.0.2.5/32")))
	must(t, b.add(ctx, pfx("192.0.2.128/25")))
	must(t, b.add(ctx, pfx("192.0.3.0/24"))) // adjacent, stays
	must(t, b.add(ctx, pfx("192.0.2.0/24")))
	if got := texts(); !slices.Equal(got, []string{"10.0.0.0/8", "192.0.2.0/24", "192.0.2.5", "192.0.3.0/24"}) {
		t.Fatalf("sets: %q", got)
	}
	for _, s := range []string{"192.0.2.5/32", "192.0.2.255/32", "192.0.3.0/24", "10.255.255.255/32"} {
		if ok, err := b.present(ctx, pfx(s)); err != nil || !ok {
			t.Errorf("%s: present = %v, %v", s, ok, err)
		}
	}
	for _, s := range []string{"192.0.4.0/32", "11.0.0.0/32", "9.255.255.255/32", "192.0.2.0/23"} {
		if ok, err := b.present(ctx, pfx(s)); err != nil || ok {
			t.Errorf("%s: present = %v, %v", s, ok, err)
		}
	}
	// Deleting the wider block leaves the address blocked on its own.
	must(t, b.del(ctx, pfx("192.0.2.0/24")))
	if ok, err := b.present(ctx, pfx("192.0.2.5/32")); err != nil || !ok {
		t.Errorf("192.0.2.5 after deleting 192.0.2.0/24: present = %v, %v", ok, err)
	}
	if ok, err := b.present(ctx, pfx("192.0.2.6/32")); err != nil || ok {
		t.Errorf("192.0.2.6 after deleting 192.0.2.0/24: present = %v, %v", ok, err)
	}
}

func TestNftEdges(t *testing.T) {
	ns := newNetns(t)
	b := nftTestBackend(t, ns, &Env{Timeout: time.Hour})
	ctx := t.Context()
	for _, s := range []string{
		"255.255.255.255/32", "255.255.255.0/24", "0.0.0.0/32", "0.0.0.0/8",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "::/128", "::/16", "2001:db8::/32",
	} {
		p := pfx(s)
		must(t, b.add(ctx, p))
		if ok, err := b.present(ctx, p); err != nil || !ok {
			t.Errorf("%s: present after add = %v, %v", s, ok, err)
		}
		must(t, b.add(ctx, p))
		must(t, b.del(ctx, p))
		if ok, err := b.present(ctx, p); err != nil || ok {
			t.Errorf("%s: present after delete = %v, %v", s, ok, err)
		}
		must(t, b.del(ctx, p))
	}
	for _, set := range nftSets() {
		if got := nftListSet(t, ns, set.Name); len(got) != 0 {
			t.Errorf("%s not empty: %+v", set.Name, got)
		}
	}
}

func TestNftAddMany(t *testing.T) {
	ns := newNetns(t)
	b := nftTestBackend(t, ns, &Env{})
	var ps []netip.Prefix
	for i := range 3000 {
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}), 32))
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)}), 128))
	}
	ps = append(ps, ps[:100]...)                  // duplicates
	ps = append(ps, pfx("10.0.5.0/24"))           // covers 10.0.5.1
	ps = append(ps, pfx("::ffff:172.16.0.1/128")) // mapped: IPv4
	if err := b.AddMany(t.Context(), ps, time.Hour); err != nil {
		t.Fatal(err)
	}
	v4, net4, v6 := nftListSet(t, ns, nftAddr4), nftListSet(t, ns, nftNet4), nftListSet(t, ns, nftAddr6)
	if len(v4) != 3000-1+1 || len(net4) != 1 || len(v6) != 3000 {
		t.Fatalf("%d IPv4 addresses, %d IPv4 networks and %d IPv6 addresses", len(v4), len(net4), len(v6))
	}
	for _, s := range []string{"10.0.5.1/32", "10.11.183.1/32", "172.16.0.1/32", "2001:db8::bb7/128"} {
		if ok, err := b.present(t.Context(), pfx(s)); err != nil || !ok {
			t.Errorf("%s: present = %v, %v", s, ok, err)
		}
	}
	if v4[0].Timeout != 3600 || net4[0].Timeout != 3600 {
		t.Errorf("element timeouts %d and %d, want 3600", v4[0].Timeout, net4[0].Timeout)
	}
	// Again: elements already there are not an error.
	if err := b.AddMany(t.Context(), ps[:10], time.Hour); err != nil {
		t.Fatal(err)
	}
}

// TestNftAddManyOverlap adds a bulk that overlaps blocks in place in every
// way: the same block, inside a wider one, holding narrower ones, and
// sharing an edge with one, which the kernel would otherwise merge wrongly.
func TestNftAddManyOverlap(t *testing.T) {
	ns := newNetns(t)
	b := nftTestBackend(t, ns, &Env{Timeout: time.Hour})
	ctx := t.Context()
	for _, s := range []string{"10.0.0.0/8", "192.0.2.5/32", "192.0.2.128/25", "198.51.100.7/32", "2001:db8::/64"} {
		must(t, b.add(ctx, pfx(s)))
	}
	bulk := []netip.Prefix{
		pfx("198.51.100.7/32"),  // the same
		pfx("10.9.9.9/32"),      // inside 10.0.0.0/8
		pfx("192.0.2.0/24"),     // holds 192.0.2.5 and shares an edge with 192.0.2.128/25
		pfx("203.0.113.0/24"),   // new
		pfx("2001:db8::99/128"), // inside 2001:db8::/64
		pfx("2001:db8:1::1/128"),
	}
	must(t, b.AddMany(ctx, bulk, 2*time.Hour))
	var got []string
	for _, set := range nftSets() {
		for _, e := range nftListSet(t, ns, set.Name) {
			got = append(got, fmt.Sprintf("%s %s %ds", set.Name, e.Text, e.Timeout))
		}
	}
	slices.Sort(got)
	want := []string{
		"riposte_addr4 192.0.2.5 3600s", // blocked on its own, under 192.0.2.0/24 now
		"riposte_addr4 198.51.100.7 3600s",
		"riposte_addr6 2001:db8:1::1 7200s",
		"riposte_net4 10.0.0.0/8 3600s",
		"riposte_net4 192.0.2.0/24 7200s",
		"riposte_net4 203.0.113.0/24 7200s",
		"riposte_net6 2001:db8::/64 3600s",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sets hold %q, want %q", got, want)
	}
	for _, s := range []string{"192.0.2.200/32", "192.0.2.5/32", "10.9.9.9/32", "203.0.113.255/32"} {
		if ok, err := b.present(ctx, pfx(s)); err != nil || !ok {
			t.Errorf("%s: present = %v, %v", s, ok, err)
		}
	}
	// A bulk straddling a range put in by hand is refused.
	inNetns(t, ns, "nft", "add", "element", "inet", "riposte", "riposte_net4", "{ 172.16.0.10-172.16.0.20 }")
	if err := b.AddMany(ctx, []netip.Prefix{pfx("172.16.0.16/28")}, 0); err == nil || !strings.Contains(err.Error(), "straddles") {
		t.Errorf("straddling bulk: %v", err)
	}
}

// nftLegacyLayout is the table as versions before the split into hash and
// interval sets left it, with blocks in it.
const nftLegacyLayout = `table inet riposte {
	set riposte_block4 {
		type ipv4_addr
		flags interval,timeout
		elements = { 192.0.2.99 timeout 1h, 10.0.0.0/8 timeout 1h }
	}
	set riposte_block6 {
		type ipv6_addr
		flags interval,timeout
		elements = { 2001:db8::99 timeout 1h }
	}
	chain riposte_input {
		type filter hook input priority filter - 10; policy accept;
		ip saddr @riposte_block4 drop
		ip6 saddr @riposte_block6 drop
	}
	chain riposte_forward {
		type filter hook forward priority filter - 10; policy accept;
		ip saddr @riposte_block4 drop
		ip6 saddr @riposte_block6 drop
	}
}
`

// TestNftRuleset compares the whole ruleset of the namespace with a golden
// file: Riposte's table layout, and another table left as it was. The
// migrate case starts from the layout of earlier versions and must end
// where a fresh start does. Run with -update-nft to rewrite the files.
func TestNftRuleset(t *testing.T) {
	const other = `table inet other {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 accept
	}
}
`
	tests := []struct {
		name   string
		golden string
		before string // ruleset loaded first, besides the other table
		opts   Options
	}{
		{"fresh", "ruleset", "", Options{}},
		{"output-ingress", "ruleset-output-ingress", "", Options{Output: true, Ingress: "rip0"}},
		{"migrate", "ruleset", nftLegacyLayout, Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNetns(t)
			requireProgram(t, "nft")
			if tt.opts.Ingress != "" {
				if out, err := netnstest.Output(ns, "ip", "link", "add", tt.opts.Ingress, "type", "veth", "peer", "name", "rip1"); err != nil {
					t.Skipf("needs veth for the ingress device: %v: %s", err, out)
				}
			}
			f := filepath.Join(t.TempDir(), "other.nft")
			must(t, os.WriteFile(f, []byte(other+tt.before), 0o600))
			inNetns(t, ns, "nft", "-f", f)
			before := inNetns(t, ns, "nft", "list", "table", "inet", "other")

			b := nftTestBackend(t, ns, &Env{Timeout: time.Hour, Options: tt.opts})
			for _, s := range []string{"192.0.2.7/32", "198.51.100.0/24", "2001:db8::7/128", "2001:db8:1::/48", "203.0.113.1/32"} {
				must(t, b.add(t.Context(), pfx(s)))
			}
			must(t, b.del(t.Context(), pfx("203.0.113.1/32")))

			if after := inNetns(t, ns, "nft", "list", "table", "inet", "other"); after != before {
				t.Errorf("table inet other changed:\n%s\nwas\n%s", after, before)
			}
			got := normaliseRuleset(inNetns(t, ns, "nft", "list", "ruleset"))
			golden := filepath.Join("testdata", "nft", tt.golden+".nft")
			if *updateNft && tt.before == "" {
				must(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				must(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update-nft to write it)", err)
			}
			if got != string(want) {
				t.Errorf("nft list ruleset differs from %s:\n%s", golden, got)
			}
		})
	}
}

var expiresRE = regexp.MustCompile(` expires [0-9hms]+`)

// normaliseRuleset drops what changes from run to run: the time left on
// elements, and the line breaks nft puts in long element lists.
func normaliseRuleset(s string) string {
	s = expiresRE.ReplaceAllString(s, "")
	return regexp.MustCompile(`,\n\s+`).ReplaceAllString(s, ", ")
}

func TestNftNetnsOf(t *testing.T) {
	tests := []struct {
		r    Runner
		want string
		err  bool
	}{
		{ExecRunner{}, "", false},
		{&ExecRunner{}, "", false},
		{(*ExecRunner)(nil), "", false},
		{&fakeRunner{}, "", false},
		{netnsRunner("t1"), "t1", false},
		{ExecRunner{Prefix: []string{"/usr/sbin/ip", "netns", "exec", "t2"}}, "t2", false},
		{ExecRunner{Prefix: []string{"ip", "netns", "exec", "../x"}}, "", true},
		{ExecRunner{Prefix: []string{"ip", "netns", "exec", ".."}}, "", true},
		{ExecRunner{Prefix: []string{"nsenter", "-t", "1", "-n"}}, "", true},
		{ExecRunner{Prefix: []string{"sudo"}}, "", true},
	}
	for _, tt := range tests {
		got, err := netnsOf(tt.r)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("netnsOf(%#v) = %q, %v; want %q, error %v", tt.r, got, err, tt.want, tt.err)
		}
	}
}

func TestNftElems(t *testing.T) {
	tests := []struct {
		p     string
		start string
		end   string // "" for none
	}{
		{"192.0.2.7/32", "192.0.2.7", "192.0.2.8"},
		{"198.51.100.0/24", "198.51.100.0", "198.51.101.0"},
		{"10.0.0.0/8", "10.0.0.0", "11.0.0.0"},
		{"192.0.2.255/32", "192.0.2.255", "192.0.3.0"},
		{"255.255.255.255/32", "255.255.255.255", ""},
		{"240.0.0.0/4", "240.0.0.0", ""},
		{"0.0.0.0/0", "0.0.0.0", ""},
		{"2001:db8::7/128", "2001:db8::7", "2001:db8::8"},
		{"2001:db8::/32", "2001:db8::", "2001:db9::"},
		{"2001:db8::ffff/128", "2001:db8::ffff", "2001:db8::1:0"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""},
	}
	for _, tt := range tests {
		es := nftElems(pfx(tt.p), time.Minute)
		want := []nftables.SetElement{{Key: netip.MustParseAddr(tt.start).AsSlice(), Timeout: time.Minute}}
		if tt.end != "" {
			want = append(want, nftables.SetElement{Key: netip.MustParseAddr(tt.end).AsSlice(), IntervalEnd: true})
		}
		if fmt.Sprint(es) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", tt.p, es, want)
		}
	}
}

func TestNftSplitPrefixes(t *testing.T) {
	in := []netip.Prefix{
		pfx("192.0.2.9/32"), pfx("10.1.2.3/8"), pfx("10.2.0.0/16"), pfx("192.0.2.9/32"),
		pfx("::ffff:198.51.100.1/128"), pfx("2001:db8::1/128"), pfx("2001:db8::/64"), {},
	}
	v4, v6 := splitPrefixes(in)
	if got := fmt.Sprint(v4); got != "[10.0.0.0/8 192.0.2.9/32 198.51.100.1/32]" {
		t.Errorf("v4 %s", got)
	}
	if got := fmt.Sprint(v6); got != "[2001:db8::/64]" {
		t.Errorf("v6 %s", got)
	}
}

func TestNftIntervals(t *testing.T) {
	el := func(s string, end bool) nftables.SetElement {
		return nftables.SetElement{Key: netip.MustParseAddr(s).AsSlice(), IntervalEnd: end}
	}
	a := netip.MustParseAddr
	// As the kernel dumps them: descending, with adjacent intervals and a
	// stray end left by an expired element.
	got := nftIntervals([]nftables.SetElement{
		el("255.255.255.255", false), el("11.0.0.0", true), el("10.0.0.0", false),
		el("10.0.0.0", true), el("9.0.0.0", false), el("1.2.3.5", true), el("0.0.0.9", true),
	})
	want := []nftInterval{
		{a("9.0.0.0"), a("9.255.255.255"), a("10.0.0.0")},
		{a("10.0.0.0"), a("10.255.255.255"), a("11.0.0.0")},
		{first: a("255.255.255.255"), last: a("255.255.255.255")},
	}
	if !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
}

func TestNftPlan(t *testing.T) {
	a := netip.MustParseAddr
	cur := []nftInterval{
		{a("10.0.0.0"), a("10.255.255.255"), a("11.0.0.0")},
		{a("192.0.2.5"), a("192.0.2.5"), a("192.0.2.6")},
		{a("192.0.2.128"), a("192.0.2.255"), a("192.0.3.0")},
		{a("198.51.100.10"), a("198.51.100.20"), a("198.51.100.21")}, // a range, by hand
	}
	tests := []struct {
		ps     []string
		add    string
		inside string
		err    string
	}{
		{ps: []string{"10.1.2.3/32", "10.0.0.0/8"}, add: "[]", inside: "[]"},
		{ps: []string{"192.0.2.5/32"}, add: "[]", inside: "[]"},
		{ps: []string{"192.0.2.4/32", "192.0.2.6/32"}, add: "[192.0.2.4/32 192.0.2.6/32]", inside: "[]"},
		{ps: []string{"192.0.2.0/24"}, add: "[192.0.2.0/24]", inside: "[192.0.2.5-192.0.2.5 192.0.2.128-192.0.2.255]"},
		{ps: []string{"8.0.0.0/6"}, add: "[8.0.0.0/6]", inside: "[10.0.0.0-10.255.255.255]"},
		{ps: []string{"198.51.100.16/28"}, err: "straddles"},
	}
	for _, tt := range tests {
		var ps []netip.Prefix
		for _, s := range tt.ps {
			ps = append(ps, pfx(s))
		}
		add, inside, err := nftPlan(cur, ps)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%v: error %v, want %q", tt.ps, err, tt.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(add) != tt.add || fmt.Sprint(inside) != tt.inside {
			t.Errorf("%v: %v %v %v; want %s %s", tt.ps, add, inside, err, tt.add, tt.inside)
		}
	}
}

// TestNftNetOverlap places CIDR blocks over others, narrow ones (found
// with a lookup per address) and wide ones (found by reading the set).
func TestNftNetOverlap(t *testing.T) {
	ns := newNetns(t)
	b := nftTestBackend(t, ns, &Env{Timeout: time.Hour})
	ctx := t.Context()
	nets := func() []string {
		var s []string
		for _, set := range []string{nftNet4, nftNet6} {
			for _, e := range nftListSet(t, ns, set) {
				s = append(s, e.Text)
			}
		}
		slices.Sort(s)
		return s
	}
	must(t, b.add(ctx, pfx("192.0.2.1/32"))) // the table
	inNetns(t, ns, "nft", "add", "element", "inet", "riposte", "riposte_net4", "{ 172.16.0.10-172.16.0.20 }")
	for _, s := range []string{"172.16.0.16/28", "172.16.0.8/29"} {
		if err := b.add(ctx, pfx(s)); err == nil || !strings.Contains(err.Error(), "straddles") {
			t.Errorf("%s over 172.16.0.10-172.16.0.20: %v", s, err)
		}
	}
	must(t, b.add(ctx, pfx("172.16.0.0/27")))
	must(t, b.add(ctx, pfx("10.1.0.0/16")))
	must(t, b.add(ctx, pfx("10.2.3.0/24")))
	must(t, b.add(ctx, pfx("10.0.0.0/8")))
	must(t, b.add(ctx, pfx("10.5.5.0/24"))) // inside 10.0.0.0/8: nothing
	must(t, b.add(ctx, pfx("255.255.255.254/31")))
	must(t, b.add(ctx, pfx("255.255.255.252/30")))
	must(t, b.add(ctx, pfx("::2/127")))
	must(t, b.add(ctx, pfx("::/126")))
	must(t, b.add(ctx, pfx("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/126")))
	must(t, b.add(ctx, pfx("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124")))
	want := []string{"10.0.0.0/8", "172.16.0.0/27", "255.255.255.252/30", "::/126", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124"}
	if got := nets(); !slices.Equal(got, want) {
		t.Fatalf("net sets hold %q, want %q", got, want)
	}
	for _, s := range []string{"172.16.0.31/32", "10.255.0.0/16", "255.255.255.255/32", "::3/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"} {
		if ok, err := b.present(ctx, pfx(s)); err != nil || !ok {
			t.Errorf("%s: present = %v, %v", s, ok, err)
		}
	}
}

func TestNftScanned(t *testing.T) {
	a := netip.MustParseAddr
	p := pfx("192.0.2.0/29")
	var addrs []netip.Addr
	for i := range 9 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}))
	}
	starts := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			if s == "" {
				out = append(out, netip.Addr{})
			} else {
				out = append(out, a("192.0.2."+s))
			}
		}
		return out
	}
	tests := []struct {
		starts []netip.Addr
		ivs    string
		plan   string
	}{
		{starts("", "1", "1", "", "", "", "", "", ""), "[192.0.2.1-192.0.2.2]", "[192.0.2.0/29] [192.0.2.1-192.0.2.2]"},
		{starts("", "1", "1", "3", "", "5", "5", "5", ""), "[192.0.2.1-192.0.2.2 192.0.2.3-192.0.2.3 192.0.2.5-192.0.2.7]", "[192.0.2.0/29] [192.0.2.1-192.0.2.2 192.0.2.3-192.0.2.3 192.0.2.5-192.0.2.7]"},
		{starts("", "", "", "", "", "5", "5", "5", "5"), "[192.0.2.5-192.0.2.8]", "straddles"},
		{starts("", "", "", "", "", "", "", "", "8"), "[]", "[192.0.2.0/29] []"},
	}
	for _, tt := range tests {
		ivs := nftScanned(p, addrs, tt.starts)
		if got := fmt.Sprint(ivs); got != tt.ivs {
			t.Errorf("%v: intervals %s, want %s", tt.starts, got, tt.ivs)
		}
		for _, iv := range ivs {
			if iv.end != iv.last.Next() {
				t.Errorf("%v: end %v", iv, iv.end)
			}
		}
		add, inside, err := nftPlan(ivs, []netip.Prefix{p})
		got := fmt.Sprint(add, " ", inside)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tt.plan) {
			t.Errorf("%v: plan %s, want %s", tt.starts, got, tt.plan)
		}
	}
	// An interval before p running into it.
	ivs := nftScanned(p, addrs, []netip.Addr{a("192.0.1.0"), a("192.0.1.0"), {}, {}, {}, {}, {}, {}, {}})
	if _, _, err := nftPlan(ivs, []netip.Prefix{p}); err == nil || !strings.Contains(err.Error(), "straddles") {
		t.Errorf("%v: %v", ivs, err)
	}
}

// TestNftMessageBytes pins the netlink messages Riposte builds itself,
// byte for byte (attribute headers in host order, as on amd64 and arm64).
func TestNftMessageBytes(t *testing.T) {
	if !littleEndian() {
		t.Skip("expected bytes are for little-endian hosts")
	}
	table := []byte{0x0c, 0x00, 0x01, 0x00, 'r', 'i', 'p', 'o', 's', 't', 'e', 0x00}                                           // NFTA_SET_ELEM_LIST_TABLE "riposte"
	addr4 := []byte{0x12, 0x00, 0x02, 0x00, 'r', 'i', 'p', 'o', 's', 't', 'e', '_', 'a', 'd', 'd', 'r', '4', 0x00, 0x00, 0x00} // NFTA_SET_ELEM_LIST_SET "riposte_addr4", padded
	net4 := []byte{0x11, 0x00, 0x02, 0x00, 'r', 'i', 'p', 'o', 's', 't', 'e', '_', 'n', 'e', 't', '4', 0x00, 0x00, 0x00, 0x00} // NFTA_SET_ELEM_LIST_SET "riposte_net4", padded
	cat := func(bs ...[]byte) []byte { return slices.Concat(bs...) }
	a := netip.MustParseAddr("192.0.2.7")

	// nft add element inet riposte riposte_addr4 { 192.0.2.7 timeout 60s }
	m, err := nftSetElemsMsg(nftAddr4, []nftables.SetElement{nftAddrElem(a, time.Minute)}, false, true)
	must(t, err)
	want := cat(
		[]byte{0x01, 0x00, 0x00, 0x00}, // nfgenmsg: NFPROTO_INET, v0, res 0
		table, addr4,
		[]byte{0x20, 0x00, 0x03, 0x80},                               // NFTA_SET_ELEM_LIST_ELEMENTS, nested, 32 bytes
		[]byte{0x1c, 0x00, 0x01, 0x80},                               //   element
		[]byte{0x0c, 0x00, 0x01, 0x80},                               //     NFTA_SET_ELEM_KEY
		[]byte{0x08, 0x00, 0x01, 0x00, 192, 0, 2, 7},                 // NFTA_DATA_VALUE 192.0.2.7
		[]byte{0x0c, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0xea, 0x60}, // NFTA_SET_ELEM_TIMEOUT 60000 ms
	)
	if m.Header.Type != 0x0a0c || m.Header.Flags != 0x601 { // NFT_MSG_NEWSETELEM; REQUEST|CREATE|EXCL
		t.Errorf("add: type %#x flags %#x", m.Header.Type, m.Header.Flags)
	}
	if !slices.Equal(m.Data, want) {
		t.Errorf("add:\n% x\nwant\n% x", m.Data, want)
	}

	// nft delete element inet riposte riposte_addr4 { 192.0.2.7 }
	m, err = nftSetElemsMsg(nftAddr4, []nftables.SetElement{nftAddrElem(a, 0)}, true, false)
	must(t, err)
	want = cat(
		[]byte{0x01, 0x00, 0x00, 0x00},
		table, addr4,
		[]byte{0x14, 0x00, 0x03, 0x80}, // NFTA_SET_ELEM_LIST_ELEMENTS, 20 bytes
		[]byte{0x10, 0x00, 0x01, 0x80, 0x0c, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00, 192, 0, 2, 7},
	)
	if m.Header.Type != 0x0a0e || m.Header.Flags != 0x001 { // NFT_MSG_DELSETELEM; REQUEST
		t.Errorf("delete: type %#x flags %#x", m.Header.Type, m.Header.Flags)
	}
	if !slices.Equal(m.Data, want) {
		t.Errorf("delete:\n% x\nwant\n% x", m.Data, want)
	}

	// nft add element inet riposte riposte_net4 { 198.51.100.0/24 timeout 60s }
	m, err = nftSetElemsMsg(nftNet4, nftElems(pfx("198.51.100.0/24"), time.Minute), false, false)
	must(t, err)
	want = cat(
		[]byte{0x01, 0x00, 0x00, 0x00},
		table, net4,
		[]byte{0x38, 0x00, 0x03, 0x80},                               // NFTA_SET_ELEM_LIST_ELEMENTS, nested, 56 bytes
		[]byte{0x1c, 0x00, 0x01, 0x80},                               //   element: the start
		[]byte{0x0c, 0x00, 0x01, 0x80},                               //     NFTA_SET_ELEM_KEY
		[]byte{0x08, 0x00, 0x01, 0x00, 198, 51, 100, 0},              // NFTA_DATA_VALUE 198.51.100.0
		[]byte{0x0c, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0xea, 0x60}, // NFTA_SET_ELEM_TIMEOUT 60000 ms
		[]byte{0x18, 0x00, 0x01, 0x80},                               //   element: the interval end
		[]byte{0x08, 0x00, 0x03, 0x00, 0, 0, 0, 1},                   // NFTA_SET_ELEM_FLAGS NFT_SET_ELEM_INTERVAL_END
		[]byte{0x0c, 0x00, 0x01, 0x80},                               //     NFTA_SET_ELEM_KEY
		[]byte{0x08, 0x00, 0x01, 0x00, 198, 51, 101, 0},              // NFTA_DATA_VALUE 198.51.101.0
	)
	if m.Header.Type != 0x0a0c || m.Header.Flags != 0x401 { // NFT_MSG_NEWSETELEM; REQUEST|CREATE
		t.Errorf("add interval: type %#x flags %#x", m.Header.Type, m.Header.Flags)
	}
	if !slices.Equal(m.Data, want) {
		t.Errorf("add interval:\n% x\nwant\n% x", m.Data, want)
	}

	// nft get element inet riposte riposte_addr4 { 192.0.2.7 }
	m, err = nftGetElemsMsg(nftAddr4, []netip.Addr{a})
	must(t, err)
	want = cat(
		[]byte{0x01, 0x00, 0x00, 0x00},
		table, addr4,
		[]byte{0x14, 0x00, 0x03, 0x80, 0x10, 0x00, 0x01, 0x80, 0x0c, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00, 192, 0, 2, 7},
	)
	if m.Header.Type != 0x0a0d || m.Header.Flags != 0x001 { // NFT_MSG_GETSETELEM; REQUEST
		t.Errorf("get: type %#x flags %#x", m.Header.Type, m.Header.Flags)
	}
	if !slices.Equal(m.Data, want) {
		t.Errorf("get:\n% x\nwant\n% x", m.Data, want)
	}
	if got, ok := parseElemKey(m.Data); !ok || got != a {
		t.Errorf("parseElemKey = %v, %v", got, ok)
	}
}

func littleEndian() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }

// TestNftAddrAndNet blocks an address and a CIDR block of each family, sees
// packets from them dropped and others not, and removes the blocks. A CIDR
// block over an address blocked on its own does not take the address with
// it when deleted.
func TestNftAddrAndNet(t *testing.T) {
	ns := newNetns(t)
	b := nftTestBackend(t, ns, &Env{Timeout: time.Hour})
	ctx := t.Context()
	probe := newNftProbe(t, ns, "192.0.2.7", "198.51.100.9", "203.0.113.1", "2001:db8::7", "2001:db8:1::9", "2001:db8:2::1")
	expect := func(step string, blocked ...string) {
		t.Helper()
		slices.Sort(blocked)
		if got := probe.blocked(t); !slices.Equal(got, blocked) {
			t.Fatalf("%s: packets dropped from %q, want %q", step, got, blocked)
		}
	}
	held := func(step, set string, want ...string) {
		t.Helper()
		var got []string
		for _, e := range nftListSet(t, ns, set) {
			got = append(got, e.Text)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %s holds %q, want %q", step, set, got, want)
		}
	}
	present := func(step string, want bool, ps ...string) {
		t.Helper()
		for _, s := range ps {
			if ok, err := b.present(ctx, pfx(s)); err != nil || ok != want {
				t.Fatalf("%s: %s: present = %v, %v; want %v", step, s, ok, err, want)
			}
		}
	}
	blocks := []string{"192.0.2.7/32", "198.51.100.0/24", "2001:db8::7/128", "2001:db8:1::/48"}

	expect("before")
	for _, s := range blocks {
		must(t, b.add(ctx, pfx(s)))
	}
	held("add", nftAddr4, "192.0.2.7")
	held("add", nftNet4, "198.51.100.0/24")
	held("add", nftAddr6, "2001:db8::7")
	held("add", nftNet6, "2001:db8:1::/48")
	present("add", true, append(blocks, "198.51.100.9/32", "2001:db8:1::9/128")...)
	present("add", false, "203.0.113.1/32", "2001:db8:2::1/128", "198.51.100.0/23")
	expect("add", "192.0.2.7", "198.51.100.9", "2001:db8::7", "2001:db8:1::9")

	// A CIDR block over 192.0.2.7, deleted: 192.0.2.7 stays blocked.
	must(t, b.add(ctx, pfx("192.0.2.0/24")))
	held("add 192.0.2.0/24", nftNet4, "192.0.2.0/24", "198.51.100.0/24")
	must(t, b.del(ctx, pfx("192.0.2.0/24")))
	held("delete 192.0.2.0/24", nftAddr4, "192.0.2.7")
	held("delete 192.0.2.0/24", nftNet4, "198.51.100.0/24")
	present("delete 192.0.2.0/24", true, "192.0.2.7/32")
	expect("delete 192.0.2.0/24", "192.0.2.7", "198.51.100.9", "2001:db8::7", "2001:db8:1::9")

	for _, s := range blocks {
		must(t, b.del(ctx, pfx(s)))
		must(t, b.del(ctx, pfx(s)))
	}
	for _, set := range nftSets() {
		held("delete", set.Name)
	}
	present("delete", false, append(blocks, "198.51.100.9/32", "2001:db8:1::9/128")...)
	expect("delete")
}

// TestNftMigrateFlags finds one of its sets with other flags (made by hand,
// or by a version that got them wrong) and makes it again.
func TestNftMigrateFlags(t *testing.T) {
	ns := newNetns(t)
	b := nftTestBackend(t, ns, &Env{Timeout: time.Hour})
	f := filepath.Join(t.TempDir(), "old.nft")
	must(t, os.WriteFile(f, []byte(`table inet riposte {
	set riposte_addr4 {
		type ipv4_addr
		flags interval
		elements = { 192.0.2.99, 10.0.0.0/8 }
	}
	chain riposte_input {
		type filter hook input priority filter - 10; policy accept;
		ip saddr @riposte_addr4 drop
		tcp dport 22 counter
	}
}
`), 0o600))
	inNetns(t, ns, "nft", "-f", f)
	must(t, b.add(t.Context(), pfx("192.0.2.1/32")))
	set := inNetns(t, ns, "nft", "list", "set", "inet", "riposte", nftAddr4)
	if !strings.Contains(set, "flags timeout\n") || strings.Contains(set, "192.0.2.99") {
		t.Errorf("set not made again:\n%s", set)
	}
	if got := nftListSet(t, ns, nftAddr4); len(got) != 1 || got[0].Text != "192.0.2.1" {
		t.Errorf("set holds %+v", got)
	}
	chain := inNetns(t, ns, "nft", "list", "chain", "inet", "riposte", nftChainInput)
	for _, r := range []string{"ip saddr @riposte_addr4 drop", "ip saddr @riposte_net4 drop", "ip6 saddr @riposte_addr6 drop", "ip6 saddr @riposte_net6 drop", "tcp dport 22 counter"} {
		if n := strings.Count(chain, r); n != 1 {
			t.Errorf("%d rules %q in chain:\n%s", n, r, chain)
		}
	}
}

// nftProbe sends UDP packets from addresses of the loopback interface of a
// namespace to a socket there, to see which the input chain drops.
type nftProbe struct {
	recv  *net.UDPConn
	send  map[string]*net.UDPConn // by source address
	round int
}

func newNftProbe(t *testing.T, ns string, srcs ...string) *nftProbe {
	t.Helper()
	for _, s := range srcs {
		a := netip.MustParseAddr(s)
		args := []string{"ip", "addr", "add", netip.PrefixFrom(a, a.BitLen()).String(), "dev", "lo"}
		if a.Is6() {
			args = append(args, "nodad")
		}
		inNetns(t, ns, args...)
	}
	p := &nftProbe{send: map[string]*net.UDPConn{}}
	t.Cleanup(func() {
		for _, c := range p.send {
			c.Close()
		}
		if p.recv != nil {
			p.recv.Close()
		}
	})
	err := inNetnsThread(ns, func() error {
		var err error
		if p.recv, err = net.ListenUDP("udp", &net.UDPAddr{}); err != nil { // both families
			return err
		}
		port := p.recv.LocalAddr().(*net.UDPAddr).Port
		for _, s := range srcs {
			src := netip.MustParseAddr(s)
			dst := netip.MustParseAddr("127.0.0.1")
			if src.Is6() {
				dst = netip.IPv6Loopback()
			}
			c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, uint16(port))))
			if err != nil {
				return err
			}
			p.send[s] = c
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// blocked sends a packet from every source and returns, sorted, the
// sources whose packet did not arrive within 300ms.
func (p *nftProbe) blocked(t *testing.T) []string {
	t.Helper()
	p.round++
	payload := fmt.Sprintf("probe %d", p.round)
	for _, c := range p.send {
		if _, err := c.Write([]byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	arrived := map[string]bool{}
	must(t, p.recv.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	buf := make([]byte, 64)
	for len(arrived) < len(p.send) {
		n, from, err := p.recv.ReadFromUDPAddrPort(buf)
		if err != nil {
			break // the deadline
		}
		if string(buf[:n]) == payload {
			arrived[from.Addr().Unmap().String()] = true
		}
	}
	var out []string
	for s := range p.send {
		if !arrived[s] {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// inNetnsThread runs fn on a thread moved into the namespace, so that the
// sockets fn opens belong to it; they stay there when the thread goes back.
// A thread that cannot go back ends with its goroutine.
func inNetnsThread(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		back, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer back.Close()
		to, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer to.Close()
		if err := unix.Setns(int(to.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		err = fn()
		if unix.Setns(int(back.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
