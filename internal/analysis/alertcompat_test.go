package analysis_test

import (
	"path/filepath"
	"testing"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/analysis"
)

// TestAlertConsumable checks that the documents analysis produces are read
// by the response engine's alert parser with the fields it acts on.
func TestAlertConsumable(t *testing.T) {
	e, err := analysis.Load(analysis.Options{
		Decoders: []string{filepath.Join("testdata", "json-fields", "decoders.xml")},
		Rules:    []string{filepath.Join("testdata", "json-fields", "rules.xml")},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Process(analysis.NewSession(), "stdin", `{"srcip":"203.0.113.9","user":"mallory","event":{"action":"drop"},"src":{"ip":"203.0.113.9"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if res.Alert == nil {
		t.Fatal("no alert")
	}
	a, err := alert.Parse(res.Alert)
	if err != nil {
		t.Fatalf("%v\n%s", err, res.Alert)
	}
	if a.RuleID != "300001" || a.RuleLevel != 7 || !a.NoAR || a.AgentID != "000" ||
		a.SrcIP != "203.0.113.9" || a.DstUser != "mallory" {
		t.Errorf("parsed alert = %+v", a)
	}
}
