//go:build linux

package action

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The nftables backend of firewall-drop keeps everything in one table that
// Riposte owns and never touches any other:
//
//	table inet riposte {
//		set riposte_addr4 { type ipv4_addr; flags timeout; }
//		set riposte_net4  { type ipv4_addr; flags interval,timeout; }
//		set riposte_addr6 { type ipv6_addr; flags timeout; }
//		set riposte_net6  { type ipv6_addr; flags interval,timeout; }
//		chain riposte_input   { type filter hook input   priority filter - 10; ... saddr drops }
//		chain riposte_forward { type filter hook forward priority filter - 10; ... saddr drops }
//		chain riposte_output  { type filter hook output  priority filter - 10; ... daddr drops }  (Options.Output)
//		chain riposte_ingress { type filter hook ingress device DEV priority filter - 10; ... }  (Options.Ingress)
//	}
//
// Each chain holds the same four rules, "ip saddr @riposte_addr4 drop",
// "ip saddr @riposte_net4 drop", "ip6 saddr @riposte_addr6 drop" and
// "ip6 saddr @riposte_net6 drop" (daddr in the output chain), which never
// change after setup. A block is one set element, so adding one costs one
// netlink transaction and no process, and every element carries its own
// timeout, so the kernel lifts a block on time even when Riposte is gone.
//
// Single addresses, nearly every block, go into the hash sets
// riposte_addr4/6; CIDR blocks go into the interval sets riposte_net4/6.
// The kernel commits a change to an interval set in time linear in the
// set's size (Linux 6.18: about 1 ms at 10,000 elements, 15-40 ms at
// 100,000), and a change to a hash set in time that does not grow with it,
// so an address is blocked as fast with 100,000 blocks in place as with
// none. Bursts of CIDR blocks belong in one AddMany.
//
// The two kinds of block overlap thus: an address inside a CIDR block in
// place is blocked already, and adding it adds nothing (one lookup in the
// net set tells). A CIDR block added over addresses blocked on their own
// leaves them in the hash set with their own timeouts, so deleting the CIDR
// block leaves them blocked. A CIDR block added over narrower CIDR blocks
// replaces them; it finds them with a lookup per address when it spans at
// most 1,024 addresses, else by reading the whole interval set, which the
// kernel lists in time quadratic in its size.
//
// Priority filter - 10 (-10) runs the chains after conntrack (-200), mangle
// (-150) and DNAT (-100), so the addresses matched are the ones the host
// sees, and before the ordinary filter chains at priority 0 (iptables-nft's
// filter table, firewalld, ufw, a distribution's "table inet filter"). A drop
// in any base chain is final whatever the other chains say, so the priority
// is not needed for correctness: it makes a blocked packet stop before it
// walks other filter rules or reaches their log and counter rules.
//
// The ingress chain lives in the same inet table (kernel 5.10 or later)
// rather than in a separate netdev table, so it shares the sets and a block
// stays one element.
//
// Earlier versions kept every block in one interval set per family,
// riposte_block4 and riposte_block6. Setup finds those (or a set with one of
// the current names but another type or other flags) and, in the transaction
// that adds the current sets and rules, deletes them with the rules that use
// them, their blocks included. Nothing is copied: the kernel lists an
// interval set in time quadratic in its size. Execd's reconciliation, which
// checks every active block every few seconds, puts back the blocks still
// due; a block it does not know of is lost with the old set.
const (
	nftTableName    = "riposte"
	nftAddr4        = "riposte_addr4"
	nftAddr6        = "riposte_addr6"
	nftNet4         = "riposte_net4"
	nftNet6         = "riposte_net6"
	nftChainInput   = "riposte_input"
	nftChainForward = "riposte_forward"
	nftChainOutput  = "riposte_output"
	nftChainIngress = "riposte_ingress"
	nftPriority     = nftables.ChainPriority(-10)

	// nfInetIngress is the inet family's ingress hook, NF_INET_INGRESS in
	// linux/netfilter.h (x/sys/unix lacks it). The library's
	// ChainHookIngress is the netdev family's number, which means
	// prerouting in an inet table.
	nfInetIngress = nftables.ChainHook(5)
)

// nftLegacySets are the sets of the layout before the split into hash and
// interval sets; setup deletes them.
var nftLegacySets = []string{"riposte_block4", "riposte_block6"}

// Elements per netlink message. The element list is one netlink attribute,
// whose length is 16 bits. A prefix of an interval set is an interval, a
// start and an end element: an IPv6 one takes 76 bytes, so 768 of them
// (58 KiB) fit. An IPv6 address with its timeout takes 40 bytes, so 1,536
// (60 KiB) fit.
const (
	nftMsgPrefixes = 768
	nftMsgAddrs    = 1536
)

// nftBackend blocks addresses with elements of Riposte's nftables sets.
type nftBackend struct {
	connect nftConnector
	timeout time.Duration // element timeout; 0 means none
	output  bool
	ingress string

	*nftState
}

