package instance

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunGroupFirstFailureStopsAll(t *testing.T) {
	g := newRunGroup(context.Background(), slog.New(slog.DiscardHandler))
	boom := errors.New("boom")
	stopped := make(chan struct{})
	g.Go("waits", func(ctx context.Context) error {
		<-ctx.Done()
		close(stopped)
		return ctx.Err()
	})
	g.Go("fails", func(context.Context) error { return boom })
	err := g.Wait()
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "fails: ") {
		t.Fatalf("Wait = %v, want the failure named after its part", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("Wait returned before every part stopped")
	}
}

func TestRunGroupNamesSlowParts(t *testing.T) {
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	g := newRunGroup(ctx, slog.New(slog.NewTextHandler(&logs, nil)))
	g.Go("quick", func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	})
	g.Go("slow", func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(1500 * time.Millisecond)
		return nil
	})
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait = %v after a clean stop", err)
	}
	out := logs.String()
	if !strings.Contains(out, "waiting for parts to stop") || !strings.Contains(out, "parts=[slow]") {
		t.Fatalf("the slow part is not named in the log:\n%s", out)
	}
}

// TestTakeQueued: a stage takes what waits, up to where it says stop,
// without waiting for more and without taking past a closed channel.
func TestTakeQueued(t *testing.T) {
	ch := make(chan int, 10)
	for i := range 5 {
		ch <- i
	}
	var got []int
	takeQueued(ch, func(v int) bool { got = append(got, v); return len(got) < 3 })
	if !slices.Equal(got, []int{0, 1, 2}) || len(ch) != 2 {
		t.Fatalf("took %v, %d left; want 0 1 2, 2 left", got, len(ch))
	}
	close(ch)
	takeQueued(ch, func(v int) bool { got = append(got, v); return true })
	if !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("took %v after close", got)
	}
	takeQueued(make(chan int), func(int) bool { t.Fatal("took from an empty channel"); return true })
}
