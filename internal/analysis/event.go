package analysis

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
	fullPlain    bool     // FullLog needs no JSON escaping (see appendFullLog)
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
