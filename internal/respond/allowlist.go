package respond

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/riposte/riposte/internal/config"
)

// Allowlist holds the addresses that responses must never act on: the
// address and CIDR entries of <global><white_list>, both families, and the
// current addresses of its host-name entries. It is safe for concurrent use;
// host names are resolved by the caller, which reports results with
// SetResolved.
type Allowlist struct {
	static []netip.Prefix
	hosts  []string

	mu       sync.RWMutex
	resolved map[string][]netip.Addr
	dynamic  []labelled // added at run time (API, the manager's own addresses)
}

// labelled is an entry added at run time, with what it is reported as.
type labelled struct {
	prefix netip.Prefix
	label  string
}

// NewAllowlist compiles white-list entries.
func NewAllowlist(entries []config.WhiteListEntry) *Allowlist {
	al := &Allowlist{resolved: make(map[string][]netip.Addr)}
	for _, e := range entries {
		switch {
		case e.Prefix.IsValid():
			al.static = append(al.static, e.Prefix)
		case e.Host != "":
			if !slices.Contains(al.hosts, e.Host) {
				al.hosts = append(al.hosts, e.Host)
			}
		}
	}
	return al
}

// Hosts returns the host names to resolve.
func (al *Allowlist) Hosts() []string { return slices.Clone(al.hosts) }

// SetResolved records the current addresses of host. An empty list keeps the
// previous addresses, so a failed lookup does not drop protection.
func (al *Allowlist) SetResolved(host string, addrs []netip.Addr) {
	if len(addrs) == 0 {
		return
	}
	norm := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		norm = append(norm, a.Unmap().WithZone(""))
	}
	al.mu.Lock()
	al.resolved[host] = norm
	al.mu.Unlock()
}

// Match reports whether addr is allowlisted and, if so, the entry that
// matched (a CIDR block, an address or a host name).
func (al *Allowlist) Match(addr netip.Addr) (string, bool) {
	addr = addr.Unmap().WithZone("")
	for _, p := range al.static {
		if p.Contains(addr) {
			if p.IsSingleIP() {
				return p.Addr().String(), true
			}
			return p.String(), true
		}
	}
	al.mu.RLock()
	defer al.mu.RUnlock()
	for _, d := range al.dynamic {
		if d.prefix.Contains(addr) {
			return d.label, true
		}
	}
	for _, h := range al.hosts {
		if slices.Contains(al.resolved[h], addr) {
			return h, true
		}
	}
	return "", false
}

// Add puts an address or CIDR block on the list at run time; Match reports
// label for it. Adding a prefix again replaces its label.
func (al *Allowlist) Add(p netip.Prefix, label string) {
	p = netip.PrefixFrom(p.Addr().Unmap().WithZone(""), min(p.Bits(), p.Addr().Unmap().BitLen())).Masked()
	al.mu.Lock()
	defer al.mu.Unlock()
	for i := range al.dynamic {
		if al.dynamic[i].prefix == p {
			al.dynamic[i].label = label
			return
		}
	}
	al.dynamic = append(al.dynamic, labelled{p, label})
}

// Remove takes a prefix added with Add off the list; it reports whether it
// was there. Entries of the configuration cannot be removed.
func (al *Allowlist) Remove(p netip.Prefix) bool {
	p = netip.PrefixFrom(p.Addr().Unmap().WithZone(""), min(p.Bits(), p.Addr().Unmap().BitLen())).Masked()
	al.mu.Lock()
	defer al.mu.Unlock()
	for i := range al.dynamic {
		if al.dynamic[i].prefix == p {
			al.dynamic = slices.Delete(al.dynamic, i, i+1)
			return true
		}
	}
	return false
}
