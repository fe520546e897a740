//go:build linux

package action

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
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
	if got := nftListSet(t, ns, nftSet4); len(got) != 1 || got[0].Timeout != 2 {
		t.Fatalf("after add: %+v", got)
	}
	gone := func() bool { return len(nftListSet(t, ns, nftSet4)) == 0 }
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
	if got := nftListSet(t, ns, nftSet6); len(got) != 1 {
		t.Fatalf("%v after the first add: %+v", time.Since(start), got)
	}
	if !waitFor(5*time.Second, func() bool { return len(nftListSet(t, ns, nftSet6)) == 0 }) {
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
	inNetns(t, ns, "nft", "flush", "set", "inet", "riposte", "riposte_block4")
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
	if out := inNetns(t, ns, "nft", "list", "chain", "inet", "riposte", "riposte_input"); !strings.Contains(out, "ip saddr @riposte_block4 drop") {
		t.Fatalf("chain not rebuilt:\n%s", out)
	}
}

func TestNftOverlap(t *testing.T) {
	ns := newNetns(t)
	b := nftTestBackend(t, ns, &Env{Timeout: time.Hour})
	ctx := t.Context()
	texts := func() []string {
		var s []string
		for _, e := range nftListSet(t, ns, nftSet4) {
			s = append(s, e.Text)
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
	// A wider block replaces the narrower ones inside it.
	must(t, b.add(ctx, pfx("192.0.2.5/32")))
	must(t, b.add(ctx, pfx("192.0.2.128/25")))
	must(t, b.add(ctx, pfx("192.0.3.0/24"))) // adjacent, stays
	must(t, b.add(ctx, pfx("192.0.2.0/24")))
	if got := texts(); !slices.Equal(got, []string{"10.0.0.0/8", "192.0.2.0/24", "192.0.3.0/24"}) {
		t.Fatalf("set: %q", got)
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
	for _, set := range []string{nftSet4, nftSet6} {
		if got := nftListSet(t, ns, set); len(got) != 0 {
			t.Errorf("%s not empty: %+v", set, got)
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
	v4, v6 := nftListSet(t, ns, nftSet4), nftListSet(t, ns, nftSet6)
	if len(v4) != 3000-1+1+1 || len(v6) != 3000 {
		t.Fatalf("%d IPv4 and %d IPv6 elements", len(v4), len(v6))
	}
	for _, s := range []string{"10.0.5.1/32", "10.11.183.1/32", "172.16.0.1/32", "2001:db8::bb7/128"} {
		if ok, err := b.present(t.Context(), pfx(s)); err != nil || !ok {
			t.Errorf("%s: present = %v, %v", s, ok, err)
		}
	}
	if v4[0].Timeout != 3600 {
		t.Errorf("element timeout %d, want 3600", v4[0].Timeout)
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
	for _, set := range []string{nftSet4, nftSet6} {
		for _, e := range nftListSet(t, ns, set) {
			got = append(got, fmt.Sprintf("%s %ds", e.Text, e.Timeout))
		}
	}
	slices.Sort(got)
	want := []string{"10.0.0.0/8 3600s", "192.0.2.0/24 7200s", "198.51.100.7 3600s", "2001:db8:1::1 7200s", "2001:db8::/64 3600s", "203.0.113.0/24 7200s"}
	if !slices.Equal(got, want) {
		t.Fatalf("sets hold %q, want %q", got, want)
	}
	for _, s := range []string{"192.0.2.200/32", "192.0.2.5/32", "10.9.9.9/32", "203.0.113.255/32"} {
		if ok, err := b.present(ctx, pfx(s)); err != nil || !ok {
			t.Errorf("%s: present = %v, %v", s, ok, err)
		}
	}
	// A bulk straddling a range put in by hand is refused.
	inNetns(t, ns, "nft", "add", "element", "inet", "riposte", "riposte_block4", "{ 172.16.0.10-172.16.0.20 }")
	if err := b.AddMany(ctx, []netip.Prefix{pfx("172.16.0.16/28")}, 0); err == nil || !strings.Contains(err.Error(), "straddles") {
		t.Errorf("straddling bulk: %v", err)
	}
}

// TestNftRuleset compares the whole ruleset of the namespace with a golden
// file: Riposte's table layout, and another table left as it was. Run with
// -update-nft to rewrite the files.
func TestNftRuleset(t *testing.T) {
	const other = `table inet other {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 accept
	}
}
`
	tests := []struct {
		name string
		opts Options
	}{
		{"ruleset", Options{}},
		{"ruleset-output-ingress", Options{Output: true, Ingress: "rip0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNetns(t)
			requireProgram(t, "nft")
			if tt.opts.Ingress != "" {
				if out, err := netnsOutput(ns, "ip", "link", "add", tt.opts.Ingress, "type", "veth", "peer", "name", "rip1"); err != nil {
					t.Skipf("needs veth for the ingress device: %v: %s", err, out)
				}
			}
			f := filepath.Join(t.TempDir(), "other.nft")
			must(t, os.WriteFile(f, []byte(other), 0o600))
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
			golden := filepath.Join("testdata", "nft", tt.name+".nft")
			if *updateNft {
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

// TestNftMessageBytes pins the netlink messages Riposte builds itself,
// byte for byte (attribute headers in host order, as on amd64 and arm64).
func TestNftMessageBytes(t *testing.T) {
	if !littleEndian() {
		t.Skip("expected bytes are for little-endian hosts")
	}
	table := []byte{0x0c, 0x00, 0x01, 0x00, 'r', 'i', 'p', 'o', 's', 't', 'e', 0x00}                                        // NFTA_SET_ELEM_LIST_TABLE "riposte"
	set := []byte{0x13, 0x00, 0x02, 0x00, 'r', 'i', 'p', 'o', 's', 't', 'e', '_', 'b', 'l', 'o', 'c', 'k', '4', 0x00, 0x00} // NFTA_SET_ELEM_LIST_SET "riposte_block4", padded
	cat := func(bs ...[]byte) []byte { return slices.Concat(bs...) }

	// nft add element inet riposte riposte_block4 { 192.0.2.7 timeout 60s }
	m, err := nftSetElemsMsg(nftSet4, nftElems(pfx("192.0.2.7/32"), time.Minute), false, true)
	must(t, err)
	want := cat(
		[]byte{0x01, 0x00, 0x00, 0x00}, // nfgenmsg: NFPROTO_INET, v0, res 0
		table, set,
		[]byte{0x38, 0x00, 0x03, 0x80},                               // NFTA_SET_ELEM_LIST_ELEMENTS, nested, 56 bytes
		[]byte{0x1c, 0x00, 0x01, 0x80},                               //   element: the start
		[]byte{0x0c, 0x00, 0x01, 0x80},                               //     NFTA_SET_ELEM_KEY
		[]byte{0x08, 0x00, 0x01, 0x00, 192, 0, 2, 7},                 // NFTA_DATA_VALUE 192.0.2.7
		[]byte{0x0c, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0xea, 0x60}, // NFTA_SET_ELEM_TIMEOUT 60000 ms
		[]byte{0x18, 0x00, 0x01, 0x80},                               //   element: the interval end
		[]byte{0x08, 0x00, 0x03, 0x00, 0, 0, 0, 1},                   // NFTA_SET_ELEM_FLAGS NFT_SET_ELEM_INTERVAL_END
		[]byte{0x0c, 0x00, 0x01, 0x80},                               //     NFTA_SET_ELEM_KEY
		[]byte{0x08, 0x00, 0x01, 0x00, 192, 0, 2, 8},                 // NFTA_DATA_VALUE 192.0.2.8
	)
	if m.Header.Type != 0x0a0c || m.Header.Flags != 0x601 { // NFT_MSG_NEWSETELEM; REQUEST|CREATE|EXCL
		t.Errorf("add: type %#x flags %#x", m.Header.Type, m.Header.Flags)
	}
	if !slices.Equal(m.Data, want) {
		t.Errorf("add:\n% x\nwant\n% x", m.Data, want)
	}

	// nft delete element inet riposte riposte_block4 { 192.0.2.7 }
	m, err = nftSetElemsMsg(nftSet4, nftElems(pfx("192.0.2.7/32"), 0), true, false)
	must(t, err)
	want = cat(
		[]byte{0x01, 0x00, 0x00, 0x00},
		table, set,
		[]byte{0x2c, 0x00, 0x03, 0x80}, // NFTA_SET_ELEM_LIST_ELEMENTS, 44 bytes
		[]byte{0x10, 0x00, 0x01, 0x80, 0x0c, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00, 192, 0, 2, 7},
		[]byte{0x18, 0x00, 0x01, 0x80, 0x08, 0x00, 0x03, 0x00, 0, 0, 0, 1, 0x0c, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00, 192, 0, 2, 8},
	)
	if m.Header.Type != 0x0a0e || m.Header.Flags != 0x001 { // NFT_MSG_DELSETELEM; REQUEST
		t.Errorf("delete: type %#x flags %#x", m.Header.Type, m.Header.Flags)
	}
	if !slices.Equal(m.Data, want) {
		t.Errorf("delete:\n% x\nwant\n% x", m.Data, want)
	}

	// nft get element inet riposte riposte_block4 { 192.0.2.7 }
	m, err = nftGetElemsMsg(nftSet4, []netip.Addr{netip.MustParseAddr("192.0.2.7")})
	must(t, err)
	want = cat(
		[]byte{0x01, 0x00, 0x00, 0x00},
		table, set,
		[]byte{0x14, 0x00, 0x03, 0x80, 0x10, 0x00, 0x01, 0x80, 0x0c, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00, 192, 0, 2, 7},
	)
	if m.Header.Type != 0x0a0d || m.Header.Flags != 0x001 { // NFT_MSG_GETSETELEM; REQUEST
		t.Errorf("get: type %#x flags %#x", m.Header.Type, m.Header.Flags)
	}
	if !slices.Equal(m.Data, want) {
		t.Errorf("get:\n% x\nwant\n% x", m.Data, want)
	}
	if a, ok := parseElemKey(m.Data); !ok || a != netip.MustParseAddr("192.0.2.7") {
		t.Errorf("parseElemKey = %v, %v", a, ok)
	}
}

func littleEndian() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }
