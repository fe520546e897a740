package manager

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
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
