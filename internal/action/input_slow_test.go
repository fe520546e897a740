package action

import (
	"bytes"
	"encoding/json"
	"strings"
)

// slowV4 is the 4.x envelope.
type slowV4 struct {
	Version    json.RawMessage `json:"version"`
	Origin     json.RawMessage `json:"origin"`
	Command    json.RawMessage `json:"command"`
	Parameters json.RawMessage `json:"parameters"`
}

type slowV4Params struct {
	ExtraArgs []json.RawMessage `json:"extra_args"`
	Alert     json.RawMessage   `json:"alert"`
}

type slowAlertFields struct {
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

type slowV5 struct {
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

// parseInputSlow is ParseInput as it was before it read the line in one
// pass: encoding/json into a map, then into structs, about eight passes over
// the line. It is kept unchanged (only renamed) as the reference the tests
// hold ParseInput to.
func parseInputSlow(line []byte) (*Input, error) {
	line = bytes.TrimRight(line, "\r\n")
	in := &Input{Raw: line}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(line, &probe); err != nil {
		return nil, &InputError{"Invalid input format"}
	}
	if w, ok := probe["wazuh"]; ok && bytes.Contains(w, []byte(`"active_response"`)) {
		return in, slowParseV5(line, in)
	}
	var m slowV4
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, &InputError{"Invalid input format"}
	}
	if !slowIsNumber(m.Version) || !slowIsObject(m.Origin) || !slowIsString(m.Command) || !slowIsObject(m.Parameters) {
		if len(m.Command) == 0 && slowIsNumber(m.Version) && slowIsObject(m.Origin) && slowIsObject(m.Parameters) {
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
	var p slowV4Params
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
	if slowIsObject(p.Alert) {
		var af slowAlertFields
		if err := json.Unmarshal(p.Alert, &af); err == nil && af.Data != nil {
			d := af.Data
			if d.Win != nil && d.Win.EventData != nil {
				in.SrcIP, in.SrcIPField = slowFirstString(
					slowField{"ipAddress", d.Win.EventData.IPAddress},
					slowField{"destinationIp", d.Win.EventData.DestinationIP},
				)
			}
			if in.SrcIP == "" {
				in.SrcIP, in.SrcIPField = slowFirstString(slowField{"srcip", d.SrcIP})
			}
			in.User, _ = slowFirstString(slowField{"dstuser", d.DstUser})
		}
	}
	return in, nil
}

func slowParseV5(line []byte, in *Input) error {
	in.V5 = true
	var m slowV5
	if err := json.Unmarshal(line, &m); err != nil || m.Wazuh == nil || m.Wazuh.ActiveResponse == nil {
		return &InputError{"Invalid input format"}
	}
	if !slowIsString(m.Command) {
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
		in.SrcIP, in.SrcIPField = slowFirstString(slowField{"source.ip", m.Source.IP})
	}
	if m.User != nil {
		in.User, _ = slowFirstString(slowField{"user.name", m.User.Name})
	}
	return nil
}

type slowField struct {
	name string
	raw  json.RawMessage
}

func slowFirstString(fs ...slowField) (string, string) {
	for _, f := range fs {
		var s string
		if slowIsString(f.raw) && json.Unmarshal(f.raw, &s) == nil && s != "" {
			return s, f.name
		}
	}
	return "", ""
}

func slowIsNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}
func slowIsObject(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '{' }
func slowIsString(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '"' }
