package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxSize is the largest alert document accepted, in bytes. Wazuh caps the
// whole execd message at 64 KiB; Riposte refuses larger alerts instead of
// truncating them.
const MaxSize = 64 << 10

// ManagerID is the agent id of the manager, as in Wazuh.
const ManagerID = "000"

// Alert is one alert document with the fields the response engine uses.
// Raw keeps the document itself, which is passed to scripts unchanged in
// parameters.alert.
type Alert struct {
	// Raw is the alert document as compact JSON.
	Raw json.RawMessage

	// ID is the alert id ("<epoch>.<offset>"), if present.
	ID string
	// RuleID is rule.id, as a string of digits.
	RuleID string
	// RuleLevel is rule.level.
	RuleLevel int
	// RuleGroups is rule.groups.
	RuleGroups []string
	// NoAR is true when the rule carries the no_ar option (rule.options).
	NoAR bool
	// AgentID is agent.id, zero-padded to three digits; "000" when absent.
	AgentID string
	// AgentName is agent.name.
	AgentName string
	// SrcIP is the source address a response acts on, as written: the first
	// of data.win.eventdata.ipAddress, data.srcip and source.ip that is
	// present. Empty if none is.
	SrcIP string
	// SrcIPField names the field SrcIP came from ("data.srcip", ...).
	SrcIPField string
	// DstUser is data.dstuser, or user.name in the 5.x shape.
	DstUser string
}

// doc is the subset of the alert document decoded into typed fields.
type doc struct {
	ID   json.RawMessage `json:"id"`
	Rule *struct {
		ID      json.RawMessage `json:"id"`
		Level   json.RawMessage `json:"level"`
		Groups  []string        `json:"groups"`
		Options json.RawMessage `json:"options"`
	} `json:"rule"`
	Agent *struct {
		ID   json.RawMessage `json:"id"`
		Name string          `json:"name"`
	} `json:"agent"`
	Data *struct {
		SrcIP   json.RawMessage `json:"srcip"`
		DstUser json.RawMessage `json:"dstuser"`
		Win     *struct {
			EventData *struct {
				IPAddress json.RawMessage `json:"ipAddress"`
			} `json:"eventdata"`
		} `json:"win"`
	} `json:"data"`
	Source *struct {
		IP json.RawMessage `json:"ip"`
	} `json:"source"`
	User *struct {
		Name json.RawMessage `json:"name"`
	} `json:"user"`
}

// FieldError reports a field of an alert that is missing or malformed.
type FieldError struct {
	Field string // dotted path, e.g. "rule.level"
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// ErrTooLarge is returned for documents larger than MaxSize.
var ErrTooLarge = errors.New("alert too large")

// Parse decodes one alert document. It requires rule.id and rule.level and
// checks the type of every field it reads; the document must be a single
// JSON object with nothing after it.
func Parse(b []byte) (*Alert, error) {
	b = bytes.TrimSpace(b)
	if err := checkShape(b); err != nil {
		return nil, err
	}
	var d doc
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("invalid alert JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("invalid alert JSON: data after the document")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("invalid alert JSON: %w", err)
	}
	f, err := d.fields()
	if err != nil {
		return nil, err
	}
	return newAlert(buf.Bytes(), f)
}

// Fields are the values of an alert document that an Alert holds, for
// producers of documents that know them without reading the document back.
// A string is empty when its field is absent or null.
type Fields struct {
	// ID is id.
	ID string
	// RuleID is rule.id as text.
	RuleID string
	// RuleLevel is rule.level.
	RuleLevel int
	// RuleGroups is rule.groups as a JSON decoder reads it: nil when the
	// document has none, empty when it has an empty list.
	RuleGroups []string
	// RuleOptions is rule.options.
	RuleOptions []string
	// AgentID is agent.id as written, before padding.
	AgentID string
	// AgentName is agent.name.
	AgentName string
	// WinIPAddress is data.win.eventdata.ipAddress.
	WinIPAddress string
	// SrcIP is data.srcip.
	SrcIP string
	// SourceIP is source.ip.
	SourceIP string
	// DstUser is data.dstuser.
	DstUser string
	// UserName is user.name.
	UserName string
}

// FromFields returns the Alert that Parse returns for the document raw
// whose values are f, without decoding raw. raw must be one JSON object,
// compact as json.Compact leaves it, holding exactly f's values, with
// strings where Fields has strings; it becomes Alert.Raw unchanged.
// FromFields checks the size and the values as Parse does: rule.id must be
// a rule number, rule.level a level from 0 to 20 and agent.id, when
// present, an agent number.
func FromFields(raw []byte, f Fields) (*Alert, error) {
	if err := checkShape(raw); err != nil {
		return nil, err
	}
	return newAlert(raw, f)
}

// checkShape checks what can be seen of a document before it is read: its
// size, and that it starts as an object.
func checkShape(b []byte) error {
	if len(b) > MaxSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxSize)
	}
	if len(b) == 0 || b[0] != '{' {
		return errors.New("alert is not a JSON object")
	}
	return nil
}

