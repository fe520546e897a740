package osregex

import (
	"fmt"
	"strconv"
)

// byteSet is a 256-bit set of bytes.
type byteSet [4]uint64

func (b *byteSet) has(c byte) bool { return b[c>>6]&(1<<(c&63)) != 0 }
func (b *byteSet) add(c byte)      { b[c>>6] |= 1 << (c & 63) }

func setOf(f func(c byte) bool) byteSet {
	var b byteSet
	for i := 0; i < 256; i++ {
		if f(byte(i)) {
			b.add(byte(i))
		}
	}
	return b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isWord is \w: letters, digits and the three extra characters - @ _.
func isWord(c byte) bool { return isAlpha(c) || isDigit(c) || c == '-' || c == '@' || c == '_' }

// isPunct is \p. Slash, backslash, caret, underscore, backquote, tilde and @
// are not part of it.
func isPunct(c byte) bool {
	switch c {
	case '!', '"', '#', '$', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.',
		':', ';', '<', '=', '>', '?', '[', ']', '{', '|', '}':
		return true
	}
	return false
}

// The class escapes, indexed by the letter after the backslash.
var classSets = map[byte]byteSet{
	'w': setOf(isWord),
	'W': setOf(func(c byte) bool { return !isWord(c) }),
	'd': setOf(isDigit),
	'D': setOf(func(c byte) bool { return !isDigit(c) }),
	's': setOf(func(c byte) bool { return c == ' ' }),
	'S': setOf(func(c byte) bool { return c != ' ' }),
	'p': setOf(isPunct),
	't': setOf(func(c byte) bool { return c == '\t' }),
	'.': setOf(func(byte) bool { return true }),
}

// lower folds ASCII A-Z; every other byte is returned unchanged.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// maxGroups bounds the capture groups of one alternative.
const maxGroups = 1 << 12

// Token operations.
const (
	opOne   uint8 = iota // exactly one byte from set
	opPlus               // one or more bytes from set (lazy)
	opStar               // zero or more bytes from set (lazy)
	opLits               // the folded literal text str (two or more bytes)
	opOpen               // start of capture group grp
	opClose              // end of capture group grp
)

type token struct {
	set byteSet
	op  uint8
	grp uint16
	// lit is the folded byte when the token is a plain literal (opOne whose
	// set is one byte or both cases of a letter); isLit tells it is.
	lit   byte
	isLit bool
	str   string // opLits: folded text; set holds its first byte
	// next is the index of the first token after this one that is not a
	// group boundary (len(toks) when there is none): the token a lazy
	// quantifier looks ahead to.
	next int32
}

// alternative is one |-separated branch of an OS_Regex pattern.
type alternative struct {
	toks       []token
	begin, end bool // ^ and $ anchors
	ngroups    int
	never      bool // contains ")(": Wazuh never matches it
	// prefix is the literal text every match must start with (folded), used
	// to find candidate start positions.
	prefix finder
	// required is the longest literal run of the pattern when it is longer
	// than prefix; an input that lacks it cannot match.
	required finder
	// suffix is the literal text an end-anchored match must end with.
	suffix string
	// firstSet is the set of the first token when it must consume a byte
	// (opOne, opPlus); lastSet likewise for the last token of an
	// end-anchored alternative.
	firstSet, lastSet *byteSet
}

// Regex is a compiled OS_Regex pattern. It is safe for concurrent use.
type Regex struct {
	pattern   string
	alts      []alternative
	maxGroups int
}

// CompileError reports a pattern OS_Regex rejects.
type CompileError struct {
	Pattern string
	Offset  int    // byte offset in Pattern of the offending character
	Msg     string // what is wrong
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("osregex: %s at offset %d in %s", e.Msg, e.Offset, strconv.Quote(e.Pattern))
}

// String returns the source pattern.
func (r *Regex) String() string { return r.pattern }

// NumGroups returns the largest number of capture groups of any alternative.
func (r *Regex) NumGroups() int { return r.maxGroups }

// MustCompile is Compile that panics on error; for patterns known at build
// time.
func MustCompile(pattern string) *Regex {
	r, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return r
}

// Compile parses an OS_Regex pattern.
//
// Accepted syntax: \w \W \d \D \s \S \p \t \. classes; \$ \( \) \\ \| \<
// literal escapes; + or * right after an escape; ^ as the first and $ as
// the last character of an alternative; | between alternatives (not inside
// a group); ( ) capture groups, not nested. Every other character,
// including + * . [ ] { } ? and a ^ or $ elsewhere, is a literal. Any other
// escape, a trailing backslash, nested, unclosed or unopened parentheses
// and | inside a group are errors.
func Compile(pattern string) (*Regex, error) {
	re := &Regex{pattern: pattern}
	fail := func(off int, msg string) (*Regex, error) {
		return nil, &CompileError{Pattern: pattern, Offset: off, Msg: msg}
	}
	// Split into alternatives, checking the structure on the way.
	start, open := 0, -1
	var bounds [][2]int
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			if i+1 == len(pattern) {
				return fail(i, `trailing "\"`)
			}
			i++
		case '(':
			if open >= 0 {
				return fail(i, "nested \"(\" (group opened at offset "+strconv.Itoa(open)+")")
			}
			open = i
		case ')':
			if open < 0 {
				return fail(i, `unmatched ")"`)
			}
			open = -1
		case '|':
			if open >= 0 {
				return fail(i, "\"|\" inside a group (opened at offset "+strconv.Itoa(open)+")")
			}
			bounds = append(bounds, [2]int{start, i})
			start = i + 1
		}
	}
	if open >= 0 {
		return fail(open, `unclosed "("`)
	}
	bounds = append(bounds, [2]int{start, len(pattern)})

	re.alts = make([]alternative, len(bounds))
	for k, b := range bounds {
		a := &re.alts[k]
		if err := a.parse(pattern, b[0], b[1]); err != nil {
			return nil, err
		}
		if a.ngroups > re.maxGroups {
			re.maxGroups = a.ngroups
		}
	}
	return re, nil
}

