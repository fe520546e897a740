package execd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/riposte/riposte/internal/jsonstr"
)

// Message verbs of Wazuh 4.x's stdin protocol.
const (
	verbAdd      = "add"
	verbDelete   = "delete"
	verbContinue = "continue"
	verbAbort    = "abort"
)

// buildMessage writes the JSON line a script reads, in Wazuh's key order
// (version, origin, command, parameters) with parameters holding extra_args,
// alert and program, as wazuh-execd rewrites it.
func buildMessage(node, verb string, extraArgs []string, alertDoc json.RawMessage, program string) []byte {
	b := make([]byte, 0, len(alertDoc)+len(node)+len(program)+160)
	b = append(b, `{"version":1,"origin":{"name":`...)
	b = jsonstr.Append(b, node)
	b = append(b, `,"module":"wazuh-execd"},"command":`...)
	b = jsonstr.Append(b, verb)
	b = append(b, `,"parameters":{"extra_args":[`...)
	for i, a := range extraArgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, a)
	}
	b = append(b, `],"alert":`...)
	if len(alertDoc) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, alertDoc...)
	}
	b = append(b, `,"program":`...)
	b = jsonstr.Append(b, program)
	return append(b, "}}"...)
}

// withVerb returns msg (built by buildMessage) with its command replaced.
func withVerb(msg []byte, verb string) []byte {
	return appendWithVerb(make([]byte, 0, len(msg)+8), msg, verb)
}

// appendWithVerb appends msg (built by buildMessage) with its command
// replaced to dst.
func appendWithVerb(dst, msg []byte, verb string) []byte {
	// The command is the first "command" key at depth one, right after the
	// origin object, so a prefix search is exact for messages we built.
	const key = `"module":"wazuh-execd"},"command":`
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return append(dst, msg...)
	}
	start := i + len(key)
	end := start + 1
	for end < len(msg) && msg[end] != '"' {
		if msg[end] == '\\' {
			end++
		}
		end++
	}
	dst = append(dst, msg[:start]...)
	dst = jsonstr.Append(dst, verb)
	return append(dst, msg[end+1:]...)
}

// keysMessage is the check_keys line a stateful script prints.
type keysMessage struct {
	Version    json.RawMessage `json:"version"`
	Origin     json.RawMessage `json:"origin"`
	Command    *string         `json:"command"`
	Parameters *struct {
		Keys []json.RawMessage `json:"keys"`
	} `json:"parameters"`
}

// errNotKeys is returned for a line that is not a valid check_keys message.
var errNotKeys = errors.New("not a check_keys message")

// parseKeys reads a check_keys line as Wazuh's execd accepts it: version a
// number, origin an object, command the string "check_keys", parameters an
// object; string keys are kept, others skipped. Keys that are IP addresses
// are normalised (IPv4-mapped IPv6 to IPv4, canonical IPv6 text) so that
// different spellings share one key.
func parseKeys(line []byte) ([]string, error) {
	var m keysMessage
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotKeys, err)
	}
	switch {
	case len(m.Version) == 0 || !(m.Version[0] == '-' || m.Version[0] >= '0' && m.Version[0] <= '9'):
		return nil, fmt.Errorf("%w: no numeric version", errNotKeys)
	case len(m.Origin) == 0 || m.Origin[0] != '{':
		return nil, fmt.Errorf("%w: origin is not an object", errNotKeys)
	case m.Command == nil:
		return nil, fmt.Errorf("%w: no command", errNotKeys)
	case *m.Command != "check_keys":
		return nil, fmt.Errorf("%w: command is %q", errNotKeys, *m.Command)
	case m.Parameters == nil:
		return nil, fmt.Errorf("%w: parameters is not an object", errNotKeys)
	}
	var keys []string
	for _, raw := range m.Parameters.Keys {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			continue
		}
		keys = append(keys, s)
	}
	keys = normalizeKeys(keys)
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no string keys", errNotKeys)
	}
	return keys, nil
}

// normalizeKeys returns keys with IP addresses in their canonical form
// (IPv4-mapped IPv6 as IPv4, canonical IPv6 text), so that different
// spellings share one key.
func normalizeKeys(keys []string) []string {
	var out []string
	for _, s := range keys {
		if a, err := netip.ParseAddr(s); err == nil {
			s = a.Unmap().String()
		}
		out = append(out, s)
	}
	return out
}

// rkey is the dedupe and timer key of a response: the executable plus its
// keys. Unlike Wazuh's "-"-joined form it cannot collide (["a-b"] and
// ["a","b"] differ).
func rkey(executable string, keys []string) string {
	if len(keys) == 0 {
		return executable
	}
	enc, _ := json.Marshal(keys)
	return executable + " " + string(enc)
}

// keysOf recovers the keys of an rkey, for display.
func keysOf(key string) []string {
	_, rest, ok := strings.Cut(key, " ")
	if !ok {
		return nil
	}
	var keys []string
	_ = json.Unmarshal([]byte(rest), &keys)
	return keys
}
