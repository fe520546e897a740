package analysis

import (
	"os"
	"testing"
)

// TestExplainLine shows how the conformance ruleset handles one line:
// ANALYSIS_LINE='Feb  9 11:44:56 h sshd[1]: ...' go test -run TestExplainLine -v
func TestExplainLine(t *testing.T) {
	line := os.Getenv("ANALYSIS_LINE")
	if line == "" {
		t.Skip("set ANALYSIS_LINE to a log line")
	}
	e := loadCompat(t)
	res, err := e.Process(NewSession(), "stdin", line)
	if err != nil {
		t.Fatal(err)
	}
	ev := res.Event
	t.Logf("predecoded: timestamp=%q hostname=%q program=%q log=%q", ev.Timestamp, ev.Hostname, ev.ProgramName, ev.Log)
	t.Logf("decoder %q, fields %v", res.Decoder, ev.Fields)
	for _, r := range res.Chain {
		t.Logf("rule %d (level %d): %s", r.ID, r.Level, r.Description)
	}
	t.Logf("alert %s", res.Alert)
}
