package action

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Verb is what a message asks an action to do.
type Verb int

// Verbs. Wazuh 4.x says add/delete, Wazuh 5.x enable/disable.
const (
	Add Verb = iota + 1
	Delete
)

// String returns the 4.x spelling.
func (v Verb) String() string {
	if v == Add {
		return "add"
	}
	return "delete"
}

// Input is one message an action reads on stdin, in either contract.
type Input struct {
	// Raw is the line as read, without its line ending.
	Raw []byte
	// V5 is true for the Wazuh 5.x contract.
	V5 bool
	// Verb is Add or Delete.
	Verb Verb
	// SrcIP is the source address as written, from (4.x)
	// parameters.alert.data.win.eventdata.ipAddress, ...destinationIp or
	// parameters.alert.data.srcip, or (5.x) source.ip. Empty if none.
	SrcIP string
	// SrcIPField names where SrcIP came from, for messages.
	SrcIPField string
	// User is parameters.alert.data.dstuser (4.x) or user.name (5.x).
	User string
	// ExtraArgs are parameters.extra_args (4.x), or
	// wazuh.active_response.extra_arguments split on spaces (5.x).
	ExtraArgs []string
	// Alert is parameters.alert (4.x) or the whole message (5.x).
	Alert json.RawMessage
}

// InputError is a message that cannot be used; Msg is the text logged.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// ParseInput reads one message, telling the contracts apart by the presence
// of wazuh.active_response (5.x) or version plus parameters (4.x). Errors
// carry Wazuh's log texts ("Invalid input format", "Invalid value of
// 'command'", ...). Raw and Alert are sub-slices of line.
//
// It reads the line once, accepting the JSON encoding/json accepts and
// taking the fields it needs as encoding/json decodes them into structs:
// keys match case-insensitively, the last of repeated keys wins, an object
// given twice for the same struct is merged, null clears, and a value of the
// wrong kind for a struct (a string for data) fails that decoding. Only
// the key "wazuh" that tells the contracts apart must be spelled exactly.
func ParseInput(line []byte) (*Input, error) {
	line = bytes.TrimRight(line, "\r\n")
	var m message
	if !m.read(line) {
		return nil, &InputError{"Invalid input format"}
	}
	if bytes.Contains(m.wazuh, []byte(`"active_response"`)) {
		in := &Input{Raw: line, V5: true}
		return in, m.fillV5(in)
	}
	return m.v4Input(line)
}

// message holds the values ParseInput needs of a line, in either contract,
// as sub-slices of the line.
type message struct {
	// wazuh is the value of the last key spelled exactly "wazuh", whose
	// text tells a 5.x message.
	wazuh []byte
	// command is in both contracts.
	command []byte

	version, origin, parameters []byte
	// params are read from the last parameters, if an object.
	params v4Params

	v5 v5Fields
}

// v4Params are the fields of a 4.x message's parameters that ParseInput
// reads.
type v4Params struct {
	// badArgs is set when an extra_args is neither an array nor null.
	badArgs   bool
	extraArgs []byte
	alert     []byte
	// fields are read from the last alert, if an object.
	fields alertFields
}

// alertFields are the fields of a 4.x alert that ParseInput reads.
type alertFields struct {
	// bad is set when a value has the wrong kind for the structs below,
	// which makes all of them unusable.
	bad  bool
	data dataFields
}

// The structs below stand for pointers to structs in encoding/json's
// decoding: set tells that the pointer is non-nil.

type dataFields struct {
	set            bool
	srcIP, dstUser []byte
	win            winFields
}

type winFields struct {
	set       bool
	eventData eventDataFields
}

type eventDataFields struct {
	set                      bool
	ipAddress, destinationIP []byte
}

// v5Fields are the fields of a 5.x message that ParseInput reads.
type v5Fields struct {
	// bad is set when a value has the wrong kind for the structs below,
	// which makes the message invalid.
	bad    bool
	wazuh  wazuhFields
	source sourceFields
	user   userFields
}

type wazuhFields struct {
	set            bool
	activeResponse activeResponseFields
}

type activeResponseFields struct {
	set            bool
	extraArguments []byte
}

type sourceFields struct {
	set bool
	ip  []byte
}

type userFields struct {
	set  bool
	name []byte
}

// read reads line into m. It returns false unless line is one JSON object
// (encoding/json rejects data after a value).
func (m *message) read(line []byte) bool {
	d := decoder{data: line}
	d.skipSpace()
	if d.peek() != '{' {
		return false
	}
	readMessage(&d, m)
	d.skipSpace()
	return !d.failed && d.off == len(d.data)
}

