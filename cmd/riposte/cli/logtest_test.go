package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sshdFailed = "Nov 27 10:00:00 bastion sshd[123]: Failed password for root from 203.0.113.7 port %d ssh2"

// runLogtest runs `riposte logtest args...` with stdin and returns the exit
// code and outputs.
func runLogtest(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), append([]string{"logtest"}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func failedPasswords(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, sshdFailed+"\n", 40000+i)
	}
	return b.String()
}

func TestLogtestText(t *testing.T) {
	code, out, errOut := runLogtest(t, "\n"+failedPasswords(1)+"\n")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{
		"**Phase 1: Completed pre-decoding.",
		"\tfull event: 'Nov 27 10:00:00 bastion sshd[123]: Failed password for root from 203.0.113.7 port 40000 ssh2'",
		"\thostname: 'bastion'",
		"\tprogram_name: 'sshd'",
		"**Phase 2: Completed decoding.",
		"\tname: 'sshd'",
		"\tdstuser: 'root'",
		"\tsrcip: '203.0.113.7'",
		"**Phase 3: Completed filtering (rules).",
		"\tid: '5760'",
		"\tlevel: '5'",
		"\tfiredtimes: '1'",
		"**Alert to be generated.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Empty lines are skipped: one event only.
	if n := strings.Count(out, "**Phase 1"); n != 1 {
		t.Errorf("%d events, want 1:\n%s", n, out)
	}
	// Decoded fields are sorted.
	if i, j := strings.Index(out, "dstuser:"), strings.Index(out, "srcip:"); i < 0 || j < i {
		t.Errorf("fields not sorted:\n%s", out)
	}
}

func TestLogtestNoDecoder(t *testing.T) {
	code, out, _ := runLogtest(t, "hello world\n")
	if code != 0 || !strings.Contains(out, "No decoder matched.") || strings.Contains(out, "Phase 3") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestLogtestUnit(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
	}{
		{"brute force", failedPasswords(8), []string{"-U", "5763:10:sshd"}, 0},
		{"single line", failedPasswords(1), []string{"-U", "5763:10:sshd"}, 1},
		{"single line matches", failedPasswords(1), []string{"-U", "5760:5:sshd"}, 0},
		{"only the last line counts", failedPasswords(8) + "hello world\n", []string{"-U", "5763:10:sshd"}, 1},
		{"empty field", failedPasswords(1), []string{"-U", "5760:5:"}, 1},
		{"empty fields matching", "hello world\n", []string{"-U", "::"}, 3},
		{"two parts", failedPasswords(1), []string{"-U", "5760:5"}, 2},
		{"four parts", failedPasswords(1), []string{"-U", "5760:5:sshd:x"}, 2},
		{"empty", failedPasswords(1), []string{"-U", ""}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runLogtest(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
		})
	}
}

func TestLogtestJSON(t *testing.T) {
	code, out, errOut := runLogtest(t, failedPasswords(8)+"hello world\n", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 9 {
		t.Fatalf("%d lines, want 9:\n%s", len(lines), out)
	}
	type rec struct {
		Predecoder struct {
			Hostname    string `json:"hostname"`
			ProgramName string `json:"program_name"`
			Location    string `json:"location"`
		} `json:"predecoder"`
		Decoder *struct {
			Name string `json:"name"`
		} `json:"decoder"`
		Fields map[string]string `json:"fields"`
		Rule   *struct {
			ID         string   `json:"id"`
			Level      int      `json:"level"`
			Groups     []string `json:"groups"`
			FiredTimes int      `json:"firedtimes"`
		} `json:"rule"`
		Chain []string        `json:"chain"`
		Alert json.RawMessage `json:"alert"`
	}
	var recs []rec
	for i, l := range lines {
		var r rec
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		recs = append(recs, r)
	}
	first := recs[0]
	if first.Decoder == nil || first.Decoder.Name != "sshd" || first.Rule == nil || first.Rule.ID != "5760" ||
		first.Rule.Level != 5 || first.Fields["srcip"] != "203.0.113.7" || first.Predecoder.Hostname != "bastion" ||
		first.Predecoder.Location != "stdin" || string(first.Alert) == "null" {
		t.Errorf("first line: %s", lines[0])
	}
	if first.Rule != nil && first.Rule.FiredTimes != 1 {
		t.Errorf("first line firedtimes %d", first.Rule.FiredTimes)
	}
	if r := recs[1].Rule; r == nil || r.FiredTimes != 2 {
		t.Errorf("second line: %s", lines[1])
	}
	last := recs[7]
	if last.Rule == nil || last.Rule.ID != "5763" || last.Rule.Level != 10 ||
		len(last.Chain) == 0 || last.Chain[len(last.Chain)-1] != "5763" {
		t.Errorf("eighth line: %s", lines[7])
	}
	var a struct {
		Rule struct {
			ID string `json:"id"`
		} `json:"rule"`
	}
	if err := json.Unmarshal(last.Alert, &a); err != nil || a.Rule.ID != "5763" {
		t.Errorf("eighth line alert %s (%v)", last.Alert, err)
	}
	noise := recs[8]
	if noise.Decoder != nil || noise.Rule != nil || string(noise.Alert) != "null" || len(noise.Chain) != 0 {
		t.Errorf("ninth line: %s", lines[8])
	}
}

func TestLogtestLocation(t *testing.T) {
	code, out, _ := runLogtest(t, failedPasswords(1), "--json", "--location", "/var/log/auth.log")
	if code != 0 || !strings.Contains(out, `"location":"/var/log/auth.log"`) {
		t.Errorf("exit %d: %s", code, out)
	}
}

// writeFile writes data to dir/name, creating directories.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLogtestConfigRuleset(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "custom/decoders/acme.xml", `<decoder name="acme">
  <program_name>^acme$</program_name>
</decoder>
<decoder name="acme-login">
  <parent>acme</parent>
  <regex>^login failed for (\S+) from (\S+)$</regex>
  <order>dstuser, srcip</order>
</decoder>
`)
	writeFile(t, dir, "custom/rules/acme.xml", `<group name="acme,">
  <rule id="100100" level="7">
    <decoded_as>acme</decoded_as>
    <match>login failed</match>
    <description>acme: login failed for $(dstuser)</description>
  </rule>
</group>
`)
	// Relative paths are relative to the configuration file.
	cfg := writeFile(t, dir, "riposte.conf", `<ossec_config>
  <ruleset>
    <decoder_dir>custom/decoders</decoder_dir>
    <rule_dir>custom/rules</rule_dir>
  </ruleset>
</ossec_config>
`)
	line := "Nov 27 10:00:00 bastion acme[1]: login failed for bob from 192.0.2.5\n"
	code, out, errOut := runLogtest(t, line, "--config", cfg, "-U", "100100:7:acme")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"\tname: 'acme'", "\tdstuser: 'bob'", "\tsrcip: '192.0.2.5'", "\tid: '100100'",
		"\tdescription: 'acme: login failed for bob'", "**Alert to be generated."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The built-in sshd rules are not loaded.
	if code, out, _ := runLogtest(t, failedPasswords(1), "--config", cfg, "--json"); code != 0 || !strings.Contains(out, `"decoder":null`) {
		t.Errorf("exit %d: sshd decoded with the custom ruleset: %s", code, out)
	}
}

func TestLogtestConfigWithoutRuleset(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "riposte.conf", "<ossec_config>\n</ossec_config>\n")
	code, out, errOut := runLogtest(t, failedPasswords(1), "-c", cfg, "-U", "5760:5:sshd")
	if code != 0 {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestLogtestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.conf", "<ossec_config>\n  <bogus/>\n</ossec_config>\n")
	code, out, errOut := runLogtest(t, failedPasswords(1), "--config", bad)
	if code != 1 || out != "" || !strings.Contains(errOut, "bad.conf:2") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = runLogtest(t, failedPasswords(1), "--config", filepath.Join(dir, "missing.conf"))
	if code != 1 || !strings.Contains(errOut, "missing.conf") {
		t.Errorf("missing file: exit %d, stderr %s", code, errOut)
	}
}
