package osregex

import "strings"

// finder searches for a fixed needle, comparing ASCII letters without
// regard to case. The zero finder has an empty needle.
type finder struct {
	needle string // folded to lower case
	// exact is set when the needle has no letter: plain strings.Index works.
	exact bool
	// The anchor is the needle byte whose occurrences drive the search: a
	// non-letter when there is one (one exact byte to look for), else the
	// first letter (two cases to look for).
	off    int
	a1, a2 byte
}

func newFinder(needle string) finder {
	var f finder
	if needle == "" {
		return f
	}
	b := []byte(needle)
	f.exact = true
	for i := range b {
		b[i] = lower(b[i])
		if isAlpha(b[i]) {
			f.exact = false
		}
	}
	f.needle = string(b)
	// Anchor on the byte expected to be rarest in log text.
	for i := range b {
		if byteRank(b[i]) < byteRank(b[f.off]) {
			f.off = i
		}
	}
	f.a1, f.a2 = b[f.off], b[f.off]
	if isAlpha(f.a1) {
		f.a2 = f.a1 - ('a' - 'A')
	}
	return f
}

// byteRank is a rough frequency of a byte in log lines (both cases counted
// for letters): space first, then common lower-case letters, digits and
// common separators; rare punctuation and control bytes last.
func byteRank(c byte) int {
	switch {
	case c == ' ':
		return 100
	case strings.IndexByte("etaoinsrlcd", c) >= 0:
		return 80
	case c >= 'a' && c <= 'z':
		return 55
	case isDigit(c):
		return 60
	case strings.IndexByte(".:/-=\",", c) >= 0:
		return 45
	case c < 0x20 || c >= 0x7f:
		return 5
	}
	return 15
}

// equalFold reports whether s equals the folded text t, folding ASCII
// letters of s.
func equalFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != t[i] && lower(c) != t[i] {
			return false
		}
	}
	return true
}

// hasPrefixFold and hasSuffixFold compare with a folded t.
func hasPrefixFold(s, t string) bool { return len(s) >= len(t) && equalFold(s[:len(t)], t) }
func hasSuffixFold(s, t string) bool {
	return len(s) >= len(t) && equalFold(s[len(s)-len(t):], t)
}

// index returns the first position ≥ from where the needle occurs in s, or
// -1.
func (f *finder) index(s string, from int) int {
	n := len(f.needle)
	if n == 0 {
		if from <= len(s) {
			return from
		}
		return -1
	}
	if from+n > len(s) {
		return -1
	}
	if f.exact {
		if i := strings.Index(s[from:], f.needle); i >= 0 {
			return from + i
		}
		return -1
	}
	last := len(s) - n + f.off // the last position the anchor can be at
	i := from + f.off
	if f.a1 == f.a2 {
		for i <= last {
			j := strings.IndexByte(s[i:last+1], f.a1)
			if j < 0 {
				return -1
			}
			i += j
			if equalFold(s[i-f.off:i-f.off+n], f.needle) {
				return i - f.off
			}
			i++
		}
		return -1
	}
	// Two cases of a letter: keep the next occurrence of each.
	n1, n2 := -2, -2 // -2: not searched yet; -1: none left
	for i <= last {
		if n1 != -1 && n1 < i {
			n1 = strings.IndexByte(s[i:last+1], f.a1)
			if n1 >= 0 {
				n1 += i
			}
		}
		if n2 != -1 && n2 < i {
			n2 = strings.IndexByte(s[i:last+1], f.a2)
			if n2 >= 0 {
				n2 += i
			}
		}
		switch {
		case n1 < 0 && n2 < 0:
			return -1
		case n1 < 0:
			i = n2
		case n2 < 0:
			i = n1
		default:
			i = min(n1, n2)
		}
		if equalFold(s[i-f.off:i-f.off+n], f.needle) {
			return i - f.off
		}
		i++
	}
	return -1
}
