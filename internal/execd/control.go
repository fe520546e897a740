package execd

import (
	"container/heap"
	"errors"
	"fmt"
	"time"
)

// ErrNotActive is returned by Undo and Extend for a key that has no pending
// delete (never added, already deleted, or not stateful).
var ErrNotActive = errors.New("execd: no active response with that key")

// Undo runs the delete of the active response key now, in the background,
// the way its timer would: under the key's lock, with its result reported
// (note "undone before its deadline") and its timer removed from memory and
// from the state file. It returns ErrNotActive when key has no pending
// delete. A delete already running for key is not run a second time.
func (x *Execd) Undo(key string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return ErrClosed
	}
	e, ok := x.entries[key]
	if !ok {
		return fmt.Errorf("undo %q: %w", key, ErrNotActive)
	}
	if e.index >= 0 {
		heap.Remove(&x.queue, e.index)
	}
	x.spawn(func() { x.runUndo(e) })
	return nil
}

// runUndo is the delete run by Undo. Unlike runDelete it runs even if an
// add re-armed e between Undo and taking the key lock: the operator's undo
// wins over a re-trigger that raced it.
func (x *Execd) runUndo(e *entry) {
	defer x.acquire(e.Executable)()
	unlock := x.keys.lock(e.Key)
	defer unlock()
	x.mu.Lock()
	if x.entries[e.Key] != e {
		// Its timer's delete ran first.
		x.mu.Unlock()
		return
	}
	if e.index >= 0 {
		heap.Remove(&x.queue, e.index)
	}
	x.mu.Unlock()
	x.deleteLocked(e, "undone before its deadline")
}

// Extend moves the deadline of the active response key to until (wall
// clock), persists it and re-orders the timers. Unlike a re-trigger, it may
// shorten the block, since an operator asked for it; an until in the past
// runs the delete at once. For a built-in action that can give the block a
// lifetime of its own (an nftables element timeout), the block is applied
// again with the new lifetime when until is later than now.
//
// Extend waits for a run in progress on the same key (at most RunTimeout).
// It returns ErrNotActive when key has no pending delete, including when
// that run was its delete.
func (x *Execd) Extend(key string, until time.Time) error {
	x.mu.Lock()
	_, ok := x.entries[key]
	closed := x.closed
	x.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case !ok:
		return fmt.Errorf("extend %q: %w", key, ErrNotActive)
	}

	unlock := x.keys.lock(key)
	defer unlock()
	x.mu.Lock()
	e, ok := x.entries[key]
	if !ok {
		x.mu.Unlock()
		return fmt.Errorf("extend %q: %w", key, ErrNotActive)
	}
	now := time.Now()
	remaining := until.Sub(now)
	e.due = now.Add(remaining)
	e.Deadline = until.Round(0)
	e.Timeout = max(remaining, 0)
	if e.index >= 0 {
		heap.Fix(&x.queue, e.index)
	} else {
		// Taken off the queue by Run; its runDelete, waiting for the key
		// lock, sees it queued again and leaves it.
		heap.Push(&x.queue, e)
	}
	rec := e.timerRecord
	x.poke()
	x.mu.Unlock()

	// Written under the key lock, like arm's, so writes for one key stay in
	// order.
	if err := x.store.putTimer(&rec); err != nil {
		return fmt.Errorf("extend %q: persisting the new deadline: %w", key, err)
	}
	x.log.Info("deadline moved", "key", key, "deadline", rec.Deadline)
	x.arlog("%s: active response %v now ends at %s", x.program(rec.Executable), keysOf(key), rec.Deadline.Format(time.RFC3339))
	if remaining > 0 {
		if err := x.refresh(rec.Executable, rec.Delete, remaining); err != nil {
			x.log.Warn("cannot refresh the active block with its new lifetime", "key", key, "err", err)
		}
	}
	return nil
}