// nftState is what the backends of one process share for one namespace and
// layout: sessions run one at a time, and the layout is checked once.
type nftState struct {
	mu    sync.Mutex // serialises the sessions; guards ready
	ready bool       // the table layout was found or made

	qmu     sync.Mutex   // guards queue and leading
	queue   []*nftAddReq // single addresses waiting for the next batch
	leading bool         // a goroutine is running batches

	nets nftNetsHint // guarded by mu
}

func newNftBackend(env *Env) *nftBackend {
	b := &nftBackend{
		connect: nftConnectorFor(env),
		timeout: env.Timeout,
		output:  env.Options.Output,
		ingress: env.Options.Ingress,
	}
	if env.Shared != nil {
		key := fmt.Sprintf("nft %v %v %s", env.exec(), b.output, b.ingress)
		b.nftState = env.Shared.load(key, func() any { return new(nftState) }).(*nftState)
	} else {
		b.nftState = new(nftState)
	}
	return b
}

// nftTable returns Riposte's table.
func nftTable() *nftables.Table {
	return &nftables.Table{Name: nftTableName, Family: nftables.TableFamilyINet}
}

// nftAddrSet returns the hash set holding single IPv6 addresses, or IPv4
// ones.
func nftAddrSet(v6 bool) *nftables.Set {
	if v6 {
		return &nftables.Set{Table: nftTable(), Name: nftAddr6, KeyType: nftables.TypeIP6Addr, HasTimeout: true}
	}
	return &nftables.Set{Table: nftTable(), Name: nftAddr4, KeyType: nftables.TypeIPAddr, HasTimeout: true}
}

// nftNetSet returns the interval set holding IPv6 CIDR blocks, or IPv4
// ones.
func nftNetSet(v6 bool) *nftables.Set {
	if v6 {
		return &nftables.Set{Table: nftTable(), Name: nftNet6, KeyType: nftables.TypeIP6Addr, Interval: true, HasTimeout: true}
	}
	return &nftables.Set{Table: nftTable(), Name: nftNet4, KeyType: nftables.TypeIPAddr, Interval: true, HasTimeout: true}
}

// nftSets returns the four sets in the order the rules of a chain use them.
func nftSets() []*nftables.Set {
	return []*nftables.Set{nftAddrSet(false), nftNetSet(false), nftAddrSet(true), nftNetSet(true)}
}

// nftSetFor returns the set that holds p's own block: a hash set for a
// single address, an interval set for a CIDR block.
func nftSetFor(p netip.Prefix) *nftables.Set {
	if p.IsSingleIP() {
		return nftAddrSet(p.Addr().Is6())
	}
	return nftNetSet(p.Addr().Is6())
}

// nftSetFits reports whether a set read from the kernel is the set want:
// same key type and the same interval and timeout flags.
func nftSetFits(got, want *nftables.Set) bool {
	return got.KeyType.Name == want.KeyType.Name && got.KeyType.Bytes == want.KeyType.Bytes &&
		got.Interval == want.Interval && got.HasTimeout == want.HasTimeout &&
		!got.IsMap && !got.Concatenation && !got.Constant
}

// nftChainSpec is one base chain of the layout.
type nftChainSpec struct {
	name   string
	hook   *nftables.ChainHook
	device string
	daddr  bool // match the destination instead of the source
}

func (b *nftBackend) chains() []nftChainSpec {
	cs := []nftChainSpec{
		{name: nftChainInput, hook: nftables.ChainHookInput},
		{name: nftChainForward, hook: nftables.ChainHookForward},
	}
	if b.output {
		cs = append(cs, nftChainSpec{name: nftChainOutput, hook: nftables.ChainHookOutput, daddr: true})
	}
	if b.ingress != "" {
		cs = append(cs, nftChainSpec{name: nftChainIngress, hook: nftables.ChainHookRef(nfInetIngress), device: b.ingress})
	}
	return cs
}

// nftDropRule is "ip saddr @riposte_addr4 drop" and its relatives: the
// family check, the address load, the set lookup and the verdict, as nft
// itself writes them.
func nftDropRule(c *nftables.Chain, set *nftables.Set, daddr bool) *nftables.Rule {
	proto, off, n := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4)
	if set.KeyType == nftables.TypeIP6Addr {
		proto, off, n = unix.NFPROTO_IPV6, 8, 16
	}
	if daddr {
		off += n
	}
	return &nftables.Rule{
		Table: c.Table,
		Chain: c,
		Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
			&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
			&expr.Verdict{Kind: expr.VerdictDrop},
		},
	}
}

// hasNftDropRule reports whether one of rules drops what is in the set.
func hasNftDropRule(rules []*nftables.Rule, set string) bool {
	for _, r := range rules {
		var lookup, drop bool
		for _, e := range r.Exprs {
			switch e := e.(type) {
			case *expr.Lookup:
				lookup = e.SetName == set && !e.Invert
			case *expr.Verdict:
				drop = e.Kind == expr.VerdictDrop
			}
		}
		if lookup && drop {
			return true
		}
	}
	return false
}