// newAlert checks the values of f, read from the document raw, and makes
// the Alert of both: rule.id must be a rule number, rule.level a level
// from 0 to 20 and agent.id, when present, an agent number; the source
// address is the first of data.win.eventdata.ipAddress, data.srcip and
// source.ip that is present, the user data.dstuser, else user.name.
func newAlert(raw []byte, f Fields) (*Alert, error) {
	if f.RuleID == "" {
		return nil, &FieldError{"rule.id", "missing"}
	}
	if !digits(f.RuleID) {
		return nil, &FieldError{"rule.id", fmt.Sprintf("%q is not a rule number", f.RuleID)}
	}
	if f.RuleLevel < 0 || f.RuleLevel > 20 {
		return nil, &FieldError{"rule.level", fmt.Sprintf("%d is not a level from 0 to 20", f.RuleLevel)}
	}
	a := &Alert{Raw: raw, ID: f.ID, RuleID: f.RuleID, RuleLevel: f.RuleLevel, RuleGroups: f.RuleGroups,
		NoAR: ListsNoAR(f.RuleOptions), AgentID: ManagerID, AgentName: f.AgentName, DstUser: f.DstUser}
	if f.AgentID != "" {
		if !digits(f.AgentID) {
			return nil, &FieldError{"agent.id", fmt.Sprintf("%q is not an agent number", f.AgentID)}
		}
		a.AgentID = PadID(f.AgentID)
	}
	for _, c := range [...]struct{ field, value string }{
		{"data.win.eventdata.ipAddress", f.WinIPAddress}, {"data.srcip", f.SrcIP}, {"source.ip", f.SourceIP},
	} {
		if c.value != "" {
			a.SrcIP, a.SrcIPField = c.value, c.field
			break
		}
	}
	if a.DstUser == "" {
		a.DstUser = f.UserName
	}
	return a, nil
}

// fields reads the values of an Alert from a decoded document, checking
// their JSON types. Of the source addresses it reads the first present
// (the one newAlert takes), and user.name only without data.dstuser.
func (d *doc) fields() (Fields, error) {
	var f Fields
	var err error
	if f.ID, err = scalar("id", d.ID); err != nil {
		return f, err
	}
	if d.Rule == nil {
		return f, &FieldError{"rule", "missing"}
	}
	if f.RuleID, err = scalar("rule.id", d.Rule.ID); err != nil {
		return f, err
	}
	if f.RuleID == "" {
		return f, &FieldError{"rule.id", "missing"}
	}
	lvl, err := scalar("rule.level", d.Rule.Level)
	if err != nil {
		return f, err
	}
	if lvl == "" {
		return f, &FieldError{"rule.level", "missing"}
	}
	if f.RuleLevel, err = strconv.Atoi(lvl); err != nil {
		return f, &FieldError{"rule.level", fmt.Sprintf("%q is not a level from 0 to 20", lvl)}
	}
	f.RuleGroups = d.Rule.Groups
	f.RuleOptions = ruleOptions(d.Rule.Options)
	if d.Agent != nil {
		if f.AgentID, err = scalar("agent.id", d.Agent.ID); err != nil {
			return f, err
		}
		f.AgentName = d.Agent.Name
	}
	src, field, err := d.srcIP()
	if err != nil {
		return f, err
	}
	switch field {
	case "data.win.eventdata.ipAddress":
		f.WinIPAddress = src
	case "data.srcip":
		f.SrcIP = src
	case "source.ip":
		f.SourceIP = src
	}
	if d.Data != nil {
		if f.DstUser, err = str("data.dstuser", d.Data.DstUser); err != nil {
			return f, err
		}
	}
	if f.DstUser == "" && d.User != nil {
		if f.UserName, err = str("user.name", d.User.Name); err != nil {
			return f, err
		}
	}
	return f, nil
}

