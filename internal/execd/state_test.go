package execd

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestGroupCommit: timer writes from many goroutines at once all land,
// sharing commits, and a write alone lands too.
func TestGroupCommit(t *testing.T) {
	s, err := openStore(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	var wg sync.WaitGroup
	for i := range 500 {
		wg.Go(func() {
			if err := s.putTimer(&timerRecord{Key: fmt.Sprintf("k%03d", i), Command: "c"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := s.deleteTimer("k000"); err != nil {
		t.Fatal(err)
	}
	got, err := s.timers()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 499 {
		t.Fatalf("%d timers stored, want 499", len(got))
	}
	// A goroutine the lead was handed to finishes on its own.
	idle := func() bool {
		s.gmu.Lock()
		defer s.gmu.Unlock()
		return !s.committing && len(s.queue) == 0
	}
	for end := time.Now().Add(2 * time.Second); !idle() && time.Now().Before(end); time.Sleep(time.Millisecond) {
	}
	if !idle() {
		t.Error("the commits never stopped after the writes")
	}
}
