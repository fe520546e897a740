package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"time"
)

// runGroup runs the long-lived parts of a process (servers, followers,
// execd) until its context ends or one of them fails, which stops them all.
type runGroup struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	wg     sync.WaitGroup
	once   sync.Once
	err    error

	mu      sync.Mutex
	running []string
}

func newRunGroup(ctx context.Context, log *slog.Logger) *runGroup {
	ctx, cancel := context.WithCancel(ctx)
	return &runGroup{ctx: ctx, cancel: cancel, log: log}
}

// Go runs f; its failure, the first of the group, stops the group.
func (g *runGroup) Go(name string, f func(context.Context) error) {
	g.wg.Add(1)
	g.mu.Lock()
	g.running = append(g.running, name)
	g.mu.Unlock()
	go func() {
		defer g.wg.Done()
		defer func() {
			g.mu.Lock()
			if i := slices.Index(g.running, name); i >= 0 {
				g.running = slices.Delete(g.running, i, i+1)
			}
			g.mu.Unlock()
		}()
		if err := f(g.ctx); err != nil && !errors.Is(err, context.Canceled) {
			g.once.Do(func() { g.err = fmt.Errorf("%s: %w", name, err) })
			g.cancel()
		}
	}()
}

// Wait waits for the group's end and for every part, and returns the
// first failure. Parts slow to stop are named in the log each second.
func (g *runGroup) Wait() error {
	<-g.ctx.Done()
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return g.err
		case <-t.C:
			g.mu.Lock()
			names := slices.Clone(g.running)
			g.mu.Unlock()
			g.log.Warn("waiting for parts to stop", "parts", names)
		}
	}
}

// listenSocket opens the control socket at path, replacing a stale one,
// readable by its owner only.
func listenSocket(path string) (net.Listener, error) {
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	_ = os.Chmod(path, 0o600)
	return ln, nil
}
