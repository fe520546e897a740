package analysis

import "testing"

func TestIsMonth(t *testing.T) {
	for a := 0; a < 256; a++ {
		for _, rest := range []string{"an", "eb", "ar", "pr", "ay", "un", "ul", "ug", "ep", "ct", "ov", "ec", "xx", "AN"} {
			s := string([]byte{byte(a)}) + rest
			want := false
			for _, m := range months {
				if s == m {
					want = true
				}
			}
			if got := isMonth(s + " 1"); got != want {
				t.Fatalf("isMonth(%q) = %v", s, got)
			}
		}
	}
	if isMonth("Ja") {
		t.Fatal("short")
	}
}
