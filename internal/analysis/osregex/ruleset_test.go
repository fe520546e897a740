package osregex

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var rulesetDir = filepath.Join("..", "..", "..", "..", "shared", "compat", "wazuh-4.9.2")

// rulesetPatterns returns the OS_Regex patterns (decoder <regex> and
// <prematch>, rule <regex> and <field>, without type="pcre2"/"osmatch") of
// the shipped and testing rulesets, keyed by "file: pattern".
func rulesetPatterns(t *testing.T) map[string]string {
	var files []string
	for _, g := range []string{"ruleset/decoders/*.xml", "ruleset/rules/*.xml", "ruleset/etc/*.xml", "testing/ruleset/*.xml"} {
		m, _ := filepath.Glob(filepath.Join(rulesetDir, g))
		files = append(files, m...)
	}
	if len(files) == 0 {
		abs, _ := filepath.Abs(rulesetDir)
		t.Skipf("Wazuh ruleset not found under %s; skipping", abs)
	}
	// The ruleset's XML keeps \< literally, so the text of an element runs
	// to its closing tag.
	elem := regexp.MustCompile(`(?s)<(regex|prematch|field)(\s[^>]*)?>(.*?)</(?:regex|prematch|field)>`)
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Drop comments.
		text := regexp.MustCompile(`(?s)<!--.*?-->`).ReplaceAllString(string(data), "")
		for _, m := range elem.FindAllStringSubmatch(text, -1) {
			attrs := m[2]
			if strings.Contains(attrs, "pcre2") || strings.Contains(attrs, "osmatch") || strings.Contains(attrs, "osip_array") {
				continue
			}
			out[filepath.Base(f)+": "+m[3]] = m[3]
		}
	}
	return out
}

// TestRulesetPatternsCompile checks that every OS_Regex pattern Wazuh loads
// from its shipped ruleset compiles, and runs each once on a log-like line.
func TestRulesetPatternsCompile(t *testing.T) {
	pats := rulesetPatterns(t)
	line := `Oct 15 21:07:00 host sshd[1234]: Failed password for invalid user admin from 10.0.0.1 port 22 ssh2`
	for key, p := range pats {
		re, err := Compile(p)
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		re.Execute(line)
	}
	t.Logf("%d distinct OS_Regex patterns compiled", len(pats))
}
