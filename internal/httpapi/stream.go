package httpapi

import (
	"fmt"
	"net/http"
	"time"
)

// getStream is GET /api/v1/stream: server-sent events. It sends
// "event: change" when Backend.Changes fires, at most one per coalesce
// interval, and a comment line every keep-alive interval. The token is
// checked again at every keep-alive, so the stream ends when it expires or
// its user is removed; a client reconnects with a fresh token.
func (s *Server) getStream(w http.ResponseWriter, r *http.Request) error {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the write timeout
	tok, ok := bearer(r)
	if !ok {
		tok = r.URL.Query().Get("access_token")
	}
	// Subscribe before saying "connected": a client that loads its state
	// once connected misses no change made after that.
	changes := s.b.Changes()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 3000\n: connected\n\n"); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}

	ctx := r.Context()
	keepAlive := time.NewTicker(s.keepAlive)
	defer keepAlive.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.shutdown:
			return nil
		case <-keepAlive.C:
			if _, err := s.users.Verify(tok); err != nil {
				_, _ = fmt.Fprint(w, "event: expired\ndata: {}\n\n")
				_ = rc.Flush()
				return nil
			}
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
		case <-changes:
			// Coalesce: wait out the rest of the interval, then take a
			// fresh channel so changes during the wait make one event.
			if d := s.coalesce - time.Since(last); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-s.shutdown:
					t.Stop()
					return nil
				case <-t.C:
				}
			}
			changes = s.b.Changes()
			last = time.Now()
			if _, err := fmt.Fprint(w, "event: change\ndata: {}\n\n"); err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}
