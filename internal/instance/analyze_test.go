package instance

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAlertsFile checks that buffered alerts reach alerts.json whole and
// in order, at a flush or once the buffer is full.
func TestAlertsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.json")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &alertsFile{f: f, log: slog.New(slog.DiscardHandler)}
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	w.write([]byte(`{"id":"1"}`))
	if got := read(); got != "" {
		t.Fatalf("written before a flush: %q", got)
	}
	w.flush()
	if got := read(); got != "{\"id\":\"1\"}\n" {
		t.Fatalf("after a flush: %q", got)
	}
	var want strings.Builder
	want.WriteString("{\"id\":\"1\"}\n")
	big := `{"id":"` + strings.Repeat("x", alertsBuffer) + `"}`
	for i := range 100 {
		doc := fmt.Sprintf(`{"id":"%d","pad":"%s"}`, i, strings.Repeat("y", i*37))
		if i == 50 {
			doc = big
		}
		w.write([]byte(doc))
		want.WriteString(doc + "\n")
		// Only whole lines are written.
		if got := read(); !strings.HasSuffix(got, "\n") || !strings.HasPrefix(want.String(), got) {
			t.Fatalf("after alert %d the file holds part of what was written (%d of %d bytes)", i, len(got), want.Len())
		}
	}
	if got := read(); len(got) == 1+len(`{"id":"1"}`) {
		t.Fatal("a full buffer was not written")
	}
	w.flush()
	if got := read(); got != want.String() {
		t.Fatalf("alerts.json holds %d bytes, want %d", len(got), want.Len())
	}
}
