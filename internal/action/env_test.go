package action

import (
	"sync"
	"testing"
	"time"
)

// TestSharedNestedLoad: making one shared value may load another (auto
// detection of firewall-drop's backend loads the nftables backend's state),
// and concurrent loads of a key make it once.
func TestSharedNestedLoad(t *testing.T) {
	var s Shared
	done := make(chan any)
	go func() {
		done <- s.load("outer", func() any {
			return s.load("inner", func() any { return 7 }).(int) + 1
		})
	}()
	select {
	case v := <-done:
		if v != 8 {
			t.Fatalf("nested load = %v, want 8", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a nested load deadlocked")
	}
	var made sync.WaitGroup
	var n int
	var mu sync.Mutex
	for range 8 {
		made.Add(1)
		go func() {
			defer made.Done()
			s.load("once", func() any { mu.Lock(); n++; mu.Unlock(); return n })
		}()
	}
	made.Wait()
	if n != 1 {
		t.Errorf("a key was made %d times, want once", n)
	}
}
