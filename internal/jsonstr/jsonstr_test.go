package jsonstr

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// jsonNormal is s as encoding/json carries it: marshalled (invalid UTF-8
// becomes U+FFFD) and read back.
func jsonNormal(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

var cases = []string{
	"", "plain", `quote " and backslash \`, "\x00\x01\x1f\x7f", "tab\tnl\nret\r",
	"é ü 日本 🙂", "\xff", "a\xc3", "\xc3(", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	"<script>&amp;</script>", "\u2028\u2029", "12345678\"12345678", "1234567\x80abcdefgh",
	"abcdefghijklmnop\\", "abcdefgh\x1fabcdefgh",
}

// TestAppendMatchesEncodingJSON: whatever the string, encoding/json reads
// back from Append what it reads back from its own encoding.
func TestAppendMatchesEncodingJSON(t *testing.T) {
	check := func(s string) {
		t.Helper()
		b := Append(nil, s)
		if !json.Valid(b) {
			t.Fatalf("Append(%q) = %s: not valid JSON", s, b)
		}
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if want := jsonNormal(t, s); got != want {
			t.Fatalf("Append(%q) reads back as %q, want %q", s, got, want)
		}
	}
	for _, s := range cases {
		check(s)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\"\\\x00\x1f\n\x7f\x80\xbf\xc3\xa9\xe2\x82\xac\xf0\x9f\x99\x82\xed\xa0\xff ")
	for range 20000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			if rng.IntN(3) == 0 {
				b[i] = byte(rng.IntN(256))
			} else {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		check(string(b))
	}
}
