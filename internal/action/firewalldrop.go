package action

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
)

// firewallDrop is Wazuh's firewall-drop for Linux: it drops traffic from the
// alert's source address (and, with Options.Output, to it). Unlike Wazuh's
// script it normalises the address first (::ffff:a.b.c.d is IPv4), checks
// for an existing block before adding one, waits for the xtables lock, and
// reads the firewall back to verify every change.
//
// The backend is Options.Backend, or else the first that works here:
//   - "nftables": elements of sets in Riposte's own table inet riposte,
//     over netlink, with per-element kernel timeouts: addresses in hash
//     sets, CIDR blocks in interval sets (see nft.go);
//   - "ipset": hash:net sets riposte4 and riposte6 matched by one iptables
//     rule per chain, with per-entry timeouts;
//   - "iptables": Wazuh's own commands, one rule per address and chain.
//
// Other systems have their own actions (pf, ipfw, npf); firewall-drop there
// is an error.
type firewallDrop struct {
	env *Env

	mu      sync.Mutex
	backend dropBackend // chosen on first use
}

// dropBackend is one way to block addresses. add blocks a prefix and then
// reads the firewall back, failing if the block is not in place; adding a
// block already there is not an error. del removes the block, if there, and
// checks it is gone; deleting a block that is not there is not an error.
// present reports whether the prefix is blocked now.
type dropBackend interface {
	add(ctx context.Context, p netip.Prefix) error
	del(ctx context.Context, p netip.Prefix) error
	present(ctx context.Context, p netip.Prefix) (bool, error)
}

func newFirewallDrop(env *Env) Action { return &firewallDrop{env: env} }

// Keys returns the normalised source address.
func (f *firewallDrop) Keys(in *Input) ([]string, error) { return ipKeys(f.env, in) }

// Add blocks the source address and verifies the block is in place. Adding
// an address already blocked refreshes its timeout where the backend keeps
// one (nftables, ipset).
func (f *firewallDrop) Add(ctx context.Context, in *Input) error {
	p, b, err := f.prepare(in)
	if err != nil {
		return err
	}
	return b.add(ctx, p)
}

// addQueuer is a backend that can queue the block of a prefix with others
// (see queuedAdder); queueAdd returns nil for a prefix it cannot queue.
type addQueuer interface {
	queueAdd(ctx context.Context, p netip.Prefix) (wait func() error)
}

// queues reports whether the backend can queue adds (nftables).
func (f *firewallDrop) queues() bool {
	b, err := f.chooseBackend()
	if err != nil {
		return false
	}
	_, ok := b.(addQueuer)
	return ok
}

// queueAdd queues the block of the source address, when the backend can
// carry out many together (nftables), and returns the wait for it.
func (f *firewallDrop) queueAdd(ctx context.Context, in *Input) (wait func() error) {
	p, b, err := f.prepare(in)
	if err != nil {
		return func() error { return err }
	}
	q, ok := b.(addQueuer)
	if !ok {
		return nil
	}
	return q.queueAdd(ctx, p)
}

// Delete unblocks the source address and verifies the block is gone.
// Deleting an address that is not blocked is not an error.
func (f *firewallDrop) Delete(ctx context.Context, in *Input) error {
	p, b, err := f.prepare(in)
	if err != nil {
		return err
	}
	return b.del(ctx, p)
}

// Present reports whether the source address is blocked, so that execd can
// put back a block lost to a firewall flush or reload.
func (f *firewallDrop) Present(ctx context.Context, in *Input) (bool, error) {
	p, b, err := f.prepare(in)
	if err != nil {
		return false, err
	}
	return b.present(ctx, p)
}

func (f *firewallDrop) prepare(in *Input) (netip.Prefix, dropBackend, error) {
	p, err := target(f.env, in)
	if err != nil {
		return netip.Prefix{}, nil, err
	}
	b, err := f.chooseBackend()
	if err != nil {
		return netip.Prefix{}, nil, err
	}
	return p, b, nil
}