// parse compiles pattern[from:to] into a.
func (a *alternative) parse(pattern string, from, to int) error {
	i := from
	if i < to && pattern[i] == '^' {
		a.begin = true
		i++
	}
	for i < to {
		c := pattern[i]
		switch {
		case c == '$' && i == to-1:
			a.end = true
			i++
		case c == '(':
			if a.ngroups == maxGroups {
				return &CompileError{Pattern: pattern, Offset: i, Msg: "more than " + strconv.Itoa(maxGroups) + " groups"}
			}
			a.toks = append(a.toks, token{op: opOpen, grp: uint16(a.ngroups)})
			a.ngroups++
			i++
		case c == ')':
			a.toks = append(a.toks, token{op: opClose, grp: uint16(a.ngroups - 1)})
			i++
			if i < to && pattern[i] == '(' {
				a.never = true
			}
		case c == '\\':
			e := pattern[i+1] // Compile made sure there is one
			var t token
			if s, ok := classSets[e]; ok {
				t.set = s
			} else {
				switch e {
				case '$', '(', ')', '\\', '|', '<':
					t.set.add(e)
					t.lit, t.isLit = e, true
				default:
					return &CompileError{Pattern: pattern, Offset: i,
						Msg: "invalid escape " + strconv.Quote(pattern[i:i+2])}
				}
			}
			i += 2
			if i < to && (pattern[i] == '+' || pattern[i] == '*') {
				t.isLit = false
				if pattern[i] == '+' {
					t.op = opPlus
				} else {
					t.op = opStar
				}
				i++
			}
			a.toks = append(a.toks, t)
		default:
			t := token{op: opOne, lit: lower(c), isLit: true}
			t.set.add(c)
			if isAlpha(c) {
				t.set.add(c ^ 0x20)
			}
			a.toks = append(a.toks, t)
			i++
		}
	}
	a.finish()
	return nil
}

// finish computes the look-ahead links and the literal helpers.
func (a *alternative) finish() {
	n := len(a.toks)
	// Literal runs, ignoring group boundaries.
	var prefix, best, run []byte
	inPrefix := true
	for _, t := range a.toks {
		switch {
		case t.op == opOpen || t.op == opClose:
			continue
		case t.op == opOne && t.isLit:
			run = append(run, t.lit)
			if inPrefix {
				prefix = append(prefix, t.lit)
			}
		default:
			inPrefix = false
			if len(run) > len(best) {
				best = run
			}
			run = nil
		}
	}
	if len(run) > len(best) {
		best = run
	}
	if a.end {
		// The literal run the pattern ends with, if it ends with one.
		var suf []byte
		for i := n - 1; i >= 0; i-- {
			t := a.toks[i]
			if t.op == opOpen || t.op == opClose {
				continue
			}
			if t.op != opOne || !t.isLit {
				break
			}
			suf = append(suf, t.lit)
		}
		for l, r := 0, len(suf)-1; l < r; l, r = l+1, r-1 {
			suf[l], suf[r] = suf[r], suf[l]
		}
		a.suffix = string(suf)
	}
	a.prefix = newFinder(string(prefix))
	if len(best) > len(prefix) && len(best) >= 2 {
		a.required = newFinder(string(best))
	}
	a.fuse()
	n = len(a.toks)
	next := int32(n)
	for i := n - 1; i >= 0; i-- {
		a.toks[i].next = next
		if op := a.toks[i].op; op != opOpen && op != opClose {
			next = int32(i)
		}
	}
	if first := a.real(0, 1); first >= 0 && a.toks[first].op != opStar {
		a.firstSet = &a.toks[first].set
	}
	if lastTok := a.real(n-1, -1); a.end && lastTok >= 0 {
		if t := &a.toks[lastTok]; t.op == opOne || t.op == opPlus {
			a.lastSet = &t.set
		}
	}
}

// real returns the index of the first token from i in direction dir that is
// not a group boundary, or -1.
func (a *alternative) real(i, dir int) int {
	for ; i >= 0 && i < len(a.toks); i += dir {
		if op := a.toks[i].op; op != opOpen && op != opClose {
			return i
		}
	}
	return -1
}

// fuse replaces runs of two or more adjacent literal tokens by one opLits
// token.
func (a *alternative) fuse() {
	var out []token
	for i := 0; i < len(a.toks); {
		j := i
		for j < len(a.toks) && a.toks[j].op == opOne && a.toks[j].isLit {
			j++
		}
		if j-i < 2 {
			out = append(out, a.toks[i])
			i++
			continue
		}
		b := make([]byte, 0, j-i)
		for _, t := range a.toks[i:j] {
			b = append(b, t.lit)
		}
		out = append(out, token{op: opLits, set: a.toks[i].set, str: string(b)})
		i = j
	}
	a.toks = out
}
