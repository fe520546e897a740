package jsonstr

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// cases are strings an escaper gets wrong: quotes and backslashes, control
// bytes, each kind of invalid UTF-8, characters encoding/json escapes, and
// special bytes on either side of an 8-byte block.
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
		// What encoding/json reads back from its own encoding (invalid
		// UTF-8 becomes U+FFFD).
		enc, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(enc, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
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