func readMessage(d *decoder, m *message) {
	for key, ok := d.firstKey(); ok; key, ok = d.nextKey() {
		switch {
		case keyIs(key, "wazuh"):
			start := d.off
			switch d.structValue(&m.v5.bad) {
			case structObject:
				m.v5.wazuh.set = true
				readWazuh(d, &m.v5.wazuh, &m.v5.bad)
			case structNull:
				m.v5.wazuh = wazuhFields{}
			}
			if string(key) == "wazuh" {
				m.wazuh = d.data[start:d.off]
			}
		case keyIs(key, "command"):
			m.command = d.value()
		case keyIs(key, "version"):
			m.version = d.value()
		case keyIs(key, "origin"):
			m.origin = d.value()
		case keyIs(key, "parameters"):
			m.params = v4Params{}
			start := d.off
			if d.peek() == '{' {
				readParams(d, &m.params)
			} else {
				d.value()
			}
			m.parameters = d.data[start:d.off]
		case keyIs(key, "source"):
			switch d.structValue(&m.v5.bad) {
			case structObject:
				m.v5.source.set = true
				readKey(d, "ip", &m.v5.source.ip)
			case structNull:
				m.v5.source = sourceFields{}
			}
		case keyIs(key, "user"):
			switch d.structValue(&m.v5.bad) {
			case structObject:
				m.v5.user.set = true
				readKey(d, "name", &m.v5.user.name)
			case structNull:
				m.v5.user = userFields{}
			}
		default:
			d.value()
		}
	}
}

func readParams(d *decoder, p *v4Params) {
	for key, ok := d.firstKey(); ok; key, ok = d.nextKey() {
		switch {
		case keyIs(key, "extra_args"):
			switch d.peek() {
			case '[':
				p.extraArgs = d.value()
			case 'n':
				p.extraArgs = nil
				d.value()
			default:
				p.badArgs = true
				d.value()
			}
		case keyIs(key, "alert"):
			p.fields = alertFields{}
			start := d.off
			if d.peek() == '{' {
				readAlert(d, &p.fields)
			} else {
				d.value()
			}
			p.alert = d.data[start:d.off]
		default:
			d.value()
		}
	}
}

func readAlert(d *decoder, a *alertFields) {
	for key, ok := d.firstKey(); ok; key, ok = d.nextKey() {
		if !keyIs(key, "data") {
			d.value()
			continue
		}
		switch d.structValue(&a.bad) {
		case structObject:
			a.data.set = true
			readData(d, &a.data, &a.bad)
		case structNull:
			a.data = dataFields{}
		}
	}
}

func readData(d *decoder, f *dataFields, bad *bool) {
	for key, ok := d.firstKey(); ok; key, ok = d.nextKey() {
		switch {
		case keyIs(key, "srcip"):
			f.srcIP = d.value()
		case keyIs(key, "dstuser"):
			f.dstUser = d.value()
		case keyIs(key, "win"):
			switch d.structValue(bad) {
			case structObject:
				f.win.set = true
				readWin(d, &f.win, bad)
			case structNull:
				f.win = winFields{}
			}
		default:
			d.value()
		}
	}
}

func readWin(d *decoder, f *winFields, bad *bool) {
	for key, ok := d.firstKey(); ok; key, ok = d.nextKey() {
		if !keyIs(key, "eventdata") {
			d.value()
			continue
		}
		switch d.structValue(bad) {
		case structObject:
			f.eventData.set = true
			readEventData(d, &f.eventData)
		case structNull:
			f.eventData = eventDataFields{}
		}
	}
}

func readEventData(d *decoder, f *eventDataFields) {
	for key, ok := d.firstKey(); ok; key, ok = d.nextKey() {
		switch {
		case keyIs(key, "ipAddress"):
			f.ipAddress = d.value()
		case keyIs(key, "destinationIp"):
			f.destinationIP = d.value()
		default:
			d.value()
		}
	}
}

func readWazuh(d *decoder, f *wazuhFields, bad *bool) {
	for key, ok := d.firstKey(); ok; key, ok = d.nextKey() {
		if !keyIs(key, "active_response") {
			d.value()
			continue
		}
		switch d.structValue(bad) {
		case structObject:
			f.activeResponse.set = true
			readActiveResponse(d, &f.activeResponse, bad)
		case structNull:
			f.activeResponse = activeResponseFields{}
		}
	}
}

