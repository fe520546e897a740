package audit

import (
	"fmt"
	"testing"
	"time"
)

func TestTrailQuery(t *testing.T) {
	tr := New(5)
	base := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i := range 7 {
		tr.Add(Record{Time: base.Add(time.Duration(i) * time.Minute), Kind: []string{"decision", "result"}[i%2],
			Agent: fmt.Sprintf("%03d", i%3), IP: fmt.Sprintf("192.0.2.%d", i), Command: "firewall-drop"})
	}
	if tr.Len() != 5 {
		t.Fatalf("Len = %d, want 5 (capacity)", tr.Len())
	}
	for _, tc := range []struct {
		name  string
		q     Query
		want  []string // IPs, newest first
		total int
	}{
		{"all, newest first, oldest two dropped", Query{}, []string{"192.0.2.6", "192.0.2.5", "192.0.2.4", "192.0.2.3", "192.0.2.2"}, 5},
		{"kind", Query{Kind: "result"}, []string{"192.0.2.5", "192.0.2.3"}, 2},
		{"agent", Query{Agent: "000"}, []string{"192.0.2.6", "192.0.2.3"}, 2},
		{"ip", Query{IP: "192.0.2.4"}, []string{"192.0.2.4"}, 1},
		{"since", Query{Since: base.Add(5 * time.Minute)}, []string{"192.0.2.6", "192.0.2.5"}, 2},
		{"until", Query{Until: base.Add(3 * time.Minute)}, []string{"192.0.2.3", "192.0.2.2"}, 2},
		{"page", Query{Offset: 1, Limit: 2}, []string{"192.0.2.5", "192.0.2.4"}, 5},
		{"none", Query{Command: "host-deny"}, nil, 0},
	} {
		got, total := tr.Query(tc.q)
		var ips []string
		for _, r := range got {
			ips = append(ips, r.IP)
		}
		if fmt.Sprint(ips) != fmt.Sprint(tc.want) || total != tc.total {
			t.Errorf("%s: %v (total %d), want %v (total %d)", tc.name, ips, total, tc.want, tc.total)
		}
	}
}

// TestTrailGrows: a trail takes memory for the records it holds, not for
// its capacity, and reads the same before it wraps.
func TestTrailGrows(t *testing.T) {
	tr := New(100000)
	for i := range 3 {
		tr.Add(Record{Kind: "decision", IP: fmt.Sprintf("192.0.2.%d", i)})
	}
	got, total := tr.Query(Query{})
	if tr.Len() != 3 || total != 3 || len(got) != 3 || got[0].IP != "192.0.2.2" || got[2].IP != "192.0.2.0" {
		t.Errorf("Len %d, query %+v (total %d)", tr.Len(), got, total)
	}
	if len(tr.chunks) != 1 {
		t.Errorf("3 records hold %d chunks", len(tr.chunks))
	}
	for i := range 2*chunkSize + 1 {
		tr.Add(Record{Kind: "decision", IP: fmt.Sprint(i)})
	}
	if got, _ := tr.Query(Query{Limit: 1}); tr.Len() != 2*chunkSize+4 || len(tr.chunks) != 3 || got[0].IP != fmt.Sprint(2*chunkSize) {
		t.Errorf("after %d records: Len %d, %d chunks, newest %+v", 2*chunkSize+4, tr.Len(), len(tr.chunks), got)
	}
}

func BenchmarkTrailAdd(b *testing.B) {
	tr := New(100000)
	r := Record{Kind: "result", Agent: "001", IP: "192.0.2.1", Command: "firewall-drop"}
	for b.Loop() {
		tr.Add(r)
	}
}

// TestTrailWrapsAcrossChunks: a trail of a capacity that is no multiple of
// the chunk size wraps, and reads back the last capacity records.
func TestTrailWrapsAcrossChunks(t *testing.T) {
	capacity := 2*chunkSize + 10
	tr := New(capacity)
	for i := range 3 * chunkSize {
		tr.Add(Record{Kind: "decision", IP: fmt.Sprint(i)})
	}
	got, total := tr.Query(Query{Limit: capacity})
	if tr.Len() != capacity || total != capacity || len(got) != capacity {
		t.Fatalf("Len %d, total %d, %d read; want %d", tr.Len(), total, len(got), capacity)
	}
	for i, r := range got {
		if want := fmt.Sprint(3*chunkSize - 1 - i); r.IP != want {
			t.Fatalf("record %d from the newest is %s, want %s", i, r.IP, want)
		}
	}
}
