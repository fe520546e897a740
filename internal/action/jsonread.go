package action

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/riposte/riposte/internal/jsonstr"
)

// maxDepth is encoding/json's limit on the nesting of arrays and objects.
const maxDepth = 10000

// decoder reads JSON from a byte slice in one pass. It accepts what
// encoding/json accepts (RFC 8259, any bytes from 0x80 up in strings, at
// most maxDepth levels of nesting) while its callers walk the objects they
// want and take the values they need as sub-slices of the data. After a
// syntax error, failed is set, the offset is at the end and every method
// returns at once.
type decoder struct {
	data   []byte
	off    int
	depth  int
	failed bool
}

func (d *decoder) fail() {
	d.failed = true
	d.off = len(d.data)
}

// skipSpace skips JSON whitespace.
func (d *decoder) skipSpace() {
	for d.off < len(d.data) {
		switch d.data[d.off] {
		case ' ', '\t', '\n', '\r':
			d.off++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 at the end of the data.
func (d *decoder) peek() byte {
	if d.off < len(d.data) {
		return d.data[d.off]
	}
	return 0
}

// value checks and skips the value at the offset, and returns it.
func (d *decoder) value() []byte {
	start := d.off
	switch d.peek() {
	case '{':
		for _, ok := d.firstKey(); ok; _, ok = d.nextKey() {
			d.value()
		}
	case '[':
		for ok := d.firstElem(); ok; ok = d.nextElem() {
			d.value()
		}
	case '"':
		d.str()
	case 't':
		d.literal("true")
	case 'f':
		d.literal("false")
	case 'n':
		d.literal("null")
	default:
		d.number()
	}
	return d.data[start:d.off]
}

// open enters the object or array whose opening bracket is at the offset.
func (d *decoder) open() bool {
	if d.failed {
		return false
	}
	d.off++
	d.depth++
	if d.depth > maxDepth {
		d.fail()
		return false
	}
	return true
}

// firstKey enters the object at the offset and reads its first key. It
// returns false, with the object left, if the object is empty.
func (d *decoder) firstKey() ([]byte, bool) {
	if !d.open() {
		return nil, false
	}
	d.skipSpace()
	if d.peek() == '}' {
		d.off++
		d.depth--
		return nil, false
	}
	return d.key()
}

// nextKey reads the next key of an object after a member's value. It
// returns false, with the object left, at the object's end.
func (d *decoder) nextKey() ([]byte, bool) {
	if d.failed {
		return nil, false
	}
	d.skipSpace()
	switch d.peek() {
	case ',':
		d.off++
		d.skipSpace()
		return d.key()
	case '}':
		d.off++
		d.depth--
		return nil, false
	}
	d.fail()
	return nil, false
}

// key reads a key, the colon after it and the space before the value. It
// returns the key as it decodes, a sub-slice of the data unless it has
// escapes or bytes from 0x80 up.
func (d *decoder) key() ([]byte, bool) {
	if d.peek() != '"' {
		d.fail()
		return nil, false
	}
	start := d.off
	plain := d.str()
	if d.failed {
		return nil, false
	}
	key := d.data[start+1 : d.off-1]
	if !plain {
		key = unquoteBytes(d.data[start:d.off])
	}
	d.skipSpace()
	if d.peek() != ':' {
		d.fail()
		return nil, false
	}
	d.off++
	d.skipSpace()
	return key, true
}

// firstElem enters the array at the offset. It returns false, with the
// array left, if the array is empty.
func (d *decoder) firstElem() bool {
	if !d.open() {
		return false
	}
	d.skipSpace()
	if d.peek() == ']' {
		d.off++
		d.depth--
		return false
	}
	return true
}

// nextElem moves to the next element of an array after an element. It
// returns false, with the array left, at the array's end.
func (d *decoder) nextElem() bool {
	if d.failed {
		return false
	}
	d.skipSpace()
	switch d.peek() {
	case ',':
		d.off++
		d.skipSpace()
		return true
	case ']':
		d.off++
		d.depth--
		return false
	}
	d.fail()
	return false
}

// literal skips lit (true, false or null) at the offset.
func (d *decoder) literal(lit string) {
	if len(d.data)-d.off < len(lit) || string(d.data[d.off:d.off+len(lit)]) != lit {
		d.fail()
		return
	}
	d.off += len(lit)
}

// number skips a number at the offset.
func (d *decoder) number() {
	b, i := d.data, d.off
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		d.fail()
		return
	}
	if i < len(b) && b[i] == '.' {
		if i+1 >= len(b) || !isDigit(b[i+1]) {
			d.fail()
			return
		}
		i = skipDigits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			d.fail()
			return
		}
		i = skipDigits(b, i)
	}
	d.off = i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// str skips the string at the offset. plain reports that it has neither
// escapes nor bytes from 0x80 up, so that it decodes to its bytes.
func (d *decoder) str() (plain bool) {
	b := d.data
	plain = true
	for i := d.off + 1; i < len(b); {
		c := b[i]
		if jsonstr.Plain(c) {
			i++
			continue
		}
		switch {
		case c == '"':
			d.off = i + 1
			return plain
		case c == '\\':
			n := escapeLen(b[i:])
			if n == 0 {
				d.fail()
				return false
			}
			plain = false
			i += n
		case c < ' ':
			d.fail()
			return false
		default:
			plain = false
			i++
		}
	}
	d.fail()
	return false
}

// escapeLen returns the length of the escape sequence at the start of b, 0
// if there is none.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) < 6 {
			return 0
		}
		for _, c := range b[2:6] {
			if !isDigit(c) && !('a' <= c && c <= 'f') && !('A' <= c && c <= 'F') {
				return 0
			}
		}
		return 6
	}
	return 0
}

// unquote returns what tok, a JSON string the decoder has read, decodes to,
// as encoding/json decodes it (invalid UTF-8 and lone surrogates become
// U+FFFD).
func unquote(tok []byte) string {
	return string(unquoteBytes(tok))
}

// unquoteBytes is unquote returning bytes: tok without its quotes when it
// has no escapes and is valid UTF-8, else a copy.
func unquoteBytes(tok []byte) []byte {
	s := tok[1 : len(tok)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s
	}
	var v string
	_ = json.Unmarshal(tok, &v) // no error: tok is a valid string
	return []byte(v)
}

// keyIs reports whether key matches the struct field whose JSON name is
// name as encoding/json matches them: exactly or, failing that, under
// Unicode case folding ("SrcIP" and "ſrcip" match "srcip").
func keyIs(key []byte, name string) bool {
	return string(key) == name || bytes.EqualFold(key, []byte(name))
}

// Kinds of value for a field that is a pointer to a struct.
const (
	structObject = iota + 1 // decoded into the struct, merged with what is there
	structNull              // clears the field
	structOther             // a type error
)

// structValue tells the kind of the next value, for a field that is a
// pointer to a struct, as encoding/json decodes it. It skips null and
// values of other kinds, noting the type error in *bad, and leaves an
// object for the caller to read.
func (d *decoder) structValue(bad *bool) int {
	switch d.peek() {
	case '{':
		return structObject
	case 'n':
		d.value()
		return structNull
	}
	*bad = true
	d.value()
	return structOther
}