// chooseBackend picks the backend once. Detection prefers nftables, which
// needs a netlink connection that lists tables in the namespace Env.Exec
// runs programs in (so it is skipped when Exec is a Runner it cannot
// follow), then ipset with iptables when both are installed, then iptables.
func (f *firewallDrop) chooseBackend() (dropBackend, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.backend != nil {
		return f.backend, nil
	}
	if goos := f.env.goos(); goos != "linux" {
		return nil, fmt.Errorf("firewall-drop: no backend for %s; use pf, ipfw or npf", goos)
	}
	switch name := f.env.Options.Backend; name {
	case "nftables":
		f.backend = newNftBackend(f.env)
	case "ipset":
		f.backend = newIpsetBackend(f.env)
	case "iptables":
		f.backend = newIptablesBackend(f.env)
	case "":
		if f.env.Shared != nil {
			// Detection costs a netlink round trip: do it once per process.
			name := f.env.Shared.load(fmt.Sprintf("firewall-drop backend %v", f.env.exec()), func() any {
				return dropBackendName(detectDropBackend(f.env))
			}).(string)
			f.backend = newDropBackend(f.env, name)
		} else {
			f.backend = detectDropBackend(f.env)
		}
	default:
		return nil, fmt.Errorf("firewall-drop: unknown backend %q (want nftables, ipset or iptables)", name)
	}
	return f.backend, nil
}

// dropBackendName names a backend as Options.Backend does.
func dropBackendName(b dropBackend) string {
	switch b.(type) {
	case *nftBackend:
		return "nftables"
	case *ipsetBackend:
		return "ipset"
	}
	return "iptables"
}

// newDropBackend makes the backend of a name dropBackendName returned.
func newDropBackend(env *Env, name string) dropBackend {
	switch name {
	case "nftables":
		return newNftBackend(env)
	case "ipset":
		return newIpsetBackend(env)
	}
	return newIptablesBackend(env)
}

func detectDropBackend(env *Env) dropBackend {
	if followsNetns(env.exec()) {
		if nb := newNftBackend(env); nb.works() {
			return nb
		}
	}
	_, errIpset := LookPath("ipset")
	_, errIptables := LookPath("iptables")
	if errIpset == nil && errIptables == nil {
		return newIpsetBackend(env)
	}
	return newIptablesBackend(env)
}

// followsNetns reports whether netlink can reach the namespace in which r
// runs programs: r is an ExecRunner, with no prefix or "ip netns exec".
func followsNetns(r Runner) bool {
	switch r.(type) {
	case ExecRunner, *ExecRunner:
		_, err := netnsOf(r)
		return err == nil
	}
	return false
}

// netnsOf returns the network namespace in which a runner runs programs,
// "" for the current one: an ExecRunner's prefix "ip netns exec NAME" names
// NAME, no prefix (or a Runner of another type) means the current one, and
// any other prefix is an error, since netlink cannot follow it.
func netnsOf(r Runner) (string, error) {
	var prefix []string
	switch r := r.(type) {
	case ExecRunner:
		prefix = r.Prefix
	case *ExecRunner:
		if r != nil {
			prefix = r.Prefix
		}
	}
	if len(prefix) == 0 {
		return "", nil
	}
	if len(prefix) == 4 && filepath.Base(prefix[0]) == "ip" && prefix[1] == "netns" && prefix[2] == "exec" {
		ns := prefix[3]
		if ns != "" && ns != "." && ns != ".." && !strings.ContainsRune(ns, '/') {
			return ns, nil
		}
	}
	return "", fmt.Errorf("nftables: cannot follow runner prefix %q", prefix)
}

var (
	_ Action      = (*firewallDrop)(nil)
	_ Verifier    = (*firewallDrop)(nil)
	_ queuedAdder = (*firewallDrop)(nil)
)
