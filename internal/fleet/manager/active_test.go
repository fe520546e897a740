package manager

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte/riposte/internal/fleet"
)

// TestActiveJSON: the hand-written document of an Active reads back as
// the same value, and is byte for byte what encoding/json writes, but for
// the characters encoding/json writes as \u escapes (<, >, &, invalid
// UTF-8, U+2028, U+2029).
func TestActiveJSON(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 5, 123456789, time.UTC)
	for _, a := range []Active{
		{},
		{ID: "000.0123456789abcdef", Agent: "000", Key: `firewall-drop ["203.0.113.7"]`, Added: at, Until: at.Add(10 * time.Minute)},
		{ID: "001.x", Agent: "001", Name: "firewall-drop", Executable: "firewall-drop", Key: "k", Keys: []string{"203.0.113.7", "2001:db8::1"},
			SrcIP: "203.0.113.7", CommandID: "c1", Added: at.In(time.FixedZone("x", 3600)), Until: at.Add(time.Second), Backend: "nftables"},
		{ID: "q\"\\\n\x01é\xff", Agent: "a", Key: "\u2028", Keys: []string{""}, Added: at.Truncate(time.Second), Until: at},
		{ID: "html", Agent: "<b>&</b>", Key: "k"},
	} {
		got := a.appendJSON(nil)
		var back Active
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		want, _ := json.Marshal(a)
		var wantBack Active
		json.Unmarshal(want, &wantBack)
		if !reflect.DeepEqual(back, wantBack) {
			t.Errorf("%s reads back as\n %+v\nwant %+v", got, back, wantBack)
		}
		if !strings.Contains(string(want), `\u`) && string(got) != string(want) {
			t.Errorf("document\n %s\nwant %s", got, want)
		}
	}
}

func BenchmarkActiveJSON(b *testing.B) {
	at := time.Now()
	a := Active{ID: "000.0123456789abcdef", Agent: "000", Name: "firewall-drop", Executable: "firewall-drop",
		Key: `firewall-drop ["203.0.113.7"]`, Keys: []string{"203.0.113.7"}, SrcIP: "203.0.113.7", CommandID: "ABCDEFGHIJKLMNOPQRSTUV",
		Added: at, Until: at.Add(10 * time.Minute), Backend: "nftables"}
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(a)
		}
	})
	b.Run("appendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a.appendJSON(make([]byte, 0, 384))
		}
	})
}

