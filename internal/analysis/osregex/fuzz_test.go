package osregex

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzRegex checks that compiling and matching never panic, never run long,
// and report ends and captures inside the input; and that the memoised
// search agrees with the default one.
func FuzzRegex(f *testing.F) {
	seeds := [][2]string{
		{`^Failed \S+ for (\S+) from (\S+) port \d+ ssh2`, "Failed password for root from 10.0.0.1 port 22 ssh2"},
		{`(\S+)x$`, "abxcdx"},
		{`\w*1 \w*2 \w*3 \w*4 \w*5 \w*6`, "z1 x2 x3 x4x4 x5 x6"},
		{`(\d+)\s*`, "444"},
		{`asd(\d*)\w*`, "asd123"},
		{`^$|^\d|\d$|\s(\w+)`, "^hi*digits*asd$"},
		{`\p+`, `Special characters are $()|<\`},
		{`(a)(b)`, "ab"},
		{`\.*a\.*a\.*b`, "aaaaaaaaaaaaaaaaaaaaaaaa"},
		{`x(\w+)|y(\d*)$`, "y"},
		{`a\`, "a"},
		{`(`, ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	saved := stepBudget
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 256 || len(s) > 4096 {
			return
		}
		re, err := Compile(pattern)
		if err != nil {
			if !strings.Contains(err.Error(), "offset") {
				t.Fatalf("error %q does not name the position", err)
			}
			return
		}
		start := time.Now()
		end, caps, ok := re.ExecuteEnd(s)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%q on %d bytes took %v", pattern, len(s), d)
		}
		if ok != re.Match(s) {
			t.Fatalf("Match disagrees with ExecuteEnd")
		}
		if ok {
			if end < 0 || end >= len(s) && end != 0 {
				t.Fatalf("end %d out of range for %d bytes", end, len(s))
			}
			if len(caps) > re.NumGroups() {
				t.Fatalf("%d captures, pattern has at most %d groups", len(caps), re.NumGroups())
			}
			for _, c := range caps {
				if !strings.Contains(s, c) {
					t.Fatalf("capture %q not in input", c)
				}
			}
		} else if len(caps) != 0 {
			t.Fatalf("captures without a match")
		}
		stepBudget = func(int) int { return 0 }
		end2, caps2, ok2 := re.ExecuteEnd(s)
		stepBudget = saved
		if ok2 != ok || end2 != end || !slices.Equal(caps, caps2) {
			t.Fatalf("memoised search gives (%d %q %v), default (%d %q %v)", end2, caps2, ok2, end, caps, ok)
		}
	})
}

// FuzzMatch compares OS_Match with a direct reading of its definition.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{{"abc", "xABCx"}, {"!^foo|bar$", "xbar"}, {"^$", ""}, {"a||b", "z"}, {"^ab$", "AB"}} {
		f.Add(s[0], s[1])
	}
	fold := func(s string) string {
		b := []byte(s)
		for i := range b {
			b[i] = lower(b[i])
		}
		return string(b)
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		m, err := CompileMatch(pattern)
		if err != nil {
			t.Fatal(err)
		}
		p, neg := pattern, false
		if strings.HasPrefix(p, "!") {
			p, neg = p[1:], true
		}
		want := false
		for _, alt := range strings.Split(p, "|") {
			begin, end := strings.HasPrefix(alt, "^"), false
			if begin {
				alt = alt[1:]
			}
			if strings.HasSuffix(alt, "$") {
				end, alt = true, alt[:len(alt)-1]
			}
			ls, la := fold(s), fold(alt)
			switch {
			case begin && end:
				want = want || ls == la
			case begin:
				want = want || strings.HasPrefix(ls, la)
			case end:
				want = want || strings.HasSuffix(ls, la)
			default:
				want = want || strings.Contains(ls, la)
			}
		}
		if got := m.Match(s); got != (want != neg) {
			t.Fatalf("CompileMatch(%q).Match(%q) = %v, want %v", pattern, s, got, want != neg)
		}
		var set ByteSet
		set.Add(s)
		if got := m.MatchSet(s, &set); got != (want != neg) {
			t.Fatalf("CompileMatch(%q).MatchSet(%q) = %v, want %v", pattern, s, got, want != neg)
		}
	})
}
