package analysis

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// compatDir is the Wazuh 4.9.2 conformance data, seen from this package.
const compatDir = "../../../shared/compat/wazuh-4.9.2"

// conformanceFloor is the number of passing ini cases reached so far; the
// test fails when a change drops below it.
const conformanceFloor = 297

// iniCase is one "log ... pass|fail" key of a section.
type iniCase struct {
	section string
	lines   []string
	pass    bool
	rule    string
	alert   string
	decoder string
}

// parseIni reads a wazuh-logtest .ini file the way Python 2's
// RawConfigParser with a multi-value dict does: repeated keys append,
// repeated sections merge, option names are lower-cased. With py2Cut a
// value is also cut at the first ';' preceded by whitespace, as Python 2
// did (spec §1.2); without it log lines are fed whole.
func parseIni(path string, py2Cut bool) ([]iniCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type section struct {
		name string
		keys []string
		vals map[string][]string
	}
	var order []*section
	byName := map[string]*section{}
	var cur *section
	lastKey := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur != nil && lastKey != "" {
				v := cur.vals[lastKey]
				v[len(v)-1] += "\n" + strings.TrimSpace(line)
			}
			continue
		}
		if line[0] == '[' {
			name := strings.TrimSuffix(strings.TrimSpace(line[1:]), "]")
			if s, ok := byName[name]; ok {
				cur = s
			} else {
				cur = &section{name: name, vals: map[string][]string{}}
				byName[name] = cur
				order = append(order, cur)
			}
			lastKey = ""
			continue
		}
		if cur == nil {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			continue
		}
		key := strings.ToLower(strings.TrimSpace(line[:i]))
		val := strings.TrimSpace(line[i+1:])
		if j := strings.IndexByte(val, ';'); py2Cut && j > 0 && (val[j-1] == ' ' || val[j-1] == '\t') {
			val = strings.TrimSpace(val[:j])
		}
		if val == `""` {
			val = ""
		}
		if _, ok := cur.vals[key]; !ok {
			cur.keys = append(cur.keys, key)
		}
		cur.vals[key] = append(cur.vals[key], val)
		lastKey = key
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var out []iniCase
	for _, s := range order {
		join := func(k string) string { return strings.Join(s.vals[k], "\n") }
		for _, k := range s.keys {
			if !strings.HasPrefix(k, "log ") {
				continue
			}
			out = append(out, iniCase{
				section: s.name,
				lines:   s.vals[k],
				pass:    strings.HasSuffix(k, " pass"),
				rule:    join("rule"),
				alert:   join("alert"),
				decoder: join("decoder"),
			})
		}
	}
	return out, nil
}

