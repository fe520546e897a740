package osregex

import "sync"

// maxRetry is how many stopping points of lazy quantifiers Wazuh remembers.
// Further ones are not recorded, so the matches that would need them are
// lost (wazuh/wazuh#14420, bug 6).
const maxRetry = 4

// retry is a remembered stopping point: quantifier token ti stopped at pos
// after consuming n bytes, because the next token accepted s[pos], which
// the quantifier's class accepts too (stops on a byte the class rejects are
// not recorded and take no slot).
type retry struct {
	ti, pos, n int
}

// memoDepths is the number of distinct retry-stack depths (0..maxRetry).
const memoDepths = maxRetry + 1

// runner matches one alternative against one input. The captures are
// passed separately so that they can live on the caller's stack.
type runner struct {
	a *alternative
	s string

	// Work accounting: after budget steps the search starts recording the
	// states it has explored (memo, one bit per state) and never explores a
	// state twice, which bounds the work by the number of states,
	// O(len(tokens) × len(input)).
	steps, budget int
	memo          *[]uint64
	sparse        map[int]struct{} // the memo when a bitmap would be too big
}

// maxMemoBits bounds the bitmap memo (32 MiB); beyond it (inputs far
// longer than the 64 KiB events Wazuh handles) explored states go in a map,
// which keeps the time linear and the memory proportional to the states
// actually explored.
var maxMemoBits = 1 << 28

// stepBudget is the number of steps searched without memo for an input of
// n bytes: enough for ordinary patterns never to need one.
var stepBudget = func(n int) int { return 1024 + 16*n }

var memoPool = sync.Pool{New: func() any { return new([]uint64) }}

// visit marks a state explored and reports whether it already was; it is
// called once the step budget is spent. A state fully determines what
// follows except for the retry entries below depth, which are only used
// after everything reachable from it has failed; so a state seen again can
// only fail again.
func (r *runner) visit(ti, pos int, sat bool, depth int) bool {
	k := (pos*(len(r.a.toks)+1)+ti)*2*memoDepths + depth
	if sat {
		k += memoDepths
	}
	if r.memo == nil {
		bits := (len(r.s) + 1) * (len(r.a.toks) + 1) * 2 * memoDepths
		if bits > maxMemoBits {
			if r.sparse == nil {
				r.sparse = make(map[int]struct{})
			}
			if _, seen := r.sparse[k]; seen {
				return true
			}
			r.sparse[k] = struct{}{}
			return false
		}
		m := memoPool.Get().(*[]uint64)
		words := (bits + 63) / 64
		if cap(*m) < words {
			*m = make([]uint64, words)
		} else {
			*m = (*m)[:words]
			clear(*m)
		}
		r.memo = m
	}
	w, b := k>>6, uint64(1)<<(k&63)
	m := *r.memo
	if m[w]&b != 0 {
		return true
	}
	m[w] |= b
	return false
}

func releaseMemo(m *[]uint64) {
	if m != nil {
		memoPool.Put(m)
	}
}

// attempt runs the alternative from start position p and returns the index
// Wazuh reports as the end of the match.
func (r *runner) attempt(p int, caps []int) (end int, ok bool) {
	end, ok, r.steps = r.run(p, caps, r.steps)
	return end, ok
}

