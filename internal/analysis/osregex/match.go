package osregex

// Match is a compiled OS_Match ("sregex") pattern. It is safe for
// concurrent use.
type Match struct {
	pattern string
	negate  bool
	alts    []matchAlt
	// always is set when an alternative matches every input ("", "^", "$").
	always bool
}

type matchAlt struct {
	begin, end bool
	f          finder // folded needle and its search helper
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
	m.alts = append(m.alts, a)
}

// String returns the source pattern.
func (m *Match) String() string { return m.pattern }

// Match reports whether s matches the pattern (after negation).
func (m *Match) Match(s string) bool {
	return m.match(s) != m.negate
}

func (m *Match) match(s string) bool {
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
			if a.f.index(s, 0) >= 0 {
				return true
			}
		}
	}
	return false
}
