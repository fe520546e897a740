package audit

import (
	"encoding/json"
	"strings"
	"sync"
	"time"
)

// Record is one entry of the trail.
type Record struct {
	Time      time.Time       `json:"time"`
	Kind      string          `json:"kind"`
	Agent     string          `json:"agent,omitempty"`
	Command   string          `json:"command,omitempty"`
	CommandID string          `json:"command_id,omitempty"`
	IP        string          `json:"ip,omitempty"`
	Outcome   string          `json:"outcome,omitempty"`
	Note      string          `json:"note,omitempty"`
	User      string          `json:"user,omitempty"`
	Detail    json.RawMessage `json:"detail,omitempty"`
}

// Query selects records; zero fields match everything.
type Query struct {
	Kind    string
	Agent   string
	IP      string
	Command string
	User    string
	Since   time.Time
	Until   time.Time
	Offset  int
	Limit   int // 0: DefaultLimit
}

// DefaultLimit is the page size of a Query without a Limit.
const DefaultLimit = 500

// Trail keeps the most recent records, oldest overwritten first. It is
// safe for concurrent use.
type Trail struct {
	mu       sync.RWMutex
	capacity int
	chunks   [][]Record // the ring, chunkSize records a chunk, made when first needed
	next     int        // where the next record goes
	full     bool       // the ring has wrapped
}

// chunkSize is how many records a chunk of a trail's ring holds: the
// memory grows a chunk at a time, and nothing is copied as it grows.
const chunkSize = 4096

// at returns the record at index i of the ring.
func (t *Trail) at(i int) *Record { return &t.chunks[i/chunkSize][i%chunkSize] }

// New returns a trail that keeps the last capacity records. Its memory
// grows with the records it holds.
func New(capacity int) *Trail {
	return &Trail{capacity: max(capacity, 1)}
}

// Add appends a record; a zero Time is set to now.
func (t *Trail) Add(r Record) {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	t.mu.Lock()
	if c := t.next / chunkSize; c == len(t.chunks) {
		t.chunks = append(t.chunks, make([]Record, min(chunkSize, t.capacity-c*chunkSize)))
	}
	*t.at(t.next) = r
	t.next++
	if t.next == t.capacity {
		t.next, t.full = 0, true
	}
	t.mu.Unlock()
}

// Len is how many records the trail holds.
func (t *Trail) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.full {
		return t.capacity
	}
	return t.next
}

// Query returns the records matching q, newest first, one page of them,
// and how many match in all.
func (t *Trail) Query(q Query) ([]Record, int) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.next
	if t.full {
		n = t.capacity
	}
	out := []Record{}
	total := 0
	for i := 0; i < n; i++ {
		idx := t.next - 1 - i
		if idx < 0 {
			idx += t.capacity
		}
		r := t.at(idx)
		if !q.matches(r) {
			continue
		}
		if total >= q.Offset && len(out) < limit {
			out = append(out, *r)
		}
		total++
	}
	return out, total
}

func (q *Query) matches(r *Record) bool {
	switch {
	case q.Kind != "" && r.Kind != q.Kind,
		q.Agent != "" && r.Agent != q.Agent,
		q.Command != "" && r.Command != q.Command,
		q.User != "" && r.User != q.User,
		!q.Since.IsZero() && r.Time.Before(q.Since),
		!q.Until.IsZero() && r.Time.After(q.Until):
		return false
	case q.IP != "" && r.IP != q.IP && !strings.Contains(r.Note, q.IP):
		return false
	}
	return true
}
