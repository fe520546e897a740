package instance

import (
	"errors"
	"net/netip"
	"regexp"
	"testing"

	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/fleet/manager"
)

func TestParseAllowEntry(t *testing.T) {
	kvKey := regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)
	for _, tc := range []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7/32"},
		{" 203.0.113.0/24 ", "203.0.113.0/24"},
		{"203.0.113.9/24", "203.0.113.0/24"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"fe80::1%eth0", "fe80::1/128"},
		{"example.com", ""},
		{"; rm -rf /", ""},
		{"", ""},
	} {
		p, err := parseAllowEntry(tc.in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, api.ErrBadRequest) {
				t.Errorf("parseAllowEntry(%q) = %v, %v; want a bad request", tc.in, p, err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("parseAllowEntry(%q) = %v, %v; want %s", tc.in, p, err, tc.want)
		}
		if k := allowKey(p); !kvKey.MatchString(k) {
			t.Errorf("allowKey(%s) = %q: not a valid bucket key", p, k)
		}
	}
}

func TestActiveIn(t *testing.T) {
	a := manager.Active{SrcIP: "203.0.113.7", Keys: []string{"203.0.113.7"}}
	n := manager.Active{Keys: []string{"198.51.100.0/24"}}
	for _, tc := range []struct {
		a      manager.Active
		prefix string
		want   bool
	}{
		{a, "203.0.113.0/24", true},
		{a, "203.0.113.7/32", true},
		{a, "203.0.114.0/24", false},
		{n, "198.51.100.128/25", true},
		{n, "198.51.0.0/16", true},
		{n, "10.0.0.0/8", false},
	} {
		if got := activeIn(tc.a, netip.MustParsePrefix(tc.prefix)); got != tc.want {
			t.Errorf("activeIn(%v, %s) = %v", tc.a.Keys, tc.prefix, got)
		}
	}
}
