package action

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// ipsetBackend is firewall-drop with ipset: addresses go into the hash:net
// sets riposte4 and riposte6, each matched by one iptables (ip6tables) rule
// per chain:
//
//	iptables -w -I INPUT   -m set --match-set riposte4 src -j DROP
//	iptables -w -I FORWARD -m set --match-set riposte4 src -j DROP
//	iptables -w -I OUTPUT  -m set --match-set riposte4 dst -j DROP  (Options.Output)
//
// The sets are made with timeout support, so each entry carries its own
// timeout and the kernel lifts it on time even when Riposte is gone. A
// family's set and rules are made on its first add and then stay.
type ipsetBackend struct {
	exec    Runner
	timeout time.Duration
	output  bool

	mu    sync.Mutex
	ready map[string]bool // by set name: set and rules seen in place
}

func newIpsetBackend(env *Env) *ipsetBackend {
	return &ipsetBackend{exec: env.exec(), timeout: env.Timeout, output: env.Options.Output, ready: map[string]bool{}}
}

// Riposte's ipset sets.
const (
	ipsetV4 = "riposte4"
	ipsetV6 = "riposte6"
)

// ipsetMaxTimeout is the longest timeout ipset takes, in seconds. Longer
// blocks are made permanent and left to execd's delete.
const ipsetMaxTimeout = 2147483

// family returns the set, its ipset family and the iptables program for p.
func (b *ipsetBackend) family(p netip.Prefix) (set, family, prog string) {
	if p.Addr().Is6() {
		return ipsetV6, "inet6", "ip6tables"
	}
	return ipsetV4, "inet", "iptables"
}

// rules returns the iptables rule specs (chain first) matching set.
func (b *ipsetBackend) rules(set string) [][]string {
	rs := [][]string{
		{"INPUT", "-m", "set", "--match-set", set, "src", "-j", "DROP"},
		{"FORWARD", "-m", "set", "--match-set", set, "src", "-j", "DROP"},
	}
	if b.output {
		rs = append(rs, []string{"OUTPUT", "-m", "set", "--match-set", set, "dst", "-j", "DROP"})
	}
	return rs
}

// ensure makes p's set and its rules, once per backend.
func (b *ipsetBackend) ensure(ctx context.Context, p netip.Prefix) error {
	set, family, prog := b.family(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ready[set] {
		return nil
	}
	if _, err := b.exec.Run(ctx, nil, "ipset", "-exist", "create", set, "hash:net", "family", family, "timeout", "0"); err != nil {
		return fmt.Errorf("ipset: create %s: %w", set, err)
	}
	for _, r := range b.rules(set) {
		if err := ensureRule(ctx, b.exec, prog, r); err != nil {
			return err
		}
	}
	b.ready[set] = true
	return nil
}

func (b *ipsetBackend) add(ctx context.Context, p netip.Prefix) error {
	if err := b.ensure(ctx, p); err != nil {
		return err
	}
	set, _, _ := b.family(p)
	args := []string{"-exist", "add", set, PrefixText(p)}
	if secs := ipsetTimeout(b.timeout); secs > 0 {
		// -exist on an entry already there sets its timeout anew.
		args = append(args, "timeout", strconv.Itoa(secs))
	}
	if _, err := b.exec.Run(ctx, nil, "ipset", args...); err != nil {
		return fmt.Errorf("ipset: add %s to %s: %w", PrefixText(p), set, err)
	}
	ok, err := b.test(ctx, set, p)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("ipset: %s is not in set %s after adding it", PrefixText(p), set)
	}
	return nil
}

func (b *ipsetBackend) del(ctx context.Context, p netip.Prefix) error {
	set, _, _ := b.family(p)
	// Fails when the set does not exist; the test below says what counts.
	_, delErr := b.exec.Run(ctx, nil, "ipset", "-exist", "del", set, PrefixText(p))
	ok, err := b.test(ctx, set, p)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("ipset: %s is still in set %s after deleting it: %v", PrefixText(p), set, delErr)
	}
	return nil
}

// present reports whether p is in its set and the set's rules are in place.
// Missing rules make the next add put them back.
func (b *ipsetBackend) present(ctx context.Context, p netip.Prefix) (bool, error) {
	set, _, prog := b.family(p)
	ok, err := b.test(ctx, set, p)
	if err != nil || !ok {
		return false, err
	}
	for _, r := range b.rules(set) {
		ok, err := checkRule(ctx, b.exec, prog, r)
		if err != nil {
			return false, err
		}
		if !ok {
			b.mu.Lock()
			b.ready[set] = false
			b.mu.Unlock()
			return false, nil
		}
	}
	return true, nil
}

// test runs ipset test: for an address, whether a net in the set holds it;
// for a CIDR block, whether the set holds that block.
func (b *ipsetBackend) test(ctx context.Context, set string, p netip.Prefix) (bool, error) {
	return runCheck(ctx, b.exec, "ipset", "test", set, PrefixText(p))
}

// ipsetTimeout returns d in whole seconds, rounded up, for ipset's timeout
// option; 0 means none (d is 0 or beyond what ipset takes).
func ipsetTimeout(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	secs := (d + time.Second - 1) / time.Second
	if secs > ipsetMaxTimeout {
		return 0
	}
	return int(secs)
}

var _ dropBackend = (*ipsetBackend)(nil)