// run is attempt with the step count kept in a local variable.
func (r *runner) run(p int, caps []int, steps int) (int, bool, int) {
	a, s := r.a, r.s
	toks := a.toks
	ntok := len(toks)
	var stack [maxRetry]retry
	depth := 0
	ti, pos, n := 0, p, 0
	last := -1 // index of the last consumed byte
	budget := r.budget
	for {
		if steps++; steps > budget && r.visit(ti, pos, n > 0, depth) {
			goto fail
		}
		if ti == ntok {
			if a.end && pos != len(s) {
				goto fail
			}
			return endIndex(last, p), true, steps
		}
		switch t := &toks[ti]; t.op {
		case opOpen:
			if caps != nil {
				caps[2*t.grp] = pos
			}
			ti++
			continue
		case opClose:
			if caps != nil {
				caps[2*t.grp+1] = pos
			}
			ti++
			continue
		case opOne:
			if pos < len(s) && t.set.has(s[pos]) {
				last = pos
				pos++
				ti++
				continue
			}
			goto fail
		case opLits:
			if k := len(t.str); len(s)-pos >= k && equalFold(s[pos:pos+k], t.str) {
				last = pos + k - 1
				pos += k
				ti++
				continue
			}
			goto fail
		default: // opPlus, opStar
			if pos == len(s) {
				if r.atEnd(ti, n, caps) {
					return endIndex(last, p), true, steps
				}
				goto fail
			}
			// Fast path for the run while no memo is needed: the same
			// decisions as below, one byte at a time, without going
			// through the main loop.
			if steps < budget {
				var ns *byteSet
				if int(t.next) < ntok {
					ns = &toks[t.next].set
				}
				star := t.op == opStar
				for {
					c := s[pos]
					if ns != nil && (n > 0 || star) && ns.has(c) || !t.set.has(c) {
						break
					}
					n++
					last = pos
					pos++
					if pos == len(s) || steps == budget {
						break
					}
					steps++
				}
				if pos == len(s) {
					continue
				}
			}
			c := s[pos]
			sat := n > 0 || t.op == opStar
			// Lazy: stop as soon as the next token accepts c. The stopping
			// point is remembered only when the class could have taken c
			// too: Wazuh records a retry point only on a byte both accept,
			// so a stop on a byte the class rejects uses up no slot.
			own := t.set.has(c)
			if sat && int(t.next) < ntok && toks[t.next].set.has(c) {
				if own && depth < maxRetry {
					stack[depth] = retry{ti, pos, n}
					depth++
				}
				ti++
				n = 0
				continue
			}
			if own {
				n++
				last = pos
				pos++
				continue
			}
			if !sat {
				goto fail
			}
			if ti+1 == ntok && n > 0 {
				// A pattern ending in a quantified class that stops on a
				// mismatching byte reports that byte as the end.
				if a.end {
					goto fail
				}
				return pos, true, steps
			}
			ti++
			n = 0
			continue
		}
	fail:
		// Resume the most recent remembered stopping point: its quantifier
		// takes the byte it had left to the next token (only points whose
		// class accepts that byte are remembered).
		if depth == 0 {
			return 0, false, steps
		}
		depth--
		e := stack[depth]
		ti, pos, n = e.ti, e.pos+1, e.n+1
		last = e.pos
	}
}

func endIndex(last, start int) int {
	if last < 0 {
		return start
	}
	return last
}

// atEnd decides a match whose input ran out at token ti (not a group
// boundary), n being the run length when ti is a quantifier. Wazuh only
// accepts a short list of leftovers:
//   - a quantifier that has consumed bytes, optionally followed by the ")"
//     closing its group, then nothing or a single "*" token; when that ")"
//     is followed by the "*" token and the run is longer than one byte,
//     the group captures "" (wazuh/wazuh#3378);
//   - a single "*" token, optionally followed by a ")"; a group that opened
//     at the very end of the input is then not captured at all.
func (r *runner) atEnd(ti, n int, caps []int) bool {
	toks := r.a.toks
	ntok := len(toks)
	end := len(r.s)
	t := &toks[ti]
	j := ti + 1
	if t.op != opOne && n > 0 {
		if j < ntok && toks[j].op == opClose {
			if caps != nil {
				g := 2 * int(toks[j].grp)
				caps[g+1] = end
				if j+1 < ntok && n > 1 {
					caps[g] = end
				}
			}
			j++
		}
		return j == ntok || j+1 == ntok && toks[j].op == opStar
	}
	if t.op != opStar {
		return false
	}
	if j == ntok {
		return true
	}
	if j+1 == ntok && toks[j].op == opClose {
		if caps != nil {
			g := 2 * int(toks[j].grp)
			if caps[g] == end {
				caps[g] = -1
			}
			caps[g+1] = end
		}
		return true
	}
	return false
}

