package analysis

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// complianceGroups are group prefixes Wazuh moves out of rule.groups into
// arrays of their own.
var complianceGroups = []struct{ prefix, key string }{
	{"pci_dss_", "pci_dss"}, {"gdpr_", "gdpr"}, {"hipaa_", "hipaa"},
	{"nist_800_53_", "nist_800_53"}, {"gpg13_", "gpg13"}, {"tsc_", "tsc"},
}

// splitGroups separates the compliance groups (pci_dss_10.2.4, ...) from
// the plain ones, once at load time.
func (r *Rule) splitGroups() {
	r.plainGroups, r.compliance = nil, nil
	for _, g := range r.Groups {
		moved := false
		for _, c := range complianceGroups {
			if strings.HasPrefix(g, c.prefix) {
				moved = true
				v := g[len(c.prefix):]
				i := slices.IndexFunc(r.compliance, func(x complianceList) bool { return x.key == c.key })
				if i < 0 {
					r.compliance = append(r.compliance, complianceList{c.key, nil})
					i = len(r.compliance) - 1
				}
				r.compliance[i].values = append(r.compliance[i].values, v)
				break
			}
		}
		if !moved {
			r.plainGroups = append(r.plainGroups, g)
		}
	}
	// Wazuh writes the compliance arrays in a fixed order.
	slices.SortStableFunc(r.compliance, func(a, b complianceList) int {
		return complianceRank(a.key) - complianceRank(b.key)
	})
}

type complianceList struct {
	key    string
	values []string
}

func complianceRank(key string) int {
	for i, c := range complianceGroups {
		if c.key == key {
			return i
		}
	}
	return len(complianceGroups)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
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
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// Description returns the rule description with $(field) references
// replaced by the event's values.
func (r *Rule) description(ev *Event) string {
	if !r.descVars {
		return r.Description
	}
	var sb strings.Builder
	d := r.Description
	for {
		i := strings.Index(d, "$(")
		if i < 0 {
			sb.WriteString(d)
			return sb.String()
		}
		j := strings.IndexByte(d[i:], ')')
		if j < 0 {
			sb.WriteString(d)
			return sb.String()
		}
		sb.WriteString(d[:i])
		name := d[i+2 : i+j]
		v, _ := value(ev, name)
		sb.WriteString(v)
		d = d[i+j+1:]
	}
}

// alertJSON renders the alert in the shape of Wazuh's alerts.json.
func (e *Engine) alertJSON(ev *Event, r *Rule, fired int, now time.Time) []byte {
	b := make([]byte, 0, 512+2*len(ev.FullLog))
	b = append(b, `{"timestamp":`...)
	b = appendString(b, now.UTC().Format("2006-01-02T15:04:05.000-0700"))
	b = append(b, `,"rule":{"level":`...)
	b = strconv.AppendInt(b, int64(r.Level), 10)
	b = append(b, `,"description":`...)
	b = appendString(b, r.description(ev))
	b = append(b, `,"id":`...)
	b = appendString(b, strconv.Itoa(r.ID))
	if len(r.Mitre) > 0 {
		b = append(b, `,"mitre":{"id":`...)
		b = appendStrings(b, r.Mitre)
		b = append(b, '}')
	}
	b = append(b, `,"firedtimes":`...)
	b = strconv.AppendInt(b, int64(fired), 10)
	b = append(b, `,"mail":`...)
	b = strconv.AppendBool(b, r.mail)
	b = append(b, `,"groups":`...)
	b = appendStrings(b, r.plainGroups)
	for _, c := range r.compliance {
		b = append(b, ',')
		b = appendString(b, c.key)
		b = append(b, ':')
		b = appendStrings(b, c.values)
	}
	if len(r.Options) > 0 {
		b = append(b, `,"options":`...)
		b = appendStrings(b, r.Options)
	}
	b = append(b, `},"agent":{"id":"000","name":`...)
	b = appendString(b, e.opts.ManagerName)
	b = append(b, `},"manager":{"name":`...)
	b = appendString(b, e.opts.ManagerName)
	b = append(b, `},"id":`...)
	b = appendString(b, e.alertID(now))
	if !r.noFullLog {
		b = append(b, `,"full_log":`...)
		b = appendString(b, ev.FullLog)
	}
	if ev.ProgramName != "" || ev.Timestamp != "" || ev.Hostname != "" {
		b = append(b, `,"predecoder":{`...)
		first := true
		for _, kv := range [...][2]string{{"program_name", ev.ProgramName}, {"timestamp", ev.Timestamp}, {"hostname", ev.Hostname}} {
			if kv[1] == "" {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, kv[0])
			b = append(b, ':')
			b = appendString(b, kv[1])
		}
		b = append(b, '}')
	}
	if d := ev.decoder; d != nil {
		b = append(b, `,"decoder":{`...)
		if d.parent != nil {
			b = append(b, `"parent":`...)
			b = appendString(b, d.parent.Name)
			b = append(b, ',')
		}
		b = append(b, `"name":`...)
		b = appendString(b, d.Name)
		b = append(b, '}')
	}
	if len(ev.Fields) > 0 {
		b = append(b, `,"data":`...)
		b = appendFields(b, ev.Fields)
	}
	b = append(b, `,"location":`...)
	b = appendString(b, ev.Location)
	return append(b, '}')
}

// appendFields renders fields as a JSON object, nesting dotted names.
func appendFields(b []byte, fields []Field) []byte {
	type node struct {
		name     string
		value    string
		leaf     bool
		raw      bool
		children []*node
	}
	root := &node{}
	for _, f := range fields {
		cur := root
		parts := strings.Split(f.Name, ".")
		for i, p := range parts {
			var next *node
			for _, c := range cur.children {
				if c.name == p {
					next = c
					break
				}
			}
			if next == nil {
				next = &node{name: p}
				cur.children = append(cur.children, next)
			}
			if i == len(parts)-1 && len(next.children) == 0 {
				next.leaf, next.value, next.raw = true, f.Value, f.raw
			}
			cur = next
		}
	}
	var emit func(b []byte, n *node) []byte
	emit = func(b []byte, n *node) []byte {
		if n.leaf && len(n.children) == 0 {
			if n.raw {
				return append(b, n.value...)
			}
			return appendString(b, n.value)
		}
		b = append(b, '{')
		for i, c := range n.children {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, c.name)
			b = append(b, ':')
			b = emit(b, c)
		}
		return append(b, '}')
	}
	return emit(b, root)
}