// nftRuleUses reports whether a rule refers to one of the sets, which
// cannot be deleted while it does.
func nftRuleUses(r *nftables.Rule, sets map[string]bool) bool {
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case *expr.Lookup:
			if sets[e.SetName] {
				return true
			}
		case *expr.Dynset:
			if sets[e.SetName] {
				return true
			}
		}
	}
	return false
}

// ensure makes the table layout, creating only what is missing, in one
// batch; sets of an earlier layout go in the same batch (see the top of
// this file). It reads the kernel once per backend; later calls return at
// once.
func (b *nftBackend) ensure(s *nftSession) error {
	if b.ready {
		return nil
	}
	table := nftTable()
	tables, err := s.conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("nftables: list tables: %w", err)
	}
	haveTable := slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == nftTableName })
	sets := nftSets()
	haveSet := map[string]bool{}
	drop := map[string]bool{}              // sets to delete: an earlier layout's
	rules := map[string][]*nftables.Rule{} // by chain; a key for every chain there
	if haveTable {
		found, err := s.conn.GetSets(table)
		if err != nil {
			return fmt.Errorf("nftables: list sets: %w", err)
		}
		for _, st := range found {
			if slices.Contains(nftLegacySets, st.Name) {
				drop[st.Name] = true
				continue
			}
			i := slices.IndexFunc(sets, func(w *nftables.Set) bool { return w.Name == st.Name })
			switch {
			case i < 0:
			case nftSetFits(st, sets[i]):
				haveSet[st.Name] = true
			default:
				drop[st.Name] = true
			}
		}
		chains, err := s.conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
		if err != nil {
			return fmt.Errorf("nftables: list chains: %w", err)
		}
		for _, c := range chains {
			if c.Table.Name != nftTableName {
				continue
			}
			rs, err := s.conn.GetRules(table, c)
			if err != nil {
				return fmt.Errorf("nftables: list rules of chain %s: %w", c.Name, err)
			}
			rules[c.Name] = rs
		}
	}

	changed := !haveTable
	if !haveTable {
		s.conn.AddTable(table)
	}
	// Sets of an earlier layout go, after the rules that use them. A rule
	// or set gone meanwhile (another process migrating) fails the batch
	// with ENOENT, and withLayout starts again.
	for _, chain := range slices.Sorted(maps.Keys(rules)) {
		var keep []*nftables.Rule
		for _, r := range rules[chain] {
			if !nftRuleUses(r, drop) {
				keep = append(keep, r)
				continue
			}
			r.Table, r.Chain = table, &nftables.Chain{Name: chain, Table: table}
			if err := s.conn.DelRule(r); err != nil {
				return fmt.Errorf("nftables: delete rule of chain %s: %w", chain, err)
			}
			changed = true
		}
		rules[chain] = keep
	}
	for _, name := range slices.Sorted(maps.Keys(drop)) {
		s.conn.DelSet(&nftables.Set{Table: table, Name: name})
		changed = true
	}
	for _, set := range sets {
		if haveSet[set.Name] {
			continue
		}
		if err := s.conn.AddSet(set, nil); err != nil {
			return fmt.Errorf("nftables: add set %s: %w", set.Name, err)
		}
		changed = true
	}
	for _, spec := range b.chains() {
		c := &nftables.Chain{
			Name:     spec.name,
			Table:    table,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  spec.hook,
			Priority: nftables.ChainPriorityRef(nftPriority),
			Device:   spec.device,
		}
		rs, ok := rules[spec.name]
		if !ok {
			s.conn.AddChain(c)
			changed = true
		}
		for _, set := range sets {
			if !hasNftDropRule(rs, set.Name) {
				s.conn.AddRule(nftDropRule(c, set, spec.daddr))
				changed = true
			}
		}
	}
	if changed {
		if err := s.conn.Flush(); err != nil {
			return fmt.Errorf("nftables: set up table inet %s: %w", nftTableName, err)
		}
	}
	b.ready = true
	return nil
}

// nftPrefix masks p and makes an IPv4-mapped IPv6 prefix IPv4.
func nftPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// add blocks p and checks the kernel holds it. A block of p already there
// is refreshed (deleted and added in one transaction), so its timeout
// starts again. A wider CIDR block covering p already blocks it and is left
// alone. Narrower CIDR blocks inside p are replaced by it; addresses
// blocked on their own inside p stay.
func (b *nftBackend) add(ctx context.Context, p netip.Prefix) error {
	p = nftPrefix(p)
	if p.IsSingleIP() {
		return b.addBatched(ctx, p.Addr())
	}
	return b.withLayout(ctx, func(s *nftSession) error { return s.add(p, b.timeout) })
}

