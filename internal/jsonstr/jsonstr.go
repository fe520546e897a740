// Package jsonstr appends strings as JSON string literals, for the
// hand-written encoders of hot paths (alert documents, stored records),
// where encoding/json's reflection and allocations cost too much.
package jsonstr

import "unicode/utf8"

// plain marks the bytes that stand for themselves in a JSON string:
// ASCII from the space on, but for the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Plain reports whether c stands for itself in a JSON string: Append
// copies it as it is, and a reader need not decode it.
func Plain(c byte) bool { return plain[c] }

// Append appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, one
// per bad byte, as encoding/json does; unlike encoding/json it leaves <, >
// and & as they are, which JSON readers take the same.
func Append(b []byte, s string) []byte {
	b = append(b, '"')
	b = AppendEscaped(b, s)
	return append(b, '"')
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasZero has the high bit set in the bytes of x that are zero (and
// maybe, only when one is, in others).
func hasZero(x uint64) uint64 { return (x - lsb) & ^x & msb }

// hasLess has a high bit set where a byte of x is below n (n <= 128),
// when x has no byte >= 0x80.
func hasLess(x uint64, n byte) uint64 { return (x - lsb*uint64(n)) & ^x & msb }

// AppendEscaped appends s escaped for a JSON string, without the quotes.
func AppendEscaped(b []byte, s string) []byte {
	start := 0 // first byte of s not yet appended
	for i := 0; i < len(s); {
		// Skip eight plain ASCII bytes at a time.
		for i+8 <= len(s) {
			x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
				uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
			if (hasLess(x, 0x20)|hasZero(x^(lsb*'"'))|hasZero(x^(lsb*'\\'))|x)&msb != 0 {
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += n
	}
	return append(b, s[start:]...)
}
