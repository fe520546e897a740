package osregex

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRegexBehaviour pins behaviour documented by Wazuh's bug reports and
// documentation, beyond the conformance cases.
func TestRegexBehaviour(t *testing.T) {
	type result struct {
		match bool
		end   string // s[end:]
		caps  []string
	}
	no := result{}
	yes := func(end string, caps ...string) result { return result{true, end, caps} }
	tests := []struct {
		pattern, log string
		want         result
		why          string
	}{
		// wazuh/wazuh#3378: a group closing at the end of the input and
		// followed by an optional token captures "" unless it is one byte.
		{`(\d+)\s*`, "4", yes("4", "4"), "#3378"},
		{`(\d+)\s*`, "44", yes("4", ""), "#3378"},
		{`(\d+)\s*`, "444", yes("4", ""), "#3378"},
		{`(\d+)\s*`, "444 ", yes(" ", "444"), "#3378"},
		{`(\d+)\s+`, "44444 ", yes(" ", "44444"), "#3378"},
		{`(\d+)`, "444", yes("4", "444"), "group closing at the end"},
		// wazuh/wazuh#14420: a group opening at the end of the input
		// captures nothing; one more optional token and there is no match.
		{`asd(\d*)`, "asd", yes("d"), "#14420"},
		{`asd(\d*)`, "asd123", yes("3", "123"), "#14420"},
		{`asd(\d*)\w*`, "asd", no, "#14420"},
		{`asd(\d*)\w*`, "asd123", yes("3", ""), "#14420"},
		{`^(\w*)$`, "", yes(""), "#14420"},
		{`^(\w*)$`, "123", yes("3", "123"), "#14420"},
		// Adjacent groups never match (#14420 bug 1).
		{`(\d+)(\D+)`, "123asd", no, "#14420 bug 1"},
		{`\d+\D+`, "123asd", yes("d"), "#14420 bug 1"},
		{`(\d+)\s(\D+)`, "123 asd", yes("d", "123", "asd"), "#14420 bug 1"},
		// Only four stopping points are remembered (#14420 bug 6).
		{`\w*1 \w*2 \w*3 \w*4 \w*5 \w*6`, "z1 x2 x3 x4x4 x5 x6", yes("6"), "#14420 bug 6"},
		{`\w*1 \w*2 \w*3 \w*4 \w*5 \w*6`, "z1 x2 x3 x4 x5x5 x6", no, "#14420 bug 6"},
		{`\w+1 \w+2 \w+3 \w+4 \w+5 \w+6`, "z1 x2 x3 x4 x5x5 x6", no, "#14420 bug 6"},
		// A stop on a byte the class itself rejects is no stopping point and
		// uses up none of the four: Wazuh records one only on a byte both
		// the class and the next token accept. Below, the stops of \w+, \d+,
		// \p*, \w+ and \d+ on spaces and letters are of that kind, so the
		// stop of \S+ on the "/" after "var" is still remembered and the
		// match resumes from it (ar_log prematch, ossec.ini rules 601-604).
		{`^\w\w\w \w+\s+\d+ \d\d:\d\d:\d\d \p*\w+ \d+ /\S+/active-response/bin/|^\w\w\w \d\d/\d\d/\d\d\d\d \.+"active-response/bin/|^\d\d/\d\d/\d\d\d\d \.+"active-response/bin/`,
			"Sat May  7 03:17:27 CDT 2011 /var/ossec/active-response/bin/host-deny.sh add - 172.16.0.1 1304756247.60385 31151",
			yes("/host-deny.sh add - 172.16.0.1 1304756247.60385 31151"), "ar_log prematch"},
		{`^\w\w\w \w+\s+\d+ \d\d:\d\d:\d\d \p*\w+ \d+ /\S+/active-response/bin/`,
			"Sat May  7 03:27:57 CDT 2011 /var/ossec/active-response/bin/firewall-drop.sh delete - 172.16.0.1 1304756247.60385 31151",
			yes("/firewall-drop.sh delete - 172.16.0.1 1304756247.60385 31151"), "ar_log prematch"},
		{`\d+ \d+ \d+ \d+ /\S+/b/`, "1 2 3 4 /a/x/b/", yes("/"), "rejected-byte stops are not retry points"},
		{`\w+ \w+ \w+ \w+ \w+ (\S+)/b`, "a b c d e x/y/b", yes("b", "x/y"), "rejected-byte stops are not retry points"},
		// Stops on bytes both accept still count: the fifth is lost.
		{`\w*1\w*2\w*3\w*4\w*5/`, "x1x2x3x4x5x5/", no, "#14420 bug 6"},
		{`\w*1\w*2\w*3\w*4\w*5/`, "x1x2x3x4x5/", yes("/"), "#14420 bug 6"},
		// Empty inputs and patterns (wazuh/wazuh#7495).
		{``, ``, yes(""), "#7495"},
		{``, `a`, yes("a"), "#7495"},
		{`^$`, ``, yes(""), "#7495"},
		{`^`, ``, yes(""), "#7495"},
		{`$`, ``, yes(""), "#7495"},
		{`\.*`, ``, yes(""), "#7495"},
		{`(\.*)`, ``, yes(""), "#7495"},
		{`^$`, `a`, no, "#7495"},
		{`$`, `a`, no, "#7495"},
		{`\d*`, `abcdefg`, yes("abcdefg"), "#14249 (expected value)"},
		// A final quantifier stopped by a mismatch reports the mismatching
		// byte (wazuh/wazuh#7470: after_prematch then skips it).
		{`\s*uvm[0]:\s+`, `INFO  uvm[0]:  {"reason":"x"}`, yes(`{"reason":"x"}`), "#7470"},
		{`\d+`, `ab12cd`, yes("cd"), "final quantifier"},
		{`(\d+)`, `ab12cd`, yes("2cd", "12"), "final group"},
		{`\d+`, `ab12`, yes("2"), "final quantifier at the end"},
		// Group terminators (wazuh/wazuh#2216, #2224).
		{`key="(\S+)"`, `key="hello"`, yes(`"`, "hello"), "#2216"},
		{`key="(\S+)"`, `key="hello".`, yes(`".`, "hello"), "#2216"},
		{`key="(\S+)`, `key="hello`, yes("o", "hello"), "#2216"},
		{`key=\p(\S+)\p`, `key=(null) list=1 res=1`, yes(") list=1 res=1", "null"), "#2224"},
		{`key=\((\S+)\)|key="(\S+)"|key=(\S+) `, `op=add_rule key=(null) list=1 res=1`, yes(") list=1 res=1", "null"), "#2224"},
		{`^failed: \S+ changing from (\S+) to (\S+)`, `failed: ttyq4 changing from ldap to root`, yes("t", "ldap", "root"), "#2224"},
		{`(\S+).$`, `jones_b.`, yes(".", "jones_b"), "ossec#1656"},
		{`^regexbug \((\.+)\)$`, `regexbug (my text here)`, yes(")", "my text here"), "#570"},
		// Literals: . * + ? [ ] { } are plain characters; case is ignored.
		{`^\D\D.*\d\d`, `!!sk8er`, no, "ossec#1655"},
		{`a.b`, `AxB a.B`, yes("B"), "literal dot"},
		{`x+`, `xx+`, yes("+"), "literal plus"},
		{`^sshd[\d+]: `, `sshd[123]: Accepted`, yes(" Accepted"), "literal brackets"},
		{`HELLO (\w+)`, `say hello World!`, yes("d!", "World"), "case-insensitive"},
		// No backtracking into a quantifier that consumed its stop byte
		// (documentation: \p*\d*\s*\w*: does not match ":").
		{`\p*\d*\s*\w*:`, `:`, no, "docs"},
		{`(\S+)x`, `abxcdx`, yes("xcdx", "ab"), "spec: lazy"},
		{`(\S+)x$`, `abxcdx`, yes("x", "abxcd"), "spec: retry"},
		// Escapes.
		{`\$\(\)\|\<\\`, `a$()|<\b`, yes(`\b`), "literal escapes"},
		{`\d\D\w\W\s\S\t\p\.`, "1a_! x\t;\x00", yes("\x00"), "classes"},
		{`\(+x`, `((x`, yes("x"), "quantified literal escape"},
	}
	for _, tc := range tests {
		re, err := Compile(tc.pattern)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.pattern, err)
			continue
		}
		end, caps, ok := re.ExecuteEnd(tc.log)
		got := result{match: ok}
		if ok {
			got.end, got.caps = tc.log[end:], caps
		}
		if got.match != tc.want.match || got.end != tc.want.end || !slices.Equal(got.caps, tc.want.caps) && len(got.caps)+len(tc.want.caps) > 0 {
			t.Errorf("%s: %q on %q = %v %q %q, want %v %q %q", tc.why, tc.pattern, tc.log,
				got.match, got.end, got.caps, tc.want.match, tc.want.end, tc.want.caps)
		}
		if re.Match(tc.log) != ok {
			t.Errorf("%q on %q: Match disagrees with ExecuteEnd", tc.pattern, tc.log)
		}
		if e, m := re.MatchEnd(tc.log); m != ok || m && e != end {
			t.Errorf("%q on %q: MatchEnd = %d %v, ExecuteEnd = %d %v", tc.pattern, tc.log, e, m, end, ok)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		pattern string
		offset  int
		msg     string
	}{
		{`\n`, 0, `invalid escape "\\n"`},
		{`abc\*`, 3, `invalid escape "\\*"`},
		{`a\-b`, 1, `invalid escape "\\-"`},
		{`\[\d+\]`, 0, `invalid escape "\\["`},
		{`x|\>`, 2, `invalid escape "\\>"`},
		{`abc\`, 3, `trailing "\"`},
		{`a(b(c))`, 3, `nested "(" (group opened at offset 1)`},
		{`a)b`, 1, `unmatched ")"`},
		{`(a|b)`, 2, `"|" inside a group (opened at offset 0)`},
		{`x(ab`, 1, `unclosed "("`},
		{`(a)|(b`, 4, `unclosed "("`},
	}
	for _, tc := range tests {
		_, err := Compile(tc.pattern)
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Errorf("Compile(%q) = %v, want a *CompileError", tc.pattern, err)
			continue
		}
		if ce.Offset != tc.offset || ce.Msg != tc.msg {
			t.Errorf("Compile(%q): offset %d msg %q, want offset %d msg %q", tc.pattern, ce.Offset, ce.Msg, tc.offset, tc.msg)
		}
		if !strings.Contains(err.Error(), "offset") {
			t.Errorf("Compile(%q): error %q does not name the position", tc.pattern, err)
		}
	}
	for _, ok := range []string{``, `^`, `$`, `^$`, `|`, `a||b`, `()`, `x+*.?[]{}`, `\w+\W*\s\S\d\D\p\t\.`, `\$\(\)\\\|\<`, `a$b`, `^^`, `$$`} {
		if _, err := Compile(ok); err != nil {
			t.Errorf("Compile(%q): %v", ok, err)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "xxABCxx", true},
		{"abc", "xxabxcx", false},
		{"^abc", "abcdef", true},
		{"^abc", "xabc", false},
		{"abc$", "xxAbC", true},
		{"abc$", "abcx", false},
		{"^abc$", "ABC", true},
		{"^abc$", "abcc", false},
		{"^$", "", true},
		{"^$", "a", false},
		{"^", "anything", true},
		{"$", "anything", true},
		{"", "anything", true},
		{"a|", "zzz", true}, // empty alternative
		{"foo|bar|^baz$", "xbarx", true},
		{"foo|bar|^baz$", "baz", true},
		{"foo|bar|^baz$", "bazz", false},
		{"!foo", "bar", true},
		{"!foo", "xFOOx", false},
		{"!^foo|bar$", "foox", false},
		{"!^foo|bar$", "xbar", false},
		{"!^foo|bar$", "xbarx", true},
		{"test1|!test2", "test3", false}, // ! only negates at the start (#4312)
		{"test1|!test2", "x!TEST2", true},
		{`a\b`, `xa\bx`, true}, // no escapes
		{`a\|b`, `a\`, true},   // | cannot be escaped
		{"^a$b", "a$b", true},  // $ only at the end
		{"ä", "Ä", false},      // ASCII folding only
		{"Failed password", "sshd: failed PASSWORD for root", true},
		{"password", "passwor", false},
		{"sword|xyz|qq", "PASSWORD", true},
		{"swore|xyz|qq", "PASSWORD", false},
	}
	for _, tc := range tests {
		m, err := CompileMatch(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match(tc.s); got != tc.want {
			t.Errorf("CompileMatch(%q).Match(%q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
		var set ByteSet
		set.Add(tc.s)
		if got := m.MatchSet(tc.s, &set); got != tc.want {
			t.Errorf("CompileMatch(%q).MatchSet(%q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// TestFinder compares the case-insensitive search with a naive one.
func TestFinder(t *testing.T) {
	hay := []string{"", "a", "Ab", "xAbAB", "ab:AB:aB", "[1] [2]", "zzzzzzzzzzQz", "ab ab Ab aB AB", "::a::"}
	needles := []string{"a", "ab", "AB", "b", ":", ":a", "a:", "[2]", "qz", "zq", "ab ab", " ab", "::a::", "xyz"}
	for _, h := range hay {
		for _, n := range needles {
			f := newFinder(n)
			for from := 0; from <= len(h)+1; from++ {
				want := -1
				if from <= len(h) {
					if i := strings.Index(strings.ToLower(h[from:]), strings.ToLower(n)); i >= 0 {
						want = from + i
					}
				}
				if got := f.index(h, from); got != want {
					t.Errorf("index(%q, %q, %d) = %d, want %d", h, n, from, got, want)
				}
			}
		}
	}
}

// TestPathological checks that matching stays fast on inputs that make a
// naive implementation of this retry scheme explode.
func TestPathological(t *testing.T) {
	big := strings.Repeat("a", 64<<10)
	tests := []struct{ pattern, s string }{
		{`\w+\w+\w+\w+\w+\w+!`, big},
		{`\w*\w*\w*\w*\w*\w*\w*\w*b$`, big},
		{`(\w+a)$`, big + "!"},
		{`\w+\w+\w+\w+\W\w$`, big + "a"},
		{`(\w+\w+\w+\w+\W)`, big},
		{`\w*\w*\w*\w*(\w*)\W`, big},
		{`\.*a\.*a\.*a\.*a\.*a\.*b`, big},
		{`a\w+a\w+a\w+a\w+a\w+a\w+!`, big},
		{`\S+\S+\S+\S+ \S+`, strings.Repeat("ab", 32<<10)},
		{`\w+_1 \w+_2 \w+_3 \w+_4 \w+_5 \w+_6`, strings.Repeat("wa_1 wa_2 wa_3 wa_4 wa_5 ", 2700)},
	}
	for _, tc := range tests {
		re := MustCompile(tc.pattern)
		start := time.Now()
		re.Match(tc.s)
		re.Execute(tc.s)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%q on %d bytes took %v", tc.pattern, len(tc.s), d)
		} else {
			t.Logf("%q on %d bytes: %v", tc.pattern, len(tc.s), d)
		}
	}
}

// TestSparseMemo runs a pathological search with the map memo used for
// inputs too long for the bitmap one.
func TestSparseMemo(t *testing.T) {
	saved := maxMemoBits
	defer func() { maxMemoBits = saved }()
	maxMemoBits = 1 << 10
	big := strings.Repeat("a", 16<<10)
	re := MustCompile(`\w+\w+\w+\w+\w+\w+\w+!`)
	start := time.Now()
	if re.Match(big) {
		t.Fatal("matched")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("%d bytes took %v", len(big), d)
	} else {
		t.Logf("%d bytes: %v", len(big), d)
	}
}

// TestMemoAgrees checks that the memoised search (forced from the first
// step) gives the same results as the plain one.
func TestMemoAgrees(t *testing.T) {
	patterns := []string{`(\S+)x$`, `^(\d+)\w$`, `\w*1 \w*2 \w*3 \w*4 \w*5 \w*6`, `\w+\d.`, `(\w+\w)$`,
		`a\w*b\w*c`, `(\d+)\s*`, `^\d*(\w)$`, `\p*(\w+)\p*`, `\s*\w+\s*:\s*(\S+)`, `\w+1 \w+2 \w+3 \w+4 \w+5 \w+6`}
	inputs := []string{"abxcdx", "12345", "z1 x2 x3 x4x4 x5 x6", "z1 x2 x3 x4 x5x5 x6", "123456.", "ab_cd-ef",
		"aXbYcZ abc", "44", "12345&&", `comm="sshd" x`, "  key : value ", "", "x"}
	type res struct {
		end  int
		caps []string
		ok   bool
	}
	run := func(re *Regex, s string) res {
		end, caps, ok := re.ExecuteEnd(s)
		return res{end, caps, ok}
	}
	saved := stepBudget
	defer func() { stepBudget = saved }()
	for _, p := range patterns {
		re := MustCompile(p)
		for _, s := range inputs {
			stepBudget = saved
			plain := run(re, s)
			stepBudget = func(int) int { return 0 }
			memo := run(re, s)
			if plain.ok != memo.ok || plain.end != memo.end || !slices.Equal(plain.caps, memo.caps) {
				t.Errorf("%q on %q: plain %+v, memoised %+v", p, s, plain, memo)
			}
		}
	}
}

// TestRandomDifferential compares, on small random patterns and inputs, the
// default search, the search memoised from the first step and the search
// that never memoises.
func TestRandomDifferential(t *testing.T) {
	pieces := []string{`\w+`, `\w*`, `\d+`, `\d*`, `\s`, `\s*`, `\p+`, `\S+`, `\.*`, `a`, `b`, `1`, ` `, `(`, `)`, `|`, `$`, `^`}
	bytes := "ab1 _-!"
	rng := uint64(42)
	next := func(n int) int {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return int(rng % uint64(n))
	}
	saved := stepBudget
	defer func() { stepBudget = saved }()
	budgets := []func(int) int{saved, func(int) int { return 0 }, func(int) int { return 1 << 50 }}
	checked := 0
	for i := 0; i < 20000; i++ {
		var pb strings.Builder
		for k := next(7) + 1; k > 0; k-- {
			pb.WriteString(pieces[next(len(pieces))])
		}
		re, err := Compile(pb.String())
		if err != nil {
			continue
		}
		var sb strings.Builder
		for k := next(10); k > 0; k-- {
			sb.WriteByte(bytes[next(len(bytes))])
		}
		s := sb.String()
		var first struct {
			end  int
			caps []string
			ok   bool
		}
		for bi, b := range budgets {
			stepBudget = b
			end, caps, ok := re.ExecuteEnd(s)
			if e, m := re.MatchEnd(s); m != ok || m && e != end {
				t.Fatalf("%q on %q: budget %d: MatchEnd = %d %v, ExecuteEnd = %d %v", pb.String(), s, bi, e, m, end, ok)
			}
			if bi == 0 {
				first.end, first.caps, first.ok = end, caps, ok
				continue
			}
			if ok != first.ok || end != first.end || !slices.Equal(caps, first.caps) {
				t.Fatalf("%q on %q: budget %d gives (%d %q %v), default (%d %q %v)",
					pb.String(), s, bi, end, caps, ok, first.end, first.caps, first.ok)
			}
		}
		checked++
	}
	t.Logf("%d random cases agree", checked)
}

func TestMatchPrefixes(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		want    []string
		ok      bool
	}{
		{"^sshd", []string{"sshd"}, true},
		{"^SSHD|^Tel", []string{"sshd", "tel"}, true},
		{"^a|b", nil, false},
		{"!^a", nil, false},
		{"^a|", nil, false},
		{"^x$", []string{"x"}, true},
		{"^", nil, false},
	} {
		m, _ := CompileMatch(tt.pattern)
		got, ok := m.Prefixes()
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("Prefixes(%q) = %q %v, want %q %v", tt.pattern, got, ok, tt.want, tt.ok)
		}
	}
}
