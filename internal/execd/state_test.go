package execd

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestGroupCommit: timer writes from many goroutines at once all land, a
// delete lands too, and the goroutine leading the commits stops once they
// are done.
func TestGroupCommit(t *testing.T) {
	s, err := openStore(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	var wg sync.WaitGroup
	for i := range 500 {
		wg.Go(func() {
			if err := s.putTimer(&timerRecord{Key: fmt.Sprintf("k%03d", i), Command: "c"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := s.deleteTimer("k000"); err != nil {
		t.Fatal(err)
	}
	got, err := s.timers()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 499 {
		t.Fatalf("%d timers stored, want 499", len(got))
	}
	// A goroutine the lead was handed to finishes on its own.
	idle := func() bool {
		s.gmu.Lock()
		defer s.gmu.Unlock()
		return !s.committing && len(s.queue) == 0
	}
	for end := time.Now().Add(2 * time.Second); !idle() && time.Now().Before(end); time.Sleep(time.Millisecond) {
	}
	if !idle() {
		t.Error("the commits never stopped after the writes")
	}
}

// TestTimerRecordForms: records round-trip through the binary form; a
// record an earlier version stored as JSON still loads; a damaged one is
// an error.
func TestTimerRecordForms(t *testing.T) {
	deadline := time.Date(2026, 11, 27, 10, 0, 0, 123, time.UTC)
	recs := []timerRecord{
		{Key: `firewall-drop ["203.0.113.7"]`, Command: "firewall-drop", Executable: "firewall-drop", Deadline: deadline,
			Timeout: 10 * time.Minute, Added: deadline.Add(-10 * time.Minute), Delete: []byte(`{"version":1,"command":"delete"}`)},
		{Key: "k", Deadline: deadline},
		{Key: "ключ ☃", Command: "c\x00d", Executable: "", Deadline: time.Unix(0, 0), Timeout: -1, Delete: nil},
	}
	same := func(a, b timerRecord) bool {
		return a.Key == b.Key && a.Command == b.Command && a.Executable == b.Executable && a.Deadline.Equal(b.Deadline) &&
			a.Timeout == b.Timeout && a.Added.Equal(b.Added) && string(a.Delete) == string(b.Delete)
	}
	for _, r := range recs {
		var got timerRecord
		if err := got.decode(r.encode()); err != nil || !same(got, r) {
			t.Errorf("round trip of %+v: %+v, %v", r, got, err)
		}
		old, _ := json.Marshal(r)
		got = timerRecord{}
		if err := got.decode(old); err != nil || !same(got, r) {
			t.Errorf("JSON form of %+v: %+v, %v", r, got, err)
		}
	}
	v := recs[0].encode()
	for _, bad := range [][]byte{nil, {2}, v[:5], {recordV1, 0xff}} {
		var got timerRecord
		if err := got.decode(bad); err == nil {
			t.Errorf("damaged record %q read as %+v", bad, got)
		}
	}

	// A state file written by an earlier version, with JSON records, is
	// read at start.
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "execd.db")
	s, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := json.Marshal(recs[0])
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketTimers).Put([]byte(recs[0].Key), old) }); err != nil {
		t.Fatal(err)
	}
	s.close()
	x, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer x.store.close()
	if p := x.Pending(); len(p) != 1 || p[0].Key != recs[0].Key || !p[0].Deadline.Equal(deadline) {
		t.Fatalf("pending after loading a JSON record: %+v", p)
	}
}
