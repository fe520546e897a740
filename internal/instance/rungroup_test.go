package instance

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
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
