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

// v4 is the 4.x envelope.
type v4 struct {
	Version    json.RawMessage `json:"version"`
	Origin     json.RawMessage `json:"origin"`
	Command    json.RawMessage `json:"command"`
	Parameters json.RawMessage `json:"parameters"`
}

type v4params struct {
	ExtraArgs []json.RawMessage `json:"extra_args"`
	Alert     json.RawMessage   `json:"alert"`
}

type alertFields struct {
	Data *struct {
		SrcIP   json.RawMessage `json:"srcip"`
		DstUser json.RawMessage `json:"dstuser"`
		Win     *struct {
			EventData *struct {
				IPAddress     json.RawMessage `json:"ipAddress"`
				DestinationIP json.RawMessage `json:"destinationIp"`
			} `json:"eventdata"`
		} `json:"win"`
	} `json:"data"`
}

type v5 struct {
	Wazuh *struct {
		ActiveResponse *struct {
			ExtraArguments string `json:"extra_arguments"`
		} `json:"active_response"`
	} `json:"wazuh"`
	Command json.RawMessage `json:"command"`
	Source  *struct {
		IP json.RawMessage `json:"ip"`
	} `json:"source"`
	User *struct {
		Name json.RawMessage `json:"name"`
	} `json:"user"`
}

// ParseInput reads one message, telling the contracts apart by the presence
// of wazuh.active_response (5.x) or version plus parameters (4.x). Errors
// carry Wazuh's log texts ("Invalid input format", "Invalid value of
// 'command'", ...).
func ParseInput(line []byte) (*Input, error) {
	line = bytes.TrimRight(line, "\r\n")
	in := &Input{Raw: line}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(line, &probe); err != nil {
		return nil, &InputError{"Invalid input format"}
	}
	if w, ok := probe["wazuh"]; ok && bytes.Contains(w, []byte(`"active_response"`)) {
		return in, parseV5(line, in)
	}
	var m v4
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, &InputError{"Invalid input format"}
	}
	if !isNumber(m.Version) || !isObject(m.Origin) || !isString(m.Command) || !isObject(m.Parameters) {
		if len(m.Command) == 0 && isNumber(m.Version) && isObject(m.Origin) && isObject(m.Parameters) {
			return nil, &InputError{"Cannot read 'command' from json"}
		}
		return nil, &InputError{"Invalid input format"}
	}
	var cmd string
	_ = json.Unmarshal(m.Command, &cmd)
	switch cmd {
	case "add":
		in.Verb = Add
	case "delete":
		in.Verb = Delete
	default:
		return nil, &InputError{"Invalid value of 'command'"}
	}
	var p v4params
	if err := json.Unmarshal(m.Parameters, &p); err != nil {
		return nil, &InputError{"Invalid input format"}
	}
	for _, a := range p.ExtraArgs {
		var s string
		if json.Unmarshal(a, &s) == nil {
			in.ExtraArgs = append(in.ExtraArgs, s)
		}
	}
	in.Alert = p.Alert
	if isObject(p.Alert) {
		var af alertFields
		if err := json.Unmarshal(p.Alert, &af); err == nil && af.Data != nil {
			d := af.Data
			if d.Win != nil && d.Win.EventData != nil {
				in.SrcIP, in.SrcIPField = firstString(
					field{"ipAddress", d.Win.EventData.IPAddress},
					field{"destinationIp", d.Win.EventData.DestinationIP},
				)
			}
			if in.SrcIP == "" {
				in.SrcIP, in.SrcIPField = firstString(field{"srcip", d.SrcIP})
			}
			in.User, _ = firstString(field{"dstuser", d.DstUser})
		}
	}
	return in, nil
}

func parseV5(line []byte, in *Input) error {
	in.V5 = true
	var m v5
	if err := json.Unmarshal(line, &m); err != nil || m.Wazuh == nil || m.Wazuh.ActiveResponse == nil {
		return &InputError{"Invalid input format"}
	}
	if !isString(m.Command) {
		return &InputError{"Cannot read 'command' from json"}
	}
	var cmd string
	_ = json.Unmarshal(m.Command, &cmd)
	switch cmd {
	case "enable", "add":
		in.Verb = Add
	case "disable", "delete":
		in.Verb = Delete
	default:
		return &InputError{"Invalid value of 'command'"}
	}
	in.ExtraArgs = strings.Fields(m.Wazuh.ActiveResponse.ExtraArguments)
	in.Alert = json.RawMessage(line)
	if m.Source != nil {
		in.SrcIP, in.SrcIPField = firstString(field{"source.ip", m.Source.IP})
	}
	if m.User != nil {
		in.User, _ = firstString(field{"user.name", m.User.Name})
	}
	return nil
}

type field struct {
	name string
	raw  json.RawMessage
}

func firstString(fs ...field) (string, string) {
	for _, f := range fs {
		var s string
		if isString(f.raw) && json.Unmarshal(f.raw, &s) == nil && s != "" {
			return s, f.name
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
