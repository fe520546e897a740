//go:build linux

package action

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Blocks of single addresses requested at the same time by different runs
// of one process (an attack from many addresses) are carried out together:
// the first request leads, taking every request queued meanwhile into one
// session, one round of pipelined lookups, one transaction and one round of
// checks. A request alone goes at once, so batching adds no wait.

// nftAddReq is one address waiting to be blocked.
type nftAddReq struct {
	addr    netip.Addr
	timeout time.Duration
	err     error
	done    chan struct{}
}

// nftBatchLimit bounds a batch, so that one transaction stays small enough
// for the socket and a slow batch does not hold up the next requests.
const nftBatchLimit = 4096

// nftBatchTimeout bounds the session of one batch, which serves several
// callers: no one caller's context cancels it.
const nftBatchTimeout = 30 * time.Second

// addBatched blocks one address through the batch of its namespace.
func (b *nftBackend) addBatched(ctx context.Context, a netip.Addr) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.queueAdd(ctx, netip.PrefixFrom(a, a.BitLen()))()
}

// queueAdd queues the block of p, when it is a single address, without
// starting a batch, and returns a function that waits for it; the first
// waiter to find no batch running leads until its own block is in, so
// that everything queued meanwhile goes together, and hands the lead on
// for what was queued later. It returns nil for a CIDR block.
func (b *nftBackend) queueAdd(ctx context.Context, p netip.Prefix) (wait func() error) {
	p = nftPrefix(p)
	if !p.IsSingleIP() {
		return nil
	}
	req := &nftAddReq{addr: p.Addr(), timeout: b.timeout, done: make(chan struct{})}
	b.qmu.Lock()
	b.queue = append(b.queue, req)
	b.qmu.Unlock()
	return func() error {
		b.qmu.Lock()
		lead := !b.leading && len(b.queue) > 0
		if lead {
			b.leading = true
		}
		b.qmu.Unlock()
		if lead {
			b.lead(req)
			return req.err
		}
		select {
		case <-req.done:
			return req.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// lead runs batches until mine is done (until the queue is empty when
// mine is nil), then hands the lead on to a new goroutine if requests are
// still queued, so that a caller does not wait for others' batches.
func (b *nftBackend) lead(mine *nftAddReq) {
	for {
		b.qmu.Lock()
		n := min(len(b.queue), nftBatchLimit)
		if n == 0 {
			b.leading = false
			b.qmu.Unlock()
			return
		}
		batch := slices.Clone(b.queue[:n])
		b.queue = b.queue[n:]
		b.qmu.Unlock()
		b.runBatch(batch)
		if mine == nil {
			continue
		}
		select {
		case <-mine.done:
			b.qmu.Lock()
			more := len(b.queue) > 0
			if !more {
				b.leading = false
			}
			b.qmu.Unlock()
			if more {
				go b.lead(nil)
			}
			return
		default:
		}
	}
}

// runBatch carries out one batch and completes every request in it.
func (b *nftBackend) runBatch(batch []*nftAddReq) {
	ctx, cancel := context.WithTimeout(context.Background(), nftBatchTimeout)
	defer cancel()
	errs := make(map[netip.Addr]error, len(batch))
	err := b.withLayout(ctx, func(s *nftSession) error {
		var err error
		errs, err = s.addAddrBatch(batch, &b.nets)
		return err
	})
	for _, r := range batch {
		if err != nil {
			r.err = err
		} else {
			r.err = errs[r.addr]
		}
		close(r.done)
	}
}

// addAddrBatch is addAddr for many addresses: per address the same result
// (its own element refreshed with its timeout, nothing done when a CIDR
// block holds it, checked after), in a constant number of round trips. It
// returns the error of each address that failed.
func (s *nftSession) addAddrBatch(batch []*nftAddReq, nets *nftNetsHint) (map[netip.Addr]error, error) {
	// One element per address: the longest timeout asked wins (0 is none,
	// the longest of all).
	want := make(map[netip.Addr]time.Duration, len(batch))
	var addrs []netip.Addr
	for _, r := range batch {
		t, seen := want[r.addr]
		switch {
		case !seen:
			addrs = append(addrs, r.addr)
			want[r.addr] = r.timeout
		case t != 0 && (r.timeout == 0 || r.timeout > t):
			want[r.addr] = r.timeout
		}
	}
	errs := make(map[netip.Addr]error)
	for _, v6 := range []bool{false, true} {
		var group []netip.Addr
		for _, a := range addrs {
			if a.Is6() == v6 {
				group = append(group, a)
			}
		}
		if len(group) == 0 {
			continue
		}
		err := s.addAddrGroup(group, want, nets)
		if errors.Is(err, unix.ENOENT) {
			// An element expired between the lookups and the
			// transaction: look again.
			err = s.addAddrGroup(group, want, nets)
		}
		if errors.Is(err, unix.ENOENT) {
			// Still missing: the table or a set is gone; the caller
			// sets the layout up again and retries.
			return nil, err
		}
		if err != nil {
			// Find out address by address which ones fail.
			for _, a := range group {
				if err := s.addAddr(a, want[a]); err != nil {
					errs[a] = err
				}
			}
		}
	}
	return errs, nil
}

// nftNetsHint remembers, per family (IPv6 second), until when the net set
// is taken for too long to list for a batch (see netsHolding), and for how
// long it will be next time it is found so: each time twice as long.
type nftNetsHint struct {
	until [2]time.Time
	next  [2]time.Duration
}

// When a batch lists the net set instead of looking each address up in
// it: from nftListNetsFrom addresses, unless the set had more than
// nftListNetsMax intervals when last listed (listing an interval set costs
// the kernel time quadratic in its size); such a set is listed again after
// nftNetsRecheck, then twice as long each time, up to nftNetsRecheckMax.
const (
	nftListNetsFrom   = 64
	nftListNetsMax    = 256
	nftNetsRecheck    = time.Minute
	nftNetsRecheckMax = time.Hour
)

// netsHolding reports, for each of addrs, whether an interval of the net
// set holds it, listing the set once when that is cheaper than a lookup
// per address; ok is false when the caller should look them up.
func (s *nftSession) netsHolding(nets *nftables.Set, addrs []netip.Addr, hint *nftNetsHint) (held []bool, ok bool, err error) {
	fam := 0
	if addrs[0].Is6() {
		fam = 1
	}
	if len(addrs) < nftListNetsFrom || time.Now().Before(hint.until[fam]) {
		return nil, false, nil
	}
	ivs, err := s.intervals(nets)
	if err != nil {
		return nil, false, err
	}
	if len(ivs) > nftListNetsMax {
		wait := max(hint.next[fam], nftNetsRecheck)
		hint.until[fam], hint.next[fam] = time.Now().Add(wait), min(2*wait, nftNetsRecheckMax)
	} else {
		hint.next[fam] = 0
	}
	held = make([]bool, len(addrs))
	for i, a := range addrs {
		// The intervals are sorted and do not overlap: the one that may
		// hold a is the last to start at or before it.
		j, found := slices.BinarySearchFunc(ivs, a, func(iv nftInterval, a netip.Addr) int { return iv.first.Compare(a) })
		if !found {
			j--
		}
		held[i] = j >= 0 && ivs[j].last.Compare(a) >= 0
	}
	return held, true, nil
}

// addAddrGroup blocks addresses of one family: lookups, one transaction,
// checks.
func (s *nftSession) addAddrGroup(addrs []netip.Addr, timeout map[netip.Addr]time.Duration, hint *nftNetsHint) error {
	set, nets := nftAddrSet(addrs[0].Is6()), nftNetSet(addrs[0].Is6())
	held, listed, err := s.netsHolding(nets, addrs, hint)
	if err != nil {
		return err
	}
	per := 2 // lookups per address: its own element, and the net set's
	if listed {
		per = 1
	}
	qs := make([]nftQuery, 0, per*len(addrs))
	for _, a := range addrs {
		qs = append(qs, nftQuery{set.Name, a})
		if !listed {
			qs = append(qs, nftQuery{nets.Name, a})
		}
	}
	got, err := s.lookupIn(qs)
	if err != nil {
		return err
	}
	var del, add []nftables.SetElement
	var check []netip.Addr
	for i, a := range addrs {
		own := got[per*i] == a
		inNet := listed && held[i] || !listed && got[per*i+1].IsValid()
		if !own && inNet {
			continue // a CIDR block holds it
		}
		if own {
			del = append(del, nftAddrElem(a, 0))
		}
		add = append(add, nftAddrElem(a, timeout[a]))
		check = append(check, a)
	}
	if len(add) == 0 {
		return nil
	}
	t := s.newTxn(context.Background())
	for _, op := range []struct {
		elems []nftables.SetElement
		del   bool
	}{{del, true}, {add, false}} {
		for chunk := range slices.Chunk(op.elems, nftMsgAddrs) {
			if err := t.queue(set.Name, chunk, op.del, false); err != nil {
				return err
			}
		}
	}
	if err := t.flush(); err != nil {
		return fmt.Errorf("nftables: add to %s: %w", set.Name, err)
	}
	found, err := s.lookup(set.Name, check...)
	if err != nil {
		return err
	}
	for i, a := range check {
		if found[i] != a {
			return fmt.Errorf("nftables: %s is not in set %s after adding it", a, set.Name)
		}
	}
	return nil
}