// TestLazyWrites: a lone manager writes its own host's active list and the
// offense counts once no more writes come (at the first flush that finds
// no new write since the one before), or once the oldest has waited
// lazyMax; a later write of a key replaces one still waiting; other
// agents' entries are written at once; Close writes what waits; a manager
// of a cluster writes at once.
func TestLazyWrites(t *testing.T) {
	s := startServer(t, "")
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	// No Run: the test calls the flushes.
	m, err := New(context.Background(), Options{Conn: connect(t, s), Alone: true, Now: now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// stored reads key from the bucket of kv, once the asynchronous writes
	// of m have reached the server.
	stored := func(m *Manager, kv jetstream.KeyValue, key string) (string, bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		select {
		case <-m.js.PublishAsyncComplete():
		case <-ctx.Done():
			t.Fatal("writes not acknowledged")
		}
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(e.Value()), true
	}

	// A burst: nothing is written while writes keep coming.
	m.putLater(fleet.BucketActive, "000.a", []byte(`{"id":"000.a"}`), time.Hour)
	m.flushLazy()
	m.putLater(fleet.BucketActive, "000.b", []byte(`{"id":"000.b"}`), time.Hour)
	m.putLater(fleet.BucketOffenders, "203_0_113_7", []byte(`{"count":1}`), 0)
	m.putLater(fleet.BucketActive, "000.c", []byte(`{"id":"000.c"}`), time.Hour)
	m.purgeLater(fleet.BucketActive, "000.c") // replaces the write waiting
	m.flushLazy()
	if _, ok := stored(m, m.kvActive, "000.a"); ok {
		t.Fatal("written while writes were still coming")
	}
	// Then one flush without new writes: all written, 000.c's purge in
	// place of its put (three writes to the active bucket, not four).
	activeWrites := func() uint64 {
		t.Helper()
		st, err := m.kvActive.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
	}
	before := activeWrites()
	m.flushLazy()
	for _, k := range []struct {
		kv         jetstream.KeyValue
		key, value string
	}{{m.kvActive, "000.a", `{"id":"000.a"}`}, {m.kvActive, "000.b", `{"id":"000.b"}`}, {m.kvOffenders, "203_0_113_7", `{"count":1}`}} {
		if v, ok := stored(m, k.kv, k.key); !ok || v != k.value {
			t.Errorf("%s after the burst: %q, %v", k.key, v, ok)
		}
	}
	if _, ok := stored(m, m.kvActive, "000.c"); ok {
		t.Error("000.c, purged before its write, is stored")
	}
	if n := activeWrites() - before; n != 3 {
		t.Errorf("%d writes to the active bucket, want 3 (a later write replaces one waiting)", n)
	}

	// Writes that never stop are written once the oldest has waited
	// lazyMax.
	m.putLater(fleet.BucketActive, "000.d", []byte(`{"id":"000.d"}`), time.Hour)
	for range 3 {
		clock.Add(int64(lazyMax / 4))
		m.putLater(fleet.BucketActive, "000.e", []byte(`{"id":"000.e"}`), time.Hour)
		m.flushLazy()
	}
	if _, ok := stored(m, m.kvActive, "000.d"); ok {
		t.Fatal("written before lazyMax")
	}
	clock.Add(int64(lazyMax / 4))
	m.putLater(fleet.BucketActive, "000.e", []byte(`{"id":"000.e"}`), time.Hour)
	m.flushLazy()
	if _, ok := stored(m, m.kvActive, "000.d"); !ok {
		t.Fatal("not written after lazyMax")
	}

	// Another agent's entry is written at once, its removal too.
	at := time.Now()
	m.mu.Lock()
	w := m.applyRunState("001", fleet.Result{Verb: "add", Outcome: "ok", Key: "k1", Keys: []string{"203.0.113.9"}, Timeout: fleet.Duration(time.Hour), Started: at}, "")
	m.mu.Unlock()
	w()
	if _, ok := stored(m, m.kvActive, ActiveID("001", "k1")); !ok {
		t.Error("another agent's entry was put off")
	}
	m.mu.Lock()
	w = m.applyRunState("001", fleet.Result{Verb: "delete", Outcome: "ok", Key: "k1"}, "")
	m.mu.Unlock()
	w()
	if _, ok := stored(m, m.kvActive, ActiveID("001", "k1")); ok {
		t.Error("another agent's removal was put off")
	}

	// Close writes what waits, and writes at once afterwards.
	m.putLater(fleet.BucketActive, "000.f", []byte(`{"id":"000.f"}`), time.Hour)
	m.Close()
	m.putLater(fleet.BucketActive, "000.g", []byte(`{"id":"000.g"}`), time.Hour)
	for _, key := range []string{"000.f", "000.g"} {
		if _, ok := stored(m, m.kvActive, key); !ok {
			t.Errorf("%s not written by or after Close", key)
		}
	}

	// A manager of a cluster writes at once.
	m2, err := New(context.Background(), Options{Conn: connect(t, s), Node: "clustered", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	m2.putLater(fleet.BucketActive, "000.h", []byte(`{"id":"000.h"}`), time.Hour)
	if _, ok := stored(m2, m2.kvActive, "000.h"); !ok {
		t.Error("a manager of a cluster put its write off")
	}
}

// TestReconcile: the active list of an agent becomes what its executor
// holds: entries it lacks are added and stored, an entry extended since
// takes its new end, entries it no longer holds are dropped and purged,
// other agents' entries stay.
func TestReconcile(t *testing.T) {
	s := startServer(t, "")
	m, stop := startManager(t, connect(t, s), Options{Alone: true})
	at := time.Now().UTC().Truncate(time.Second)
	held := func(key string) Active {
		return Active{Name: "firewall-drop", Executable: "firewall-drop", Key: key, Keys: []string{key}, Added: at, Until: at.Add(time.Hour)}
	}
	// Before: 000 has a (still held), b (gone) and e (held, extended);
	// 001 has c.
	for _, r := range []struct {
		agent, key string
	}{{"000", "203.0.113.1"}, {"000", "203.0.113.2"}, {"001", "203.0.113.3"}, {"000", "203.0.113.5"}} {
		m.mu.Lock()
		w := m.applyRunState(r.agent, fleet.Result{Verb: "add", Outcome: "ok", Key: r.key, Keys: []string{r.key}, Timeout: fleet.Duration(time.Hour), Started: at}, "")
		m.mu.Unlock()
		w()
	}
	extended := held("203.0.113.5")
	extended.Until = at.Add(3 * time.Hour)
	changed, dropped := m.Reconcile("000", []Active{held("203.0.113.1"), held("203.0.113.4"), extended})
	if changed != 2 || dropped != 1 {
		t.Errorf("Reconcile: added or changed %d, dropped %d; want 2 and 1", changed, dropped)
	}
	ids := func(list []Active) []string {
		var out []string
		for _, a := range list {
			out = append(out, a.Agent+" "+a.SrcIP)
		}
		slices.Sort(out)
		return out
	}
	want := []string{"000 203.0.113.1", "000 203.0.113.4", "000 203.0.113.5", "001 203.0.113.3"}
	if got := ids(m.Active(Filter{})); !slices.Equal(got, want) {
		t.Errorf("active after Reconcile: %v, want %v", got, want)
	}
	// Stored as well: a new manager on the same store loads the same.
	stop()
	m2, _ := startManager(t, connect(t, s), Options{Alone: true})
	if got := ids(m2.Active(Filter{})); !slices.Equal(got, want) {
		t.Errorf("active loaded after Reconcile: %v, want %v", got, want)
	}
	if a := m2.Active(Filter{Agent: "000", IP: netip.MustParseAddr("203.0.113.4")}); len(a) != 1 || !a[0].Until.Equal(at.Add(time.Hour)) || a[0].ID != ActiveID("000", "203.0.113.4") {
		t.Errorf("reconciled entry %+v", a)
	}
	if a := m2.Active(Filter{Agent: "000", IP: netip.MustParseAddr("203.0.113.5")}); len(a) != 1 || !a[0].Until.Equal(extended.Until) {
		t.Errorf("extended entry %+v, want until %s", a, extended.Until)
	}
}

// TestOffenderJSON: the hand-written document of an Offender is what
// encoding/json writes; the bucket key of an address has no dot, colon
// or percent sign.
func TestOffenderJSON(t *testing.T) {
	for _, o := range []Offender{
		{},
		{Address: "203.0.113.7", Count: 3, Last: time.Date(2026, 11, 27, 10, 0, 5, 123456789, time.UTC)},
		{Address: "2001:db8::1", Count: 1, Last: time.Date(2026, 11, 27, 10, 0, 5, 0, time.FixedZone("x", -3600))},
	} {
		want, _ := json.Marshal(o)
		if got := o.appendJSON(nil); string(got) != string(want) {
			t.Errorf("document %s, want %s", got, want)
		}
	}
	for ip, want := range map[string]string{"203.0.113.7": "203_0_113_7", "2001:db8::1": "2001-db8--1", "::ffff:203.0.113.7": "203_0_113_7", "fe80::1%eth0": "fe80--1=eth0"} {
		if got := OffenderKey(netip.MustParseAddr(ip)); got != want {
			t.Errorf("OffenderKey(%s) = %s, want %s", ip, got, want)
		}
	}
}
