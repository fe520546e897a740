package respond

import (
	"net/netip"
	"testing"
)

func TestAllowlistAddRemove(t *testing.T) {
	al := NewAllowlist(nil)
	ip := netip.MustParseAddr
	al.Add(netip.MustParsePrefix("10.1.0.0/16"), "api: lab")
	al.Add(netip.MustParsePrefix("::ffff:192.0.2.9/128"), "manager")
	al.Add(netip.MustParsePrefix("2001:db8::/32"), "api: v6")
	for _, tc := range []struct {
		addr, label string
		hit         bool
	}{
		{"10.1.2.3", "api: lab", true},
		{"10.2.0.1", "", false},
		{"192.0.2.9", "manager", true},
		{"::ffff:10.1.0.1", "api: lab", true},
		{"2001:db8::1", "api: v6", true},
	} {
		label, hit := al.Match(ip(tc.addr))
		if hit != tc.hit || label != tc.label {
			t.Errorf("Match(%s) = %q, %v; want %q, %v", tc.addr, label, hit, tc.label, tc.hit)
		}
	}
	if !al.Remove(netip.MustParsePrefix("10.1.5.5/16")) { // the same block, written unmasked
		t.Error("Remove of an added block failed")
	}
	if _, hit := al.Match(ip("10.1.2.3")); hit {
		t.Error("a removed block still matches")
	}
	if al.Remove(netip.MustParsePrefix("10.1.0.0/16")) {
		t.Error("a second Remove succeeded")
	}
}

func TestCheckUser(t *testing.T) {
	for _, tc := range []struct {
		user string
		ok   bool
	}{{"alice", true}, {"svc.backup@corp", true}, {"-froot", false}, {"a;rm -rf /", false}, {"$(id)", false}} {
		if err := CheckUser(tc.user); (err == nil) != tc.ok {
			t.Errorf("CheckUser(%q) = %v, want ok=%v", tc.user, err, tc.ok)
		}
	}
}
