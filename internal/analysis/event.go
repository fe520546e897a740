package analysis

import (
	"strings"
	"unicode/utf8"
)

// Field is one decoded field: a static name (srcip, dstuser, ...) or a
// dynamic one (dotted for JSON input).
type Field struct {
	Name  string
	Value string

	raw bool // Value is JSON text (an array from JSON input)
}

// Event is a log line after pre-decoding and decoding.
type Event struct {
	// FullLog is the line as received.
	FullLog string
	// Log is the message after the syslog header (the whole line when no
	// header was recognised). Rules' <match> and <regex> run on it.
	Log string
	// Timestamp is the header's timestamp text, if any.
	Timestamp string
	// Hostname and ProgramName come from the header; empty when absent.
	Hostname    string
	ProgramName string
	// Location is where the line came from ("stdin", a file path, ...).
	Location string
	// Fields are the decoded fields in decoding order.
	Fields []Field

	decoder      *Decoder // the decoder reported (nil: none matched)
	hostFallback string   // <hostname> compares this when no header gave one
	accumulate   bool     // an <accumulate> decoder ran
	fullPlain    uint32   // 1: FullLog needs no JSON escaping (see appendFullLog); atomic
}

// Get returns the value of a decoded field.
func (e *Event) Get(name string) (string, bool) {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			return e.Fields[i].Value, true
		}
	}
	return "", false
}

// set records a field; a repeated name keeps the first value, as Wazuh
// does for static fields.
func (e *Event) set(name, value string) {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			return
		}
	}
	e.Fields = append(e.Fields, Field{Name: name, Value: value})
}

// setRaw records a field whose value is JSON text.
func (e *Event) setRaw(name, value string) {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			return
		}
	}
	e.Fields = append(e.Fields, Field{Name: name, Value: value, raw: true})
}

// DecoderName is the decoder name Wazuh reports (the parent's name for a
// child without use_own_name), or "" when no decoder matched.
func (e *Event) DecoderName() string {
	if e.decoder == nil {
		return ""
	}
	return e.decoder.Name
}

// AlertData returns the string that the "data" object of the event's alert
// document holds at a dotted path ("srcip", "win.eventdata.ipAddress"), ""
// when nothing is there, for readers that would otherwise decode the
// document. ok is false when a reader such as encoding/json could find
// something else: a value there that is not a string (an object, a JSON
// array), a member on the way that is not an object, text that is not
// valid UTF-8 (the document carries U+FFFD for it), or a member whose name
// differs from a step of the path but may match it all the same
// (encoding/json matches names regardless of case, and folds some
// non-ASCII letters onto ASCII ones).
func (e *Event) AlertData(path string) (v string, ok bool) {
	for i := range e.Fields {
		f := &e.Fields[i]
		name, rest := f.Name, path
		for {
			step, nameRest, nameMore := strings.Cut(name, ".")
			want, pathRest, pathMore := strings.Cut(rest, ".")
			if step != want {
				if strings.EqualFold(step, want) || !ascii(step) {
					return "", false
				}
				break // a member elsewhere
			}
			if nameMore != pathMore {
				// A value where the path needs an object, or the
				// reverse.
				return "", false
			}
			if !nameMore {
				if f.raw || !utf8.ValidString(f.Value) {
					return "", false
				}
				v = f.Value // the last of a repeated name is rendered
				break
			}
			name, rest = nameRest, pathRest
		}
	}
	return v, true
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
