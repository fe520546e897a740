package groupwrite

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a writer that keeps every call, optionally failing.
type recorder struct {
	mu    sync.Mutex
	calls [][]byte
	fail  error
	block chan struct{} // when set, each call waits for it
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, bytes.Clone(p))
	if r.fail != nil {
		return 0, r.fail
	}
	return len(p), nil
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(bytes.Join(r.calls, nil))
}

func TestWritesKeepOrderAndWholeness(t *testing.T) {
	var r recorder
	g := New(&r, 0)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(g, "writer %d line %d\n", w, i)
			}
		})
	}
	wg.Wait()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(r.all(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines written, want %d", len(got), writers*lines)
	}
	next := make([]int, writers)
	for _, l := range got {
		var w, i int
		if _, err := fmt.Sscanf(l, "writer %d line %d", &w, &i); err != nil {
			t.Fatalf("torn line %q", l)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d after %d", w, i, next[w]-1)
		}
		next[w]++
	}
	// Each call to the writer below carries whole writes: a write is never
	// split between two calls.
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, c := range r.calls {
		if !bytes.HasSuffix(c, []byte("\n")) {
			t.Fatalf("call %d ends in the middle of a write: %q", i, c[max(0, len(c)-40):])
		}
	}
}

// While the underlying writer is busy, later writes queue and go out in
// one call.
func TestQueuedWritesShareACall(t *testing.T) {
	r := recorder{block: make(chan struct{})}
	g := New(&r, 0)
	g.Write([]byte("first\n"))
	// The first call is in progress (blocked) once the queue is empty
	// again; then queue three more.
	for {
		g.mu.Lock()
		busy := g.writing && len(g.buf) == 0
		g.mu.Unlock()
		if busy {
			break
		}
	}
	for _, s := range []string{"a\n", "b\n", "c\n"} {
		g.Write([]byte(s))
	}
	close(r.block)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if len(r.calls) != 2 || string(r.calls[1]) != "a\nb\nc\n" {
		t.Errorf("calls = %q, want the first alone and the three queued together", r.calls)
	}
}

func TestErrorsReportedOnce(t *testing.T) {
	boom := errors.New("disk full")
	r := recorder{fail: boom}
	g := New(&r, 0)
	g.Write([]byte("lost\n"))
	if err := g.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush = %v, want the write's error", err)
	}
	if err := g.Flush(); err != nil {
		t.Errorf("second Flush = %v, want the error reported once", err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if _, err := g.Write([]byte("late\n")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

// A full queue makes writers wait instead of growing.
func TestFullQueueWaits(t *testing.T) {
	r := recorder{block: make(chan struct{})}
	g := New(&r, 8)
	g.Write([]byte("12345678"))
	done := make(chan struct{})
	go func() {
		g.Write([]byte("abcdefgh"))
		g.Write([]byte("ijklmnop"))
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("writes went past a full queue while the writer was blocked")
	case <-time.After(50 * time.Millisecond):
	}
	close(r.block)
	<-done
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if got := r.all(); got != "12345678abcdefghijklmnop" {
		t.Errorf("written %q", got)
	}
}

func BenchmarkConcurrentLines(b *testing.B) {
	var sink discard
	g := New(&sink, 0)
	line := []byte(strings.Repeat("x", 200) + "\n")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g.Write(line)
		}
	})
	g.Close()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
