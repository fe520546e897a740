package execd

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkTimerBurst persists 10,000 timers written by 1,000 concurrent
// adds, each carrying a delete message the size of a typical alert.
func BenchmarkTimerBurst(b *testing.B) {
	msg := []byte(`{"version":1,"command":"delete","parameters":{"alert":` + strings.Repeat("x", 1500) + `}}`)
	for b.Loop() {
		b.StopTimer()
		s, err := openStore(filepath.Join(b.TempDir(), "execd.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 1000)
		for i := range 10000 {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				r := &timerRecord{Key: fmt.Sprintf("firewall-drop-10.0.%d.%d", i>>8, i&255), Deadline: time.Now(), Timeout: time.Minute, Delete: msg}
				if err := s.putTimer(r); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		s.close()
		b.StartTimer()
	}
}
