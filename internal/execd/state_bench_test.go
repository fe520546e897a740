package execd

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// eachNewStore runs fill on a new state file at each iteration of b,
// timing fill only.
func eachNewStore(b *testing.B, fill func(*store)) {
	for b.Loop() {
		b.StopTimer()
		s, err := openStore(filepath.Join(b.TempDir(), "execd.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		fill(s)
		b.StopTimer()
		s.close()
		b.StartTimer()
	}
}

// deleteMsg is a delete message carrying an alert of n bytes.
func deleteMsg(n int) []byte {
	return []byte(`{"version":1,"command":"delete","parameters":{"alert":` + strings.Repeat("x", n) + `}}`)
}

// BenchmarkTimerBurst persists 10,000 timers written by 1,000 concurrent
// adds, each carrying a delete message the size of a typical alert.
func BenchmarkTimerBurst(b *testing.B) {
	msg := deleteMsg(1500)
	eachNewStore(b, func(s *store) {
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
	})
}

// BenchmarkTimerBatches persists 12,288 timers as the batches of a burst
// do: three commits of 4,096, each timer carrying a delete message the
// size of a typical alert, into a new state file.
func BenchmarkTimerBatches(b *testing.B) {
	msg := deleteMsg(2000)
	b.ReportAllocs()
	eachNewStore(b, func(s *store) {
		for batch := range 3 {
			rs := make([]*timerRecord, 0, 4096)
			for i := batch * 4096; i < (batch+1)*4096; i++ {
				rs = append(rs, &timerRecord{Key: fmt.Sprintf(`firewall-drop ["10.%d.%d.%d"]`, i>>16, i>>8&255, i&255), Deadline: time.Now(), Timeout: time.Minute, Delete: msg})
			}
			if err := s.putTimers(rs); err != nil {
				b.Fatal(err)
			}
		}
	})
}
