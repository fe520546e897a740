package osregex

// Match is a compiled OS_Match ("sregex") pattern. It is safe for
// concurrent use.
type Match struct {
	pattern string
	negate  bool
	alts    []matchAlt
	// always is set when an alternative matches every input ("", "^", "$").
	always bool
	// searches counts the unanchored alternatives, those Match searches
	// the input for.
	searches int
}

type matchAlt struct {
	begin, end bool
	f          finder // folded needle and its search helper
	// req is the set of the needle's folded bytes: an input whose
	// ByteSet lacks one of them cannot contain the needle.
	req ByteSet
}

// ByteSet is the set of the bytes of a text with ASCII letters folded to
// lower case. MatchSet uses it to skip searching an input for needles
// that have a byte the input lacks.
type ByteSet [4]uint64

// Add adds the bytes of s, folding ASCII letters.
func (b *ByteSet) Add(s string) {
	for i := 0; i < len(s); i++ {
		c := lower(s[i])
		b[c>>6] |= 1 << (c & 63)
	}
}

// contains reports whether every byte of o is in b.
func (b *ByteSet) contains(o *ByteSet) bool {
	return o[0]&^b[0]|o[1]&^b[1]|o[2]&^b[2]|o[3]&^b[3] == 0
}

// CompileMatch parses an OS_Match pattern: | separates alternatives (it
// cannot be escaped; an empty alternative matches everything); in each,
// a leading ^ anchors at the start and a trailing $ at the end (^x$ is
// equality, ^$ matches only ""); a leading ! negates the whole pattern.
// Backslash is an ordinary character. Comparison ignores the case of ASCII
// letters. No pattern is invalid; the error is there for symmetry with
// Compile and is always nil.
func CompileMatch(pattern string) (*Match, error) {
	m := &Match{pattern: pattern}
	p := pattern
	if len(p) > 0 && p[0] == '!' {
		m.negate = true
		p = p[1:]
	}
	for {
		i := 0
		for i < len(p) && p[i] != '|' {
			i++
		}
		m.add(p[:i])
		if i == len(p) {
			break
		}
		p = p[i+1:]
	}
	return m, nil
}

// MustCompileMatch is CompileMatch for patterns known at build time.
func MustCompileMatch(pattern string) *Match {
	m, _ := CompileMatch(pattern)
	return m
}

func (m *Match) add(alt string) {
	var a matchAlt
	if len(alt) > 0 && alt[0] == '^' {
		a.begin = true
		alt = alt[1:]
	}
	if len(alt) > 0 && alt[len(alt)-1] == '$' {
		a.end = true
		alt = alt[:len(alt)-1]
	}
	if alt == "" && !(a.begin && a.end) {
		m.always = true
	}
	a.f = newFinder(alt)
	a.req.Add(a.f.needle)
	if !a.begin && !a.end && alt != "" {
		m.searches++
	}
	m.alts = append(m.alts, a)
}

// String returns the source pattern.
func (m *Match) String() string { return m.pattern }

// Match reports whether s matches the pattern (after negation).
func (m *Match) Match(s string) bool {
	return m.match(s) != m.negate
}

// Searches returns how many alternatives Match searches the input for
// (those anchored neither at the start nor at the end): what MatchSet may
// save.
func (m *Match) Searches() int { return m.searches }

// MatchSet is Match for an input s whose ByteSet is set: it gives the same
// result, skipping the search for needles s cannot contain.
func (m *Match) MatchSet(s string, set *ByteSet) bool {
	return m.matchSet(s, set) != m.negate
}

func (m *Match) match(s string) bool { return m.matchSet(s, nil) }

func (m *Match) matchSet(s string, set *ByteSet) bool {
	if m.always {
		return true
	}
	for i := range m.alts {
		a := &m.alts[i]
		switch {
		case a.begin && a.end:
			if equalFold(s, a.f.needle) {
				return true
			}
		case a.begin:
			if hasPrefixFold(s, a.f.needle) {
				return true
			}
		case a.end:
			if hasSuffixFold(s, a.f.needle) {
				return true
			}
		default:
			if set != nil && !set.contains(&a.req) {
				continue
			}
			if a.f.index(s, 0) >= 0 {
				return true
			}
		}
	}
	return false
}

// Prefixes returns the texts, folded to lower case, one of which an input
// must start with (ignoring case) to match: ok is true only when every
// alternative is anchored with ^ and the pattern is not negated, so that
// callers can index patterns by their first byte.
func (m *Match) Prefixes() (prefixes []string, ok bool) {
	if m.negate || m.always {
		return nil, false
	}
	for i := range m.alts {
		if !m.alts[i].begin {
			return nil, false
		}
		prefixes = append(prefixes, m.alts[i].f.needle)
	}
	return prefixes, true
}
