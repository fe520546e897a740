package analysis

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// decodeJSON is the JSON_Decoder plugin: it flattens a JSON object into
// dotted field names. Arrays of scalars are kept as JSON text, nulls are
// dropped. It reports false when s is not a JSON object.
func decodeJSON(ev *Event, s string) bool {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") {
		return false
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return false
	}
	// Walk the tokens to keep the document's key order.
	flattenOrdered(ev, "", string(raw))
	return true
}

// flattenOrdered walks the object in document order.
func flattenOrdered(ev *Event, prefix, doc string) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return
	}
	walkObject(ev, prefix, dec)
}

func walkObject(ev *Event, prefix string, dec *json.Decoder) {
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return
		}
		key, _ := t.(string)
		name := key
		if prefix != "" {
			name = prefix + "." + key
		} else if s, ok := staticFields[key]; ok {
			name = s // top-level srcip, user, ... fill the static fields
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return
		}
		storeJSON(ev, name, raw)
	}
	_, _ = dec.Token() // }
}

func storeJSON(ev *Event, name string, raw json.RawMessage) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return
	}
	switch raw[0] {
	case '{':
		sub := json.NewDecoder(bytes.NewReader(raw))
		sub.UseNumber()
		if _, err := sub.Token(); err != nil {
			return
		}
		walkObject(ev, name, sub)
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			ev.set(name, s)
		}
	case 'n':
		// null: discarded
	case '[':
		var c bytes.Buffer
		if json.Compact(&c, raw) == nil {
			ev.setRaw(name, c.String())
		}
	default:
		s := string(raw)
		if f, err := strconv.ParseFloat(s, 64); err == nil && strings.ContainsAny(s, ".eE") {
			s = strconv.FormatFloat(f, 'f', -1, 64)
		}
		ev.set(name, s)
	}
}
