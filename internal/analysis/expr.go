package analysis

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dlclark/regexp2/v2"
	"github.com/riposte/riposte/internal/analysis/osregex"
)

// exprKind is the dialect of a pattern.
type exprKind uint8

const (
	kindOSMatch exprKind = iota
	kindOSRegex
	kindPCRE2
	kindExact // <action>: case-sensitive equality
)

// expr is a compiled rule pattern with its negation.
type expr struct {
	kind   exprKind
	negate bool
	match  *osregex.Match
	regex  *osregex.Regex
	pcre   *regexp2.Regexp
	exact  string
}

// compileExpr compiles pattern in the dialect named by typ ("" = def).
func compileExpr(pattern, typ string, def exprKind, negate bool) (*expr, error) {
	k := def
	switch strings.ToLower(typ) {
	case "":
	case "osmatch":
		k = kindOSMatch
	case "osregex":
		k = kindOSRegex
	case "pcre2":
		k = kindPCRE2
	}
	e := &expr{kind: k, negate: negate}
	var err error
	switch k {
	case kindOSMatch:
		e.match, err = osregex.CompileMatch(pattern)
	case kindOSRegex:
		e.regex, err = osregex.Compile(pattern)
	case kindPCRE2:
		e.pcre, err = compilePCRE(pattern)
	case kindExact:
		e.exact = pattern
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// pcreVerbs are PCRE2 start-of-pattern options regexp2 does not know; they
// do not change matching on the inputs Wazuh feeds.
var pcreVerbs = []string{"(*UTF)", "(*UCP)", "(*UTF8)", "(*CRLF)", "(*LF)", "(*ANYCRLF)", "(*ANY)"}

// pcreTimeout bounds one PCRE2 match.
const pcreTimeout = 100 * time.Millisecond

var unicodeName = regexp2.MustCompile(`\\N\{U\+([0-9A-Fa-f]{1,4})\}`, regexp2.None)

func compilePCRE(pattern string) (*regexp2.Regexp, error) {
	for changed := true; changed; {
		changed = false
		for _, v := range pcreVerbs {
			if strings.HasPrefix(pattern, v) {
				pattern, changed = pattern[len(v):], true
			}
		}
	}
	if strings.Contains(pattern, `\N{U+`) {
		pattern, _ = unicodeName.ReplaceFunc(pattern, func(m regexp2.Match) string {
			h := m.GroupByNumber(1).String()
			return `\u` + strings.Repeat("0", 4-len(h)) + h
		}, -1, -1)
	}
	re, err := regexp2.Compile(pattern, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("pcre2 %q: %w", pattern, err)
	}
	// A runaway backtracking match counts as no match, as PCRE2's match
	// limit makes it in Wazuh.
	re.MatchTimeout = pcreTimeout
	return re, nil
}

// test matches s, applying the negation.
func (e *expr) test(s string) bool {
	var ok bool
	switch e.kind {
	case kindOSMatch:
		ok = e.match.Match(s)
	case kindOSRegex:
		ok = e.regex.Match(s)
	case kindPCRE2:
		ok, _ = e.pcre.MatchString(s)
	case kindExact:
		ok = s == e.exact
	}
	return ok != e.negate
}

// capturer is a decoder pattern: it reports where decoding continues after
// the match (the byte after Wazuh's end pointer) and the captures.
type capturer struct {
	regex *osregex.Regex
	pcre  *regexp2.Regexp
}

func compileCapturer(pattern, typ string) (*capturer, error) {
	switch strings.ToLower(typ) {
	case "pcre2":
		re, err := compilePCRE(pattern)
		if err != nil {
			return nil, err
		}
		return &capturer{pcre: re}, nil
	case "", "osregex":
		re, err := osregex.Compile(pattern)
		if err != nil {
			return nil, err
		}
		return &capturer{regex: re}, nil
	}
	return nil, fmt.Errorf("unknown pattern type %q", typ)
}

// exec matches s; next is the index in s where an offset="after_..."
// pattern continues. caps is appended to dst.
func (c *capturer) exec(dst []string, s string) (next int, caps []string, ok bool) {
	if c.regex != nil {
		end, caps, ok := c.regex.ExecuteAppend(dst, s)
		if !ok {
			return 0, dst, false
		}
		return min(end+1, len(s)), caps, true
	}
	m, err := c.pcre.FindStringMatch(s)
	if err != nil || m == nil {
		return 0, dst, false
	}
	idx, n := m.ByteRange()
	groups := m.Groups()
	for _, g := range groups[1:] {
		if len(g.Captures) == 0 {
			dst = append(dst, "")
			continue
		}
		dst = append(dst, g.String())
	}
	return idx + n, dst, true
}

// test reports whether s matches.
func (c *capturer) test(s string) (next int, ok bool) {
	if c.regex != nil {
		end, ok := c.regex.MatchEnd(s)
		if !ok {
			return 0, false
		}
		return min(end+1, len(s)), true
	}
	m, err := c.pcre.FindStringMatch(s)
	if err != nil || m == nil {
		return 0, false
	}
	idx, n := m.ByteRange()
	return idx + n, true
}

// ipList is a <srcip>/<dstip> list: addresses or prefixes, "any", each
// optionally negated with "!".
type ipList struct {
	entries []ipEntry
}

type ipEntry struct {
	any    bool
	not    bool
	prefix netip.Prefix
}

func parseIPList(s string) (*ipList, error) {
	l := &ipList{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		var e ipEntry
		if strings.HasPrefix(f, "!") {
			e.not = true
			f = f[1:]
		}
		if strings.EqualFold(f, "any") {
			e.any = true
			l.entries = append(l.entries, e)
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				// Wazuh also accepts dotted netmasks: a.b.c.d/255.255.0.0.
				i := strings.IndexByte(f, '/')
				a, err1 := netip.ParseAddr(f[:i])
				m, err2 := netip.ParseAddr(f[i+1:])
				if err1 != nil || err2 != nil || !m.Is4() {
					return nil, fmt.Errorf("invalid address %q", f)
				}
				b := m.As4()
				bits := 0
				for _, x := range b {
					for x&0x80 != 0 {
						bits++
						x <<= 1
					}
				}
				p = netip.PrefixFrom(a, bits)
			}
			e.prefix = p.Masked()
		} else {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("invalid address %q", f)
			}
			e.prefix = netip.PrefixFrom(a, a.BitLen())
		}
		l.entries = append(l.entries, e)
	}
	return l, nil
}

// contains reports whether the address s matches the list the way Wazuh
// walks it: the first entry containing the address decides (true, unless
// a negated entry has been seen so far); when none contains it, the result
// is true only if the list has a negated entry.
func (l *ipList) contains(s string) bool {
	a, err := netip.ParseAddr(s)
	result := true
	for _, e := range l.entries {
		if e.not {
			result = false
		}
		if e.any || err == nil && e.prefix.Contains(a) {
			return result
		}
	}
	return !result
}