// exec runs one alternative over s. caps, when not nil, has room for the
// alternative's groups.
func (a *alternative) exec(s string, caps []int) (end int, ok bool) {
	if a.never {
		return 0, false
	}
	if a.end && (a.suffix != "" && !hasSuffixFold(s, a.suffix) ||
		a.lastSet != nil && (len(s) == 0 || !a.lastSet.has(s[len(s)-1]))) {
		return 0, false
	}
	if a.begin {
		if !hasPrefixFold(s, a.prefix.needle) ||
			a.firstSet != nil && (len(s) == 0 || !a.firstSet.has(s[0])) {
			return 0, false
		}
	} else if a.required.needle != "" && a.required.index(s, 0) < 0 {
		return 0, false
	}
	r := runner{a: a, s: s, budget: stepBudget(len(s))}
	end, ok = r.search(caps)
	releaseMemo(r.memo)
	return end, ok
}

// search tries the start positions in order.
func (r *runner) search(caps []int) (end int, ok bool) {
	a, s := r.a, r.s
	if a.begin {
		return r.attempt(0, caps)
	}
	// Attempts start at every byte, or once on an empty input; never at
	// the end of a non-empty input (so "$" alone only matches "").
	lastStart := len(s) - 1
	if len(s) == 0 {
		lastStart = 0
	}
	for p := 0; p <= lastStart; p++ {
		if a.prefix.needle != "" {
			if p = a.prefix.index(s, p); p < 0 {
				return 0, false
			}
		} else if a.firstSet != nil {
			for p < len(s) && !a.firstSet.has(s[p]) {
				p++
			}
			if p == len(s) {
				return 0, false
			}
		}
		if end, ok := r.attempt(p, caps); ok {
			return end, true
		}
	}
	return 0, false
}

// exec runs the alternatives in order; the first that matches anywhere
// wins. caps, when not nil, must have room for 2×maxGroups ints; on success
// the winning alternative's groups are in caps[:2*groups].
func (re *Regex) exec(s string, caps []int) (end, groups int, ok bool) {
	for i := range re.alts {
		a := &re.alts[i]
		var c []int
		if caps != nil {
			c = caps[:2*a.ngroups]
			for j := range c {
				c[j] = -1
			}
		}
		if end, ok := a.exec(s, c); ok {
			return end, a.ngroups, true
		}
	}
	return 0, 0, false
}

// Match reports whether s matches the pattern.
func (re *Regex) Match(s string) bool {
	_, _, ok := re.exec(s, nil)
	return ok
}

// Execute matches s and returns the captured substrings (they share s's
// memory). As in Wazuh, the list stops before the first group that did not
// capture anything.
func (re *Regex) Execute(s string) (captures []string, ok bool) {
	_, captures, ok = re.ExecuteAppend(nil, s)
	return captures, ok
}

// ExecuteEnd is Execute that also returns the index Wazuh reports as the
// end of the match: normally the index of the last matched byte (decoders
// continue after it with offset="after_prematch"/"after_regex"); the index
// of the first byte after the last run when the pattern ends in a
// quantified class stopped by a mismatch; the start of the match when
// nothing was consumed (0 for an empty input). s[end:] is what Wazuh's
// unit tests call the end match.
func (re *Regex) ExecuteEnd(s string) (end int, captures []string, ok bool) {
	return re.ExecuteAppend(nil, s)
}

// ExecuteAppend is ExecuteEnd that appends the captures to dst, so callers
// can reuse one slice.
func (re *Regex) ExecuteAppend(dst []string, s string) (end int, captures []string, ok bool) {
	var buf [64]int
	var caps []int
	if 2*re.maxGroups <= len(buf) {
		caps = buf[:2*re.maxGroups]
	} else {
		caps = make([]int, 2*re.maxGroups)
	}
	end, groups, ok := re.exec(s, caps)
	if !ok {
		return 0, dst, false
	}
	for g := 0; g < groups; g++ {
		b, e := caps[2*g], caps[2*g+1]
		if b < 0 || e < b {
			break
		}
		dst = append(dst, s[b:e])
	}
	return end, dst, true
}

// MatchEnd is ExecuteEnd without the captures: it reports whether s
// matches and the end index ExecuteEnd would return.
func (re *Regex) MatchEnd(s string) (end int, ok bool) {
	end, _, ok = re.exec(s, nil)
	return end, ok
}
