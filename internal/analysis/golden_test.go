package analysis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.json")

// TestGolden runs every testdata/<case>/: decoders.xml and rules.xml are
// loaded, each line of input.log is processed in one session, and the
// alerts (volatile fields removed) are compared with want.json. Set
// ANALYSIS_CASE to run one case; -update (or a missing want.json) writes
// the output for review.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	only := os.Getenv("ANALYSIS_CASE")
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if _, err := os.Stat(filepath.Join(dir, "decoders.xml")); err != nil {
			continue // not a case (e.g. testdata/fuzz)
		}
		if only != "" && name != only {
			continue
		}
		t.Run(name, func(t *testing.T) {
			e, err := Load(Options{
				Decoders:    []string{filepath.Join(dir, "decoders.xml")},
				Rules:       []string{filepath.Join(dir, "rules.xml")},
				ManagerName: "golden",
			})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
			e.now = func() time.Time { return now }
			in, err := os.ReadFile(filepath.Join(dir, "input.log"))
			if err != nil {
				t.Fatal(err)
			}
			sess := NewSession()
			var out []json.RawMessage
			sc := bufio.NewScanner(bytes.NewReader(in))
			for sc.Scan() {
				now = now.Add(time.Second)
				res, err := e.Process(sess, "/var/log/test.log", sc.Text())
				if err != nil {
					t.Fatal(err)
				}
				if res.Alert == nil {
					out = append(out, json.RawMessage(`null`))
					continue
				}
				out = append(out, stripVolatile(t, res.Alert))
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			wantFile := filepath.Join(dir, "want.json")
			want, err := os.ReadFile(wantFile)
			if *update || os.IsNotExist(err) {
				if err := os.WriteFile(wantFile, got, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", wantFile)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("output differs from %s (run with -update to accept):\n%s", wantFile, got)
			}
		})
	}
}

// stripVolatile removes the alert id, which depends on the process-wide
// sequence; the clock is fixed.
func stripVolatile(t *testing.T, doc []byte) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("alert is not JSON: %v\n%s", err, doc)
	}
	if id := string(m["id"]); !strings.Contains(id, ".") {
		t.Errorf("alert id %s is not <epoch>.<seq>", id)
	}
	delete(m, "id")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