// loadCompat loads the conformance ruleset as its README says.
func loadCompat(tb testing.TB) *Engine {
	tb.Helper()
	if _, err := os.Stat(compatDir); err != nil {
		tb.Skipf("Wazuh conformance data not found at %s: %v", compatDir, err)
	}
	test, err := filepath.Glob(filepath.Join(compatDir, "testing/ruleset/test_*.xml"))
	if err != nil {
		tb.Fatal(err)
	}
	var decs, rules []string
	for _, f := range test {
		if strings.Contains(filepath.Base(f), "decoders") {
			decs = append(decs, f)
		} else {
			rules = append(rules, f)
		}
	}
	e, err := Load(Options{
		Decoders: append([]string{filepath.Join(compatDir, "ruleset/decoders"), filepath.Join(compatDir, "ruleset/etc/local_decoder.xml")}, decs...),
		Rules:    append([]string{filepath.Join(compatDir, "ruleset/rules"), filepath.Join(compatDir, "ruleset/etc/local_rules.xml")}, rules...),
		Exclude:  []string{"0215-policy_rules.xml"},
		Lists:    []string{filepath.Join(compatDir, "ruleset/lists/audit-keys")},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// runCase feeds a case's lines into a fresh session and returns the
// (rule id, level, decoder) record of the last line.
func runCase(e *Engine, c iniCase) [3]string {
	sess := NewSession()
	var got [3]string
	for _, l := range c.lines {
		if l == "" {
			continue
		}
		res, err := e.Process(sess, "stdin", l)
		got = [3]string{}
		if err != nil {
			continue
		}
		if res.Rule != nil {
			got[0] = strconv.Itoa(res.Rule.ID)
			got[1] = strconv.Itoa(res.Rule.Level)
		}
		got[2] = res.Decoder
	}
	return got
}

// judge applies wazuh-logtest's exit-code contract.
func judge(c iniCase, got [3]string) bool {
	want := [3]string{c.rule, c.alert, c.decoder}
	empties := 0
	for _, w := range want {
		if w == "" {
			empties++
		}
	}
	ok := got == want && empties == 0
	if c.pass {
		return ok
	}
	return !ok
}

// vacuous reports a check wazuh-logtest passes whatever happens: a fail
// case with an empty or multi-line expected field.
func vacuous(c iniCase) bool {
	if c.pass {
		return false
	}
	for _, w := range []string{c.rule, c.alert, c.decoder} {
		if w == "" || strings.Contains(w, "\n") {
			return true
		}
	}
	return false
}

func TestConformance(t *testing.T) {
	e := loadCompat(t)
	files, err := filepath.Glob(filepath.Join(compatDir, "testing/tests/*.ini"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	total, passed, vac, passedCut := 0, 0, 0, 0
	var failures []string
	t.Logf("%-28s %5s %5s %8s", "file", "pass", "cases", "vacuous")
	for _, f := range files {
		cases, err := parseIni(f, false)
		if err != nil {
			t.Fatal(err)
		}
		p, v := 0, 0
		for _, c := range cases {
			if vacuous(c) {
				v++
			}
			got := runCase(e, c)
			if judge(c, got) {
				p++
			} else {
				failures = append(failures, filepath.Base(f)+" ["+c.section+"]: want "+c.rule+"/"+c.alert+"/"+c.decoder+" got "+strings.Join(got[:], "/"))
			}
		}
		cut, err := parseIni(f, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cut {
			if judge(c, runCase(e, c)) {
				passedCut++
			}
		}
		t.Logf("%-28s %5d %5d %8d", filepath.Base(f), p, len(cases), v)
		total += len(cases)
		passed += p
		vac += v
	}
	t.Logf("%-28s %5d %5d %8d", "total", passed, total, vac)
	t.Logf("with Python 2's \" ;\" value cut: %d of %d pass", passedCut, total)
	if testing.Verbose() {
		for _, f := range failures {
			t.Log("FAIL " + f)
		}
	}
	if passed < conformanceFloor {
		t.Errorf("%d cases pass, below the floor of %d", passed, conformanceFloor)
	}
}

// BenchmarkConformanceLines runs every log line of the ini files (all
// kinds of logs, header-less ones included) through one session.
func BenchmarkConformanceLines(b *testing.B) {
	e := loadCompat(b)
	files, err := filepath.Glob(filepath.Join(compatDir, "testing/tests/*.ini"))
	if err != nil {
		b.Fatal(err)
	}
	var lines []string
	for _, f := range files {
		cases, err := parseIni(f, false)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cases {
			lines = append(lines, c.lines...)
		}
	}
	sess := NewSession()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := e.Process(sess, "stdin", lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkLoadFullRuleset loads Wazuh's ruleset (the conformance data) and
// reports the heap the loaded engine keeps.
func BenchmarkLoadFullRuleset(b *testing.B) {
	var e *Engine
	var before, after runtime.MemStats
	for b.Loop() {
		b.StopTimer() // the load alone is timed
		e = nil
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		e = loadCompat(b)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(e.NumRules()), "rules")
	b.ReportMetric(float64(e.NumDecoders()), "decoders")
}