// AddMany blocks many prefixes in a few netlink transactions, each element
// with the given timeout (0: none), and checks the kernel holds them.
// Prefixes are masked; duplicates and prefixes inside another one given are
// dropped. A prefix already blocked (by its own element or a wider CIDR
// block) is left as it is: its timeout is not refreshed. CIDR blocks inside
// a prefix given are replaced by it; addresses blocked on their own stay.
//
// Addresses cost a lookup each in the CIDR set (pipelined, no dump) and
// then one pass into their hash set, refusing any key already there; a
// refusal costs a lookup each in the hash set. CIDR blocks that overlap
// nothing in place cost one pass too, the elements going in refusing any key
// already there, and a sample read back. Overlaps cost a lookup per prefix,
// and reading the whole CIDR set when a prefix may hold blocks: the kernel
// lists an interval set in time quadratic in its size (some 17 s for
// 100,000 elements).
func (b *nftBackend) AddMany(ctx context.Context, prefixes []netip.Prefix, timeout time.Duration) error {
	v4, v6 := splitPrefixes(prefixes)
	return b.withLayout(ctx, func(s *nftSession) error {
		for _, group := range [][]netip.Prefix{v4, v6} {
			var addrs []netip.Addr
			var nets []netip.Prefix
			for _, p := range group {
				if p.IsSingleIP() {
					addrs = append(addrs, p.Addr())
				} else {
					nets = append(nets, p)
				}
			}
			if len(nets) > 0 {
				if err := s.addGroup(ctx, nftNetSet(nets[0].Addr().Is6()), nets, timeout); err != nil {
					return err
				}
			}
			if len(addrs) > 0 {
				if err := s.addAddrs(ctx, addrs, timeout); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// del removes the block of p, if there, and checks it is gone. A wider
// CIDR block covering p is not p's to remove and stays, and so do
// addresses blocked on their own inside p.
func (b *nftBackend) del(ctx context.Context, p netip.Prefix) error {
	p = nftPrefix(p)
	return b.withSession(ctx, func(s *nftSession) error { return s.del(p) })
}

// present reports whether every address of p is blocked: for an address,
// by its own block or a CIDR block holding it; for a CIDR block, by its own
// block or a wider one.
func (b *nftBackend) present(ctx context.Context, p netip.Prefix) (bool, error) {
	p = nftPrefix(p)
	var all bool
	err := b.withSession(ctx, func(s *nftSession) error {
		var err error
		all, err = s.present(p)
		return err
	})
	return all, err
}

// withSession runs fn on a new session, one at a time, whose socket gives
// up at ctx's deadline.
func (b *nftBackend) withSession(ctx context.Context, fn func(*nftSession) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.runSession(ctx, fn)
}

func (b *nftBackend) runSession(ctx context.Context, fn func(*nftSession) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := b.connect()
	if err != nil {
		return err
	}
	defer s.close()
	s.setDeadline(ctx)
	return fn(s)
}

// withLayout is withSession with the table layout in place first. When the
// table or a set has gone since it was last seen (a flush, a firewall
// reload), it sets the layout up again and retries once.
func (b *nftBackend) withLayout(ctx context.Context, fn func(*nftSession) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	run := func(s *nftSession) error {
		if err := b.ensure(s); err != nil {
			return err
		}
		return fn(s)
	}
	err := b.runSession(ctx, run)
	if errors.Is(err, unix.ENOENT) {
		b.ready = false
		err = b.runSession(ctx, run)
	}
	return err
}

// nftAddrElem is the element of a in a hash set.
func nftAddrElem(a netip.Addr, timeout time.Duration) nftables.SetElement {
	return nftables.SetElement{Key: a.AsSlice(), Timeout: timeout}
}

// add is nftBackend.add on this session.
func (s *nftSession) add(p netip.Prefix, timeout time.Duration) error {
	if p.IsSingleIP() {
		return s.addAddr(p.Addr(), timeout)
	}
	return s.addNet(p, timeout)
}

// addAddr blocks one address in its hash set: one round of lookups (its own
// element, a CIDR block holding it), one transaction, one lookup to check.
func (s *nftSession) addAddr(a netip.Addr, timeout time.Duration) error {
	set, nets := nftAddrSet(a.Is6()), nftNetSet(a.Is6())
	got, err := s.lookupIn([]nftQuery{{set.Name, a}, {nets.Name, a}})
	if err != nil {
		return err
	}
	own := got[0] == a
	if !own && got[1].IsValid() {
		return nil // a CIDR block holds it
	}
	var del []nftables.SetElement
	if own {
		del = []nftables.SetElement{nftAddrElem(a, 0)}
	}
	elems := []nftables.SetElement{nftAddrElem(a, timeout)}
	err = s.flushElems(set, del, elems)
	if own && errors.Is(err, unix.ENOENT) {
		// It expired between the lookup and the transaction: add it
		// afresh.
		err = s.flushElems(set, nil, elems)
	}
	if err != nil {
		return fmt.Errorf("nftables: add %s to %s: %w", a, set.Name, err)
	}
	if got, err = s.lookup(set.Name, a); err != nil {
		return err
	}
	if got[0] != a {
		return fmt.Errorf("nftables: %s is not in set %s after adding it", a, set.Name)
	}
	return nil
}

// addNet blocks a CIDR block in its interval set.
func (s *nftSession) addNet(p netip.Prefix, timeout time.Duration) error {
	set := nftNetSet(p.Addr().Is6())
	cov, err := s.coverage(set.Name, []netip.Prefix{p}, true)
	if err != nil {
		return err
	}
	var del []nftables.SetElement
	switch c := cov[0]; {
	case c.all && !c.exact:
		return nil // a wider block holds it
	case c.exact:
		del = nftElems(p, 0)
	default:
		// Narrower blocks may lie inside p, and the kernel does not
		// refuse every such overlap: find them and replace them.
		cur, err := s.intervalsIn(set, p)
		if err != nil {
			return err
		}
		_, inside, err := nftPlan(cur, []netip.Prefix{p})
		if err != nil {
			return fmt.Errorf("nftables: add %s to %s: %w", PrefixText(p), set.Name, err)
		}
		for _, iv := range inside {
			del = append(del, iv.elems()...)
		}
	}
	elems := nftElems(p, timeout)
	err = s.flushElems(set, del, elems)
	if cov[0].exact && errors.Is(err, unix.ENOENT) {
		err = s.flushElems(set, nil, elems)
	}
	if err != nil {
		return fmt.Errorf("nftables: add %s to %s: %w", PrefixText(p), set.Name, err)
	}
	if cov, err = s.coverage(set.Name, []netip.Prefix{p}, true); err != nil {
		return err
	}
	if !cov[0].exact {
		return fmt.Errorf("nftables: %s is not in set %s after adding it", PrefixText(p), set.Name)
	}
	return nil
}

// del is nftBackend.del on this session.
func (s *nftSession) del(p netip.Prefix) error {
	set := nftSetFor(p)
	if p.IsSingleIP() {
		a := p.Addr()
		got, err := s.lookup(set.Name, a)
		if err != nil || got[0] != a {
			return err // no table, no set, or no block of a: nothing to do
		}
		if err := s.flushElems(set, []nftables.SetElement{nftAddrElem(a, 0)}, nil); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("nftables: delete %s from %s: %w", a, set.Name, err)
		}
		if got, err = s.lookup(set.Name, a); err != nil {
			return err
		}
		if got[0].IsValid() {
			return fmt.Errorf("nftables: %s is still in set %s after deleting it", a, set.Name)
		}
		return nil
	}
	cov, err := s.coverage(set.Name, []netip.Prefix{p}, true)
	if err != nil || !cov[0].exact {
		return err
	}
	if err := s.flushElems(set, nftElems(p, 0), nil); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("nftables: delete %s from %s: %w", PrefixText(p), set.Name, err)
	}
	if cov, err = s.coverage(set.Name, []netip.Prefix{p}, true); err != nil {
		return err
	}
	if cov[0].exact {
		return fmt.Errorf("nftables: %s is still in set %s after deleting it", PrefixText(p), set.Name)
	}
	return nil
}

// present is nftBackend.present on this session.
func (s *nftSession) present(p netip.Prefix) (bool, error) {
	v6 := p.Addr().Is6()
	if p.IsSingleIP() {
		a := p.Addr()
		got, err := s.lookupIn([]nftQuery{{nftAddrSet(v6).Name, a}, {nftNetSet(v6).Name, a}})
		if err != nil {
			return false, err
		}
		return got[0] == a || got[1].IsValid(), nil
	}
	cov, err := s.coverage(nftNetSet(v6).Name, []netip.Prefix{p}, false)
	if err != nil {
		return false, err
	}
	return cov[0].all, nil
}

// addAddrs is AddMany for addresses of one family, sorted and distinct.
func (s *nftSession) addAddrs(ctx context.Context, addrs []netip.Addr, timeout time.Duration) error {
	v6 := addrs[0].Is6()
	set := nftAddrSet(v6)
	// An address a CIDR block in place holds is blocked already.
	starts, err := s.lookup(nftNetSet(v6).Name, addrs...)
	if err != nil {
		return err
	}
	var add []netip.Addr
	for i, a := range addrs {
		if !starts[i].IsValid() {
			add = append(add, a)
		}
	}
	if len(add) == 0 {
		return nil
	}
	// Refuse keys already there, so that their timeouts stay as they
	// are (a kernel that updates timeouts would refresh them); on a
	// refusal (the transactions before it went in), add what is missing.
	err = s.addAddrElems(ctx, set.Name, add, timeout, true)
	if errors.Is(err, unix.EEXIST) {
		var have []netip.Addr
		if have, err = s.lookup(set.Name, add...); err != nil {
			return err
		}
		var rest []netip.Addr
		for i, a := range add {
			if have[i] != a {
				rest = append(rest, a)
			}
		}
		err = s.addAddrElems(ctx, set.Name, rest, timeout, false)
	}
	if err != nil {
		return fmt.Errorf("nftables: add to %s: %w", set.Name, err)
	}
	// The kernel acknowledged every transaction, so every element is in;
	// check the first and last of each message.
	var sample []netip.Addr
	for chunk := range slices.Chunk(add, nftMsgAddrs) {
		sample = append(sample, chunk[0], chunk[len(chunk)-1])
	}
	found, err := s.holds(set.Name, sample)
	if err != nil {
		return err
	}
	if found < len(sample) {
		return fmt.Errorf("nftables: addresses added to set %s are not all there (%d of %d sampled)", set.Name, found, len(sample))
	}
	return nil
}

// addAddrElems adds addresses to a hash set, refusing keys already there
// with excl, in messages of nftMsgAddrs elements and transactions as large
// as the socket's send buffer takes.
func (s *nftSession) addAddrElems(ctx context.Context, set string, addrs []netip.Addr, timeout time.Duration, excl bool) error {
	t := s.newTxn(ctx)
	for chunk := range slices.Chunk(addrs, nftMsgAddrs) {
		elems := make([]nftables.SetElement, len(chunk))
		for i, a := range chunk {
			elems[i] = nftAddrElem(a, timeout)
		}
		if err := t.queue(set, elems, false, excl); err != nil {
			return err
		}
	}
	return t.flush()
}

// nftTxn gathers element messages into transactions as large as the
// socket's send buffer takes.
type nftTxn struct {
	s        *nftSession
	ctx      context.Context
	msgs     []netlink.Message
	perBatch int
}

func (s *nftSession) newTxn(ctx context.Context) *nftTxn {
	return &nftTxn{s: s, ctx: ctx, perBatch: max(1, s.sendBuf/(64<<10))} // a message is at most 64 KiB
}

// queue adds a message for the elements, sending the transaction when it
// is full.
func (t *nftTxn) queue(set string, elems []nftables.SetElement, del, excl bool) error {
	m, err := nftSetElemsMsg(set, elems, del, excl)
	if err != nil {
		return err
	}
	if t.msgs = append(t.msgs, m); len(t.msgs) == t.perBatch {
		return t.flush()
	}
	return nil
}

// flush sends the messages queued, if any, as one transaction.
func (t *nftTxn) flush() error {
	if len(t.msgs) == 0 {
		return nil
	}
	if err := t.ctx.Err(); err != nil {
		return err
	}
	err := t.s.batch(t.msgs)
	t.msgs = t.msgs[:0]
	return err
}

// addGroup is AddMany for CIDR blocks of one family.
func (s *nftSession) addGroup(ctx context.Context, set *nftables.Set, group []netip.Prefix, timeout time.Duration) error {
	// Add everything, refusing keys already in the set, so that the
	// kernel reports any overlap with blocks in place rather than merge
	// intervals wrongly. Then the kernel's acknowledgement of each
	// transaction means all its elements are in as sent; reading back the
	// first and last start of every message checks that cheaply (reading
	// back all 100,000 starts would cost more than adding them).
	err := s.addElems(ctx, set.Name, group, nil, timeout, true)
	if err == nil {
		var sample []netip.Addr
		for chunk := range slices.Chunk(group, nftMsgPrefixes) {
			sample = append(sample, chunk[0].Addr(), chunk[len(chunk)-1].Addr())
		}
		found, err := s.holds(set.Name, sample)
		if err != nil {
			return err
		}
		if found < len(sample) {
			return fmt.Errorf("nftables: prefixes added to set %s are not all there (%d of %d sampled)", set.Name, found, len(sample))
		}
		return nil
	}
	if !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("nftables: add to %s: %w", set.Name, err)
	}
	// Blocks in place overlap some prefixes (the batches before the one
	// refused went in): look up what is there and add the rest.
	if err := s.addOverlapping(ctx, set, group, timeout); err != nil {
		return fmt.Errorf("nftables: add to %s: %w", set.Name, err)
	}
	cov, err := s.coverage(set.Name, group, false)
	if err != nil {
		return err
	}
	missing := 0
	for _, c := range cov {
		if !c.all {
			missing++
		}
	}
	if missing > 0 {
		return fmt.Errorf("nftables: %d of %d prefixes not in set %s after adding them", missing, len(group), set.Name)
	}
	return nil
}

// addOverlapping adds the prefixes of group no block holds yet. Those whose
// first or last address lies in a block, and any the kernel still refuses,
// need the whole set read to find the blocks inside them, which replace.
func (s *nftSession) addOverlapping(ctx context.Context, set *nftables.Set, group []netip.Prefix, timeout time.Duration) error {
	cov, err := s.coverage(set.Name, group, false)
	if err != nil {
		return err
	}
	var add []netip.Prefix
	touched := false
	for i, p := range group {
		if !cov[i].all {
			add = append(add, p)
			touched = touched || cov[i].touched
		}
	}
	if !touched {
		err = s.addElems(ctx, set.Name, add, nil, timeout, false)
		if !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) {
			return err
		}
	}
	cur, err := s.intervals(set)
	if err != nil {
		return err
	}
	add, inside, err := nftPlan(cur, group)
	if err != nil {
		return err
	}
	return s.addElems(ctx, set.Name, add, inside, timeout, false)
}

// addElems deletes the intervals in del, then adds the prefixes in add
// (refusing keys already there with excl), in messages of nftMsgPrefixes
// intervals and transactions as large as the socket's send buffer takes.
func (s *nftSession) addElems(ctx context.Context, set string, add []netip.Prefix, del []nftInterval, timeout time.Duration, excl bool) error {
	t := s.newTxn(ctx)
	for chunk := range slices.Chunk(del, nftMsgPrefixes) {
		var elems []nftables.SetElement
		for _, iv := range chunk {
			elems = append(elems, iv.elems()...)
		}
		if err := t.queue(set, elems, true, false); err != nil {
			return err
		}
	}
	for chunk := range slices.Chunk(add, nftMsgPrefixes) {
		elems := make([]nftables.SetElement, 0, 2*len(chunk))
		for _, p := range chunk {
			elems = append(elems, nftElems(p, timeout)...)
		}
		if err := t.queue(set, elems, false, excl); err != nil {
			return err
		}
	}
	return t.flush()
}

// nftCover is how a set holds a prefix.
type nftCover struct {
	all     bool // one live interval holds every address of the prefix
	exact   bool // that interval is the prefix's own (asked for only)
	touched bool // an interval holds its first or its last address
}

// coverage looks up how the set holds each prefix: with one lookup of its
// first address, one of its last (for a block of several), and, to tell
// whether the interval is exactly the prefix, one of the address after.
// A missing table or set holds nothing.
func (s *nftSession) coverage(set string, ps []netip.Prefix, exact bool) ([]nftCover, error) {
	type at struct{ first, last, next int } // indexes into addrs; -1: none
	idx := make([]at, len(ps))
	addrs := make([]netip.Addr, 0, len(ps))
	for i, p := range ps {
		first, last := p.Addr(), lastAddr(p)
		x := at{len(addrs), -1, -1}
		addrs = append(addrs, first)
		if last != first {
			x.last = len(addrs)
			addrs = append(addrs, last)
		}
		if next := last.Next(); exact && next.IsValid() {
			x.next = len(addrs)
			addrs = append(addrs, next)
		}
		idx[i] = x
	}
	starts, err := s.lookup(set, addrs...)
	if err != nil {
		return nil, err
	}
	cov := make([]nftCover, len(ps))
	for i, p := range ps {
		x := idx[i]
		first, last := starts[x.first], starts[x.first]
		if x.last >= 0 {
			last = starts[x.last]
		}
		cov[i].touched = first.IsValid() || last.IsValid()
		if !first.IsValid() || last != first {
			continue
		}
		cov[i].all = true
		cov[i].exact = exact && first == p.Addr() && (x.next < 0 || starts[x.next] != first)
	}
	return cov, nil
}

// flushElems deletes del and adds add in one transaction.
func (s *nftSession) flushElems(set *nftables.Set, del, add []nftables.SetElement) error {
	var msgs []netlink.Message
	for _, op := range []struct {
		elems []nftables.SetElement
		del   bool
	}{{del, true}, {add, false}} {
		if len(op.elems) == 0 {
			continue
		}
		m, err := nftSetElemsMsg(set.Name, op.elems, op.del, false)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	return s.batch(msgs)
}

// intervals reads the whole set. The kernel's listing of an interval set
// takes time quadratic in its size, so this is kept for overlaps.
func (s *nftSession) intervals(set *nftables.Set) ([]nftInterval, error) {
	elems, err := s.conn.GetSetElements(set)
	if err != nil {
		return nil, fmt.Errorf("nftables: list set %s: %w", set.Name, err)
	}
	return nftIntervals(elems), nil
}

// nftScanBits is the most host bits of a prefix whose intervals
// intervalsIn finds with a lookup per address (1,024 lookups, about 2 ms)
// rather than by reading the whole set (about 4 ms at 1,000 intervals,
// 60 ms at 10,000, quadratic).
const nftScanBits = 10

// intervalsIn returns, sorted, the intervals of the set that hold
// addresses of p, as nftPlan needs them to place p: each one's first
// address, last address (beyond p, inexactly, for one that runs on past
// p) and end element. For a narrow p it looks up every address of p and
// the one after; else it reads the whole set and returns every interval.
func (s *nftSession) intervalsIn(set *nftables.Set, p netip.Prefix) ([]nftInterval, error) {
	if p.Addr().BitLen()-p.Bits() > nftScanBits {
		return s.intervals(set)
	}
	var addrs []netip.Addr
	for a := p.Addr(); a.IsValid() && p.Contains(a); a = a.Next() {
		addrs = append(addrs, a)
	}
	if after := lastAddr(p).Next(); after.IsValid() {
		addrs = append(addrs, after)
	}
	starts, err := s.lookup(set.Name, addrs...)
	if err != nil {
		return nil, err
	}
	return nftScanned(p, addrs, starts), nil
}

// nftScanned builds the intervals holding addresses of p from a lookup of
// each address of p, in order, then of the address after p if there is
// one: addrs are the addresses, starts what the lookups returned.
func nftScanned(p netip.Prefix, addrs, starts []netip.Addr) []nftInterval {
	var out []nftInterval
	for i, a := range addrs {
		st := starts[i]
		if !st.IsValid() {
			continue
		}
		in := p.Contains(a)
		if n := len(out); n > 0 && out[n-1].first == st && out[n-1].last.Next() == a {
			out[n-1].last = a // the same interval goes on
			continue
		}
		if in {
			out = append(out, nftInterval{first: st, last: a})
		}
	}
	for i := range out {
		out[i].end = out[i].last.Next() // invalid at the top of the address space
	}
	return out
}

// nftInterval is one interval of an interval set.
type nftInterval struct {
	first, last netip.Addr // the addresses it holds
	end         netip.Addr // key of its interval end element; invalid if none
}

func (iv nftInterval) String() string { return iv.first.String() + "-" + iv.last.String() }

// elems returns the elements that make the interval, to delete it.
func (iv nftInterval) elems() []nftables.SetElement {
	es := []nftables.SetElement{{Key: iv.first.AsSlice()}}
	if iv.end.IsValid() {
		es = append(es, nftables.SetElement{Key: iv.end.AsSlice(), IntervalEnd: true})
	}
	return es
}

// nftIntervals pairs the start and end elements of a set listing into
// sorted intervals. A start with no end after it runs to the next start, or
// to the top of the address space; an end with no start (left by an expired
// element until the kernel collects it) holds nothing.
func nftIntervals(elems []nftables.SetElement) []nftInterval {
	type point struct {
		a   netip.Addr
		end bool
	}
	var pts []point
	for _, e := range elems {
		if a, ok := netip.AddrFromSlice(e.Key); ok {
			pts = append(pts, point{a, e.IntervalEnd})
		}
	}
	slices.SortFunc(pts, func(x, y point) int {
		if c := x.a.Compare(y.a); c != 0 {
			return c
		}
		// Adjacent intervals: the end of one has the key of the next
		// one's start.
		switch {
		case x.end && !y.end:
			return -1
		case !x.end && y.end:
			return 1
		}
		return 0
	})
	var out []nftInterval
	for i, pt := range pts {
		if pt.end {
			continue
		}
		iv := nftInterval{first: pt.a, last: lastAddr(netip.PrefixFrom(pt.a, 0))}
		if i+1 < len(pts) {
			next := pts[i+1]
			iv.last = next.a.Prev()
			if next.end {
				iv.end = next.a
			}
		}
		out = append(out, iv)
	}
	return out
}

// nftPlan works out how to add prefixes (sorted and compacted, of one
// family) to a set holding cur (sorted): the prefixes to add, leaving out
// those an interval already holds, and the intervals to remove because
// they lie inside a prefix added. An interval straddling a prefix's edge is
// an error.
func nftPlan(cur []nftInterval, ps []netip.Prefix) (add []netip.Prefix, inside []nftInterval, err error) {
	for _, p := range ps {
		first, last := p.Addr(), lastAddr(p)
		i, _ := slices.BinarySearchFunc(cur, first, func(iv nftInterval, a netip.Addr) int { return iv.last.Compare(a) })
		covered := false
		var in []nftInterval
		for ; i < len(cur) && cur[i].first.Compare(last) <= 0; i++ {
			iv := cur[i]
			switch {
			case iv.first.Compare(first) <= 0 && iv.last.Compare(last) >= 0:
				covered = true
			case iv.first.Compare(first) >= 0 && iv.last.Compare(last) <= 0:
				in = append(in, iv)
			default:
				return nil, nil, fmt.Errorf("interval %s straddles %s", iv, p)
			}
		}
		if !covered {
			add = append(add, p)
			inside = append(inside, in...)
		}
	}
	return add, inside, nil
}

// splitPrefixes masks, sorts and de-duplicates prefixes by family, dropping
// those inside another one.
func splitPrefixes(prefixes []netip.Prefix) (v4, v6 []netip.Prefix) {
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		p = nftPrefix(p)
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	compact := func(ps []netip.Prefix) []netip.Prefix {
		slices.SortFunc(ps, func(a, b netip.Prefix) int {
			if c := a.Addr().Compare(b.Addr()); c != 0 {
				return c
			}
			return a.Bits() - b.Bits() // the wider first
		})
		out := ps[:0]
		for _, p := range ps {
			// Sorted by start, a prefix covering p is the last one kept.
			if n := len(out); n > 0 && out[n-1].Contains(p.Addr()) {
				continue
			}
			out = append(out, p)
		}
		return out
	}
	return compact(v4), compact(v6)
}

// nftElems returns the elements of p's interval in an interval set: the
// start, carrying the timeout, and an interval end one past the last
// address, left out when p reaches the top of the address space (the
// kernel then takes the interval as open-ended).
func nftElems(p netip.Prefix, timeout time.Duration) []nftables.SetElement {
	elems := []nftables.SetElement{{Key: p.Addr().AsSlice(), Timeout: timeout}}
	if end := lastAddr(p).Next(); end.IsValid() {
		elems = append(elems, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
	}
	return elems
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	a := p.Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	last := netip.AddrFrom16(a)
	if p.Addr().Is4() {
		return last.Unmap()
	}
	return last
}

var _ dropBackend = (*nftBackend)(nil)