func readActiveResponse(d *decoder, f *activeResponseFields, bad *bool) {
	for key, ok := d.firstKey(); ok; key, ok = d.nextKey() {
		if !keyIs(key, "extra_arguments") {
			d.value()
			continue
		}
		// A string field: null leaves it as it is.
		switch d.peek() {
		case '"':
			f.extraArguments = d.value()
		case 'n':
			d.value()
		default:
			*bad = true
			d.value()
		}
	}
}

// readKey reads an object for the value of one key into v, which it
// leaves as it is without the key: as encoding/json merges an object into
// what an earlier one of the same name set.
func readKey(d *decoder, name string, v *[]byte) {
	for key, ok := d.firstKey(); ok; key, ok = d.nextKey() {
		if keyIs(key, name) {
			*v = d.value()
		} else {
			d.value()
		}
	}
}

// v4Input makes the input of a 4.x message.
func (m *message) v4Input(line []byte) (*Input, error) {
	if !isNumber(m.version) || !isObject(m.origin) || !isString(m.command) || !isObject(m.parameters) {
		if m.command == nil && isNumber(m.version) && isObject(m.origin) && isObject(m.parameters) {
			return nil, &InputError{"Cannot read 'command' from json"}
		}
		return nil, &InputError{"Invalid input format"}
	}
	in := &Input{Raw: line}
	switch string(unquoteBytes(m.command)) {
	case "add":
		in.Verb = Add
	case "delete":
		in.Verb = Delete
	default:
		return nil, &InputError{"Invalid value of 'command'"}
	}
	p := &m.params
	if p.badArgs {
		return nil, &InputError{"Invalid input format"}
	}
	in.ExtraArgs = stringElems(p.extraArgs)
	// Capped, so that an append to Alert cannot write into Raw.
	in.Alert = p.alert[:len(p.alert):len(p.alert)]
	if isObject(p.alert) && !p.fields.bad && p.fields.data.set {
		d := &p.fields.data
		if e := &d.win.eventData; d.win.set && e.set {
			in.SrcIP, in.SrcIPField = firstString(
				field{"ipAddress", e.ipAddress},
				field{"destinationIp", e.destinationIP},
			)
		}
		if in.SrcIP == "" {
			in.SrcIP, in.SrcIPField = firstString(field{"srcip", d.srcIP})
		}
		in.User, _ = firstString(field{"dstuser", d.dstUser})
	}
	return in, nil
}

// stringElems returns the strings in arr, a JSON array, null counting as
// the empty string (as it decodes into a string) and other values left out.
func stringElems(arr []byte) []string {
	if arr == nil {
		return nil
	}
	var ss []string
	d := decoder{data: arr}
	for ok := d.firstElem(); ok; ok = d.nextElem() {
		switch d.peek() {
		case '"':
			ss = append(ss, unquote(d.value()))
		case 'n':
			ss = append(ss, "")
			d.value()
		default:
			d.value()
		}
	}
	return ss
}

// fillV5 fills in from a 5.x message. ParseInput returns in with the error
// too, Raw and V5 set, as it always has.
func (m *message) fillV5(in *Input) error {
	f := &m.v5
	if f.bad || !f.wazuh.set || !f.wazuh.activeResponse.set {
		return &InputError{"Invalid input format"}
	}
	if !isString(m.command) {
		return &InputError{"Cannot read 'command' from json"}
	}
	switch string(unquoteBytes(m.command)) {
	case "enable", "add":
		in.Verb = Add
	case "disable", "delete":
		in.Verb = Delete
	default:
		return &InputError{"Invalid value of 'command'"}
	}
	var args string
	if raw := f.wazuh.activeResponse.extraArguments; raw != nil {
		args = unquote(raw)
	}
	in.ExtraArgs = strings.Fields(args)
	in.Alert = json.RawMessage(in.Raw)
	if f.source.set {
		in.SrcIP, in.SrcIPField = firstString(field{"source.ip", f.source.ip})
	}
	if f.user.set {
		in.User, _ = firstString(field{"user.name", f.user.name})
	}
	return nil
}

type field struct {
	name string
	raw  json.RawMessage
}

// firstString returns the first of fs that is a non-empty string, and its
// name.
func firstString(fs ...field) (string, string) {
	for _, f := range fs {
		if isString(f.raw) {
			if s := unquote(f.raw); s != "" {
				return s, f.name
			}
		}
	}
	return "", ""
}

func isNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}
func isObject(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '{' }
func isString(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '"' }

// errMissing builds Wazuh's "Cannot read '<field>' from data" error.
func errMissing(in *Input, field4, field5 string) error {
	f := field4
	if in.V5 {
		f = field5
	}
	return &InputError{fmt.Sprintf("Cannot read '%s' from data", f)}
}
