package instance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
)

// runGroup runs the long-lived parts of a process (servers, followers,
// execd) until its context ends or one of them fails, which stops them all.
type runGroup struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

func newRunGroup(ctx context.Context) *runGroup {
	ctx, cancel := context.WithCancel(ctx)
	return &runGroup{ctx: ctx, cancel: cancel}
}

// Go runs f; its failure, the first of the group, stops the group.
func (g *runGroup) Go(name string, f func(context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(g.ctx); err != nil && !errors.Is(err, context.Canceled) {
			g.once.Do(func() { g.err = fmt.Errorf("%s: %w", name, err) })
			g.cancel()
		}
	}()
}

// Wait waits for the group's end and for every part, and returns the
// first failure.
func (g *runGroup) Wait() error {
	<-g.ctx.Done()
	g.wg.Wait()
	return g.err
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
