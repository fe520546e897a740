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

// BenchmarkTimerBatches persists 12,288 timers as the batches of a burst
// do: three commits of 4,096, each timer carrying a delete message the
// size of a typical alert, into a new state file.
func BenchmarkTimerBatches(b *testing.B) {
	msg := []byte(`{"version":1,"command":"delete","parameters":{"alert":` + strings.Repeat("x", 2000) + `}}`)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		s, err := openStore(filepath.Join(b.TempDir(), "execd.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for batch := range 3 {
			rs := make([]*timerRecord, 0, 4096)
			for i := batch * 4096; i < (batch+1)*4096; i++ {
				rs = append(rs, &timerRecord{Key: fmt.Sprintf(`firewall-drop ["10.%d.%d.%d"]`, i>>16, i>>8&255, i&255), Deadline: time.Now(), Timeout: time.Minute, Delete: msg})
			}
			if err := s.putTimers(rs); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		s.close()
		b.StartTimer()
	}
}
