package osregex

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// executeCases is the OS_Regex conformance data of Wazuh 4.9.2, kept next to
// the project (see ../shared/compat/wazuh-4.9.2/README.md).
var executeCases = filepath.Join("..", "..", "..", "..", "shared", "compat", "wazuh-4.9.2", "os_regex", "execute-cases.json")

type executeSuite struct {
	Suite string `json:"suite"`
	Cases []struct {
		Description    string   `json:"description"`
		Pattern        string   `json:"pattern"`
		Log            string   `json:"log"`
		EndMatch       *string  `json:"end_match"`
		CapturedGroups []string `json:"captured_groups"`
	} `json:"cases"`
}

// TestExecuteCases runs every case of execute-cases.json: the end match (the
// input from the last matched byte on, or no match) and the captures must be
// Wazuh's.
func TestExecuteCases(t *testing.T) {
	data, err := os.ReadFile(executeCases)
	if os.IsNotExist(err) {
		abs, _ := filepath.Abs(executeCases)
		t.Skipf("conformance data not found at %s; skipping", abs)
	}
	if err != nil {
		t.Fatal(err)
	}
	var suites []executeSuite
	if err := json.Unmarshal(data, &suites); err != nil {
		t.Fatal(err)
	}
	total, passed := 0, 0
	for si, su := range suites {
		ok := 0
		t.Run(su.Suite, func(t *testing.T) {
			for ci, c := range su.Cases {
				name := c.Description
				if name == "" {
					name = "case"
				}
				t.Run(name, func(t *testing.T) {
					re, err := Compile(c.Pattern)
					if err != nil {
						t.Fatalf("suite %d case %d: Compile(%q): %v", si, ci, c.Pattern, err)
					}
					end, caps, matched := re.ExecuteEnd(c.Log)
					var got *string
					if matched {
						rest := c.Log[end:]
						got = &rest
					}
					want := c.CapturedGroups
					if !matched {
						caps = nil
					}
					if (got == nil) != (c.EndMatch == nil) || got != nil && *got != *c.EndMatch ||
						!slices.Equal(caps, want) && !(len(caps) == 0 && len(want) == 0) {
						t.Errorf("pattern %q log %q:\n got end %s captures %q\nwant end %s captures %q",
							c.Pattern, c.Log, show(got), caps, show(c.EndMatch), want)
						return
					}
					if re.Match(c.Log) != matched {
						t.Errorf("pattern %q log %q: Match disagrees with ExecuteEnd", c.Pattern, c.Log)
						return
					}
					if e, m := re.MatchEnd(c.Log); m != matched || m && e != end {
						t.Errorf("pattern %q log %q: MatchEnd = %d %v, ExecuteEnd = %d %v", c.Pattern, c.Log, e, m, end, matched)
						return
					}
					ok++
				})
			}
		})
		t.Logf("%-3d/%3d  %s", ok, len(su.Cases), su.Suite)
		total += len(su.Cases)
		passed += ok
	}
	t.Logf("conformance: %d/%d cases pass", passed, total)
}

func show(s *string) string {
	if s == nil {
		return "<no match>"
	}
	b, _ := json.Marshal(*s)
	return string(b)
}