// srcIP is the source address a response acts on, as written: the first
// of data.win.eventdata.ipAddress, data.srcip and source.ip that is
// present, and the field it came from.
func (d *doc) srcIP() (value, field string, err error) {
	type cand struct {
		field string
		raw   json.RawMessage
	}
	var cands []cand
	if d.Data != nil {
		if d.Data.Win != nil && d.Data.Win.EventData != nil {
			cands = append(cands, cand{"data.win.eventdata.ipAddress", d.Data.Win.EventData.IPAddress})
		}
		cands = append(cands, cand{"data.srcip", d.Data.SrcIP})
	}
	if d.Source != nil {
		cands = append(cands, cand{"source.ip", d.Source.IP})
	}
	for _, c := range cands {
		v, err := str(c.field, c.raw)
		if err != nil {
			return "", "", err
		}
		if v != "" {
			return v, c.field, nil
		}
	}
	return "", "", nil
}

// SourceIP reads the source address of a document that need not be a whole
// alert (the alert part of a manual command, {"data":{"srcip":...}}), as
// Parse reads it for Alert.SrcIP. It is empty when none is present.
func SourceIP(b []byte) (string, error) {
	var d doc
	if err := json.Unmarshal(b, &d); err != nil {
		return "", fmt.Errorf("invalid alert JSON: %w", err)
	}
	v, _, err := d.srcIP()
	return v, err
}

// GroupString is the rule's groups as Wazuh matches <rules_group> against
// them: each group followed by a comma ("syslog,sshd,authentication_failed,").
func (a *Alert) GroupString() string {
	var sb strings.Builder
	for _, g := range a.RuleGroups {
		sb.WriteString(g)
		sb.WriteByte(',')
	}
	return sb.String()
}

// PadID zero-pads a numeric agent id to at least three digits, as Wazuh
// prints agent ids ("1" → "001").
func PadID(id string) string {
	if len(id) == 3 || len(id) > 3 && id[0] != '0' {
		return id // as it would come back
	}
	id = strings.TrimLeft(id, "0")
	for len(id) < 3 {
		id = "0" + id
	}
	return id
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// scalar reads a string or a number as text. Absent or null gives "".
func scalar(field string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", &FieldError{field, err.Error()}
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", &FieldError{field, err.Error()}
		}
		return n.String(), nil
	}
	return "", &FieldError{field, "must be a string or a number"}
}

// str reads a string. Absent or null gives "".
func str(field string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] != '"' {
		return "", &FieldError{field, "must be a string"}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &FieldError{field, err.Error()}
	}
	return s, nil
}

// ListsNoAR reports whether a list of rule options contains no_ar, as
// rule.options of an alert does.
func ListsNoAR(options []string) bool {
	for _, o := range options {
		if strings.TrimSpace(o) == "no_ar" {
			return true
		}
	}
	return false
}

// ruleOptions reads rule.options: a list, or a comma-separated string as
// some producers write it; anything else reads as none.
func ruleOptions(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.Split(s, ",")
	}
	return nil
}
