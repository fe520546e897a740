// Package groupwrite provides an io.Writer that hands what many goroutines
// write to one background goroutine, which writes everything queued at
// once: a burst of log lines costs a few write calls instead of one each,
// and writers never wait for the disk or the pipe behind the writer (only
// for a full queue).
package groupwrite

import (
	"errors"
	"io"
	"sync"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("groupwrite: closed")

// DefaultMax is the queue size New uses when given none.
const DefaultMax = 4 << 20

// Writer queues writes for a background goroutine. Each Write is passed on
// whole and in order; several may be passed on in one call to the
// underlying writer. It is safe for concurrent use.
type Writer struct {
	w   io.Writer
	max int

	mu      sync.Mutex
	cond    *sync.Cond // queue changed, or a write ended
	buf     []byte     // queued
	spare   []byte     // the buffer being written, reused
	writing bool
	queued  int64 // bytes queued since New
	written int64 // bytes passed on since New
	closed  bool
	done    bool  // the background goroutine has returned
	err     error // the last failed write's error, not yet reported
}

// New returns a Writer to w whose queue holds up to max bytes (DefaultMax
// when max <= 0); a Write that finds the queue full waits for room.
func New(w io.Writer, max int) *Writer {
	if max <= 0 {
		max = DefaultMax
	}
	g := &Writer{w: w, max: max}
	g.cond = sync.NewCond(&g.mu)
	go g.run()
	return g
}

// Write queues a copy of p. It returns the error of an earlier write that
// failed and has not been reported yet, after queueing p.
func (g *Writer) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.buf) > 0 && len(g.buf)+len(p) > g.max && !g.closed {
		g.cond.Wait()
	}
	if g.closed {
		return 0, ErrClosed
	}
	g.buf = append(g.buf, p...)
	g.queued += int64(len(p))
	g.cond.Broadcast()
	err := g.err
	g.err = nil
	return len(p), err
}

func (g *Writer) run() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		for len(g.buf) == 0 && !g.closed {
			g.cond.Wait()
		}
		if len(g.buf) == 0 {
			g.done = true
			g.cond.Broadcast()
			return
		}
		b := g.buf
		g.buf, g.writing = g.spare[:0], true
		g.mu.Unlock()
		_, err := g.w.Write(b)
		g.mu.Lock()
		g.spare, g.writing = b, false
		g.written += int64(len(b))
		if err != nil {
			g.err = err
		}
		g.cond.Broadcast()
	}
}

// Flush waits until everything queued before it is written (not what
// others queue meanwhile), and returns the error of a failed write not
// reported yet.
func (g *Writer) Flush() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for target := g.queued; g.written < target && !g.done; {
		g.cond.Wait()
	}
	err := g.err
	g.err = nil
	return err
}

// Close writes what is queued, stops the background goroutine and returns
// the error of a failed write not reported yet. It does not close the
// underlying writer.
func (g *Writer) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	g.cond.Broadcast()
	for !g.done {
		g.cond.Wait()
	}
	err := g.err
	g.err = nil
	return err
}
