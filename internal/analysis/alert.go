package analysis

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/riposte/riposte/internal/jsonstr"
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

// decodedString is s as a JSON decoder reads it back from jsonstr.Append:
// every byte that is not part of valid UTF-8 is U+FFFD.
func decodedString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.WriteString(s[i : i+n])
		}
		i += n
	}
	return sb.String()
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, s)
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

// alertParts are the pieces of a rule's alert document that do not depend
// on the event, rendered once at load.
type alertParts struct {
	head   []byte    // `,"rule":{"level":N,"description":` and, when static, the description
	desc   []descSeg // description template; nil when it is in head
	mid    []byte    // `,"id":"N"` [mitre] `,"firedtimes":`
	tail   []byte    // `,"mail":...` groups, compliance, options
	groups []string  // rule.groups as a reader decodes them (never nil)
	simple bool      // desc can be escaped piecewise (see prepareAlert)
}

// descSeg is a literal run of a description template or a $(field) in it.
type descSeg struct {
	lit   string
	field string
	isVar bool
}

// splitDescription splits a description at its $(field) references the
// way description substitutes them.
func splitDescription(d string) []descSeg {
	var segs []descSeg
	for {
		i := strings.Index(d, "$(")
		if i < 0 {
			break
		}
		j := strings.IndexByte(d[i:], ')')
		if j < 0 {
			break
		}
		if i > 0 {
			segs = append(segs, descSeg{lit: d[:i]})
		}
		segs = append(segs, descSeg{field: d[i+2 : i+j], isVar: true})
		d = d[i+j+1:]
	}
	if d != "" {
		segs = append(segs, descSeg{lit: d})
	}
	return segs
}

// prepareAlert renders r's static alert parts.
func (r *Rule) prepareAlert() { r.alert = r.alertParts() }

// AlertGroups returns rule.groups of r's alerts as a JSON decoder reads
// them: Groups without the compliance groups (pci_dss_..., gdpr_..., ...),
// which alerts list apart; empty, not nil, when none is left. The slice is
// shared: callers must not modify it.
func (r *Rule) AlertGroups() []string {
	if r.alert != nil {
		return r.alert.groups
	}
	return r.alertParts().groups
}

// alertParts renders the static parts of r's alerts.
func (r *Rule) alertParts() *alertParts {
	p := &alertParts{}
	p.head = append(p.head, `,"rule":{"level":`...)
	p.head = strconv.AppendInt(p.head, int64(r.Level), 10)
	p.head = append(p.head, `,"description":`...)
	if !r.descVars {
		p.head = jsonstr.Append(p.head, r.Description)
	} else {
		p.desc = splitDescription(r.Description)
		// Escaping the pieces one by one gives the same text as escaping
		// their concatenation unless a multi-byte sequence could straddle
		// two of them: literals must be ASCII and no two values adjacent.
		p.simple = true
		prevVar := false
		for _, sg := range p.desc {
			if sg.isVar {
				if prevVar {
					p.simple = false
				}
			} else {
				for i := 0; i < len(sg.lit); i++ {
					if sg.lit[i] >= utf8.RuneSelf {
						p.simple = false
					}
				}
			}
			prevVar = sg.isVar
		}
	}
	p.mid = append(p.mid, `,"id":`...)
	p.mid = jsonstr.Append(p.mid, strconv.Itoa(r.ID))
	if len(r.Mitre) > 0 {
		p.mid = append(p.mid, `,"mitre":{"id":`...)
		p.mid = appendStrings(p.mid, r.Mitre)
		p.mid = append(p.mid, '}')
	}
	p.mid = append(p.mid, `,"firedtimes":`...)
	p.tail = append(p.tail, `,"mail":`...)
	p.tail = strconv.AppendBool(p.tail, r.mail)
	p.tail = append(p.tail, `,"groups":`...)
	p.tail = appendStrings(p.tail, r.plainGroups)
	p.groups = make([]string, len(r.plainGroups))
	for i, g := range r.plainGroups {
		p.groups[i] = decodedString(g)
	}
	for _, c := range r.compliance {
		p.tail = append(p.tail, ',')
		p.tail = jsonstr.Append(p.tail, c.key)
		p.tail = append(p.tail, ':')
		p.tail = appendStrings(p.tail, c.values)
	}
	if len(r.Options) > 0 {
		p.tail = append(p.tail, `,"options":`...)
		p.tail = appendStrings(p.tail, r.Options)
	}
	return p
}

// prepareAlerts renders the static parts of every rule's alerts and the
// engine's agent/manager part.
func (e *Engine) prepareAlerts() {
	for _, n := range e.nodes {
		n.rule.prepareAlert()
	}
	for _, r := range e.byID {
		if r.alert == nil {
			r.prepareAlert()
		}
	}
	b := []byte(`},"agent":{"id":"000","name":`)
	b = jsonstr.Append(b, e.opts.ManagerName)
	b = append(b, `},"manager":{"name":`...)
	b = jsonstr.Append(b, e.opts.ManagerName)
	e.alertAgent = append(b, `},"id":`...)
}

// tsCache is the rendered "2006-01-02T15:04:05." of one second.
type tsCache struct {
	sec  int64
	text [20]byte
}

// appendTimestamp appends t in UTC as "2006-01-02T15:04:05.000-0700",
// reusing the date and time of the second rendered last.
func (e *Engine) appendTimestamp(b []byte, t time.Time) []byte {
	sec, ms := t.Unix(), t.Nanosecond()/1e6
	if c := e.lastTS.Load(); c != nil && c.sec == sec {
		b = append(b, c.text[:]...)
		return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), '+', '0', '0', '0', '0')
	}
	n := len(b)
	b = appendTimestamp(b, t)
	if len(b)-n == 28 {
		c := &tsCache{sec: sec}
		copy(c.text[:], b[n:])
		e.lastTS.Store(c)
	}
	return b
}

// appendTimestamp appends t in UTC as "2006-01-02T15:04:05.000-0700".
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000-0700")
	}
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	b = append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, "+0000"...)
}

// alertSize estimates the length of an alert document whose values need
// no escaping.
func alertSize(ev *Event, r *Rule, p *alertParts, agent []byte) int {
	n := len(`{"timestamp":"2006-01-02T15:04:05.000+0000"`) + len(p.head) + len(p.mid) + 20 +
		len(p.tail) + len(agent) + 2 + 20 + 1 + 20 + len(`,"location":""}`) + len(ev.Location)
	if p.desc != nil {
		n += 2
		for _, sg := range p.desc {
			if sg.isVar {
				v, _ := value(ev, sg.field)
				n += len(v)
			} else {
				n += len(sg.lit)
			}
		}
	}
	if !r.noFullLog {
		n += len(`,"full_log":""`) + len(ev.FullLog)
	}
	if ev.ProgramName != "" || ev.Timestamp != "" || ev.Hostname != "" {
		n += len(`,"predecoder":{"program_name":"","timestamp":"","hostname":""}`) +
			len(ev.ProgramName) + len(ev.Timestamp) + len(ev.Hostname)
	}
	if d := ev.decoder; d != nil {
		n += len(`,"decoder":{"parent":"","name":""}`) + len(d.Name)
		if d.parent != nil {
			n += len(d.parent.Name)
		}
	}
	if len(ev.Fields) > 0 {
		n += len(`,"data":{}`)
		for i := range ev.Fields {
			n += len(ev.Fields[i].Name) + len(ev.Fields[i].Value) + len(`,"":""`)
		}
	}
	return n
}

// maxPreviousOutput bounds the text of previous_output: the events that
// would take it past the bound are left out (the first is always kept).
const maxPreviousOutput = 64 << 10

// alertID is the id of the alert numbered seq, made at now.
func alertID(now time.Time, seq uint64) string {
	var b [40]byte
	id := strconv.AppendInt(b[:0], now.Unix(), 10)
	id = append(id, '.')
	return string(strconv.AppendUint(id, seq, 10))
}

// alertDoc renders the alert whose id is id in the shape of Wazuh's
// alerts.json.
func (e *Engine) alertDoc(ev *Event, r *Rule, fired int, now time.Time, prev []*Event, id string) []byte {
	p := r.alert
	if p == nil { // a rule Load did not prepare
		p = r.alertParts()
	}
	agent := e.alertAgent
	if agent == nil {
		b := []byte(`},"agent":{"id":"000","name":`)
		b = jsonstr.Append(b, e.opts.ManagerName)
		b = append(b, `},"manager":{"name":`...)
		b = jsonstr.Append(b, e.opts.ManagerName)
		agent = append(b, `},"id":`...)
	}
	size := alertSize(ev, r, p, agent)
	n := 0
	for i, pe := range prev {
		if n+len(pe.FullLog) > maxPreviousOutput && i > 0 {
			prev = prev[:i]
			break
		}
		n += len(pe.FullLog) + 1
	}
	size += n
	if len(prev) > 0 {
		size += len(`,"previous_output":""`)
	}
	b := e.docBuffer(size)
	b = append(b, `{"timestamp":"`...)
	b = e.appendTimestamp(b, now)
	b = append(b, '"')
	b = append(b, p.head...)
	if p.desc != nil {
		if p.simple {
			b = append(b, '"')
			for _, sg := range p.desc {
				s := sg.lit
				if sg.isVar {
					s, _ = value(ev, sg.field)
				}
				b = jsonstr.AppendEscaped(b, s)
			}
			b = append(b, '"')
		} else {
			b = jsonstr.Append(b, r.description(ev))
		}
	}
	b = append(b, p.mid...)
	b = strconv.AppendInt(b, int64(fired), 10)
	b = append(b, p.tail...)
	b = append(b, agent...)
	b = append(b, '"')
	b = append(b, id...)
	b = append(b, '"')
	if len(prev) > 0 {
		// The earlier events a correlation counted, newest first, one a
		// line.
		b = append(b, `,"previous_output":"`...)
		for i, pe := range prev {
			if i > 0 {
				b = append(b, `\n`...)
			}
			b = pe.appendFullLog(b)
		}
		b = append(b, '"')
	}
	if !r.noFullLog {
		b = append(b, `,"full_log":"`...)
		b = ev.appendFullLog(b)
		b = append(b, '"')
	}
	if ev.ProgramName != "" || ev.Timestamp != "" || ev.Hostname != "" {
		b = append(b, `,"predecoder":{`...)
		sep := ""
		if ev.ProgramName != "" {
			b = append(b, `"program_name":`...)
			b = jsonstr.Append(b, ev.ProgramName)
			sep = ","
		}
		if ev.Timestamp != "" {
			b = append(b, sep...)
			b = append(b, `"timestamp":`...)
			b = jsonstr.Append(b, ev.Timestamp)
			sep = ","
		}
		if ev.Hostname != "" {
			b = append(b, sep...)
			b = append(b, `"hostname":`...)
			b = jsonstr.Append(b, ev.Hostname)
		}
		b = append(b, '}')
	}
	if d := ev.decoder; d != nil {
		b = append(b, `,"decoder":{`...)
		if d.parent != nil {
			b = append(b, `"parent":`...)
			b = jsonstr.Append(b, d.parent.Name)
			b = append(b, ',')
		}
		b = append(b, `"name":`...)
		b = jsonstr.Append(b, d.Name)
		b = append(b, '}')
	}
	if len(ev.Fields) > 0 {
		b = append(b, `,"data":`...)
		b = appendFields(b, ev.Fields)
	}
	b = append(b, `,"location":`...)
	b = jsonstr.Append(b, ev.Location)
	return append(b, '}')
}

// appendFullLog appends FullLog escaped for JSON. It remembers when the
// text needed no escaping (escaping always lengthens it), so that the
// alerts that repeat it in previous_output copy it as it is. It is safe
// for concurrent use: documents are built off the matching goroutine.
func (ev *Event) appendFullLog(b []byte) []byte {
	if atomic.LoadUint32(&ev.fullPlain) != 0 {
		return append(b, ev.FullLog...)
	}
	n := len(b)
	b = jsonstr.AppendEscaped(b, ev.FullLog)
	if len(b)-n == len(ev.FullLog) {
		atomic.StoreUint32(&ev.fullPlain, 1)
	}
	return b
}

// appendFields renders fields as a JSON object, nesting dotted names.
func appendFields(b []byte, fields []Field) []byte {
	if flatFields(fields) {
		b = append(b, '{')
		for i := range fields {
			f := &fields[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, f.Name)
			b = append(b, ':')
			if f.raw {
				b = append(b, f.Value...)
			} else {
				b = jsonstr.Append(b, f.Value)
			}
		}
		return append(b, '}')
	}
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
			return jsonstr.Append(b, n.value)
		}
		b = append(b, '{')
		for i, c := range n.children {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, c.name)
			b = append(b, ':')
			b = emit(b, c)
		}
		return append(b, '}')
	}
	return emit(b, root)
}

// flatFields reports whether no field name is dotted or repeated, so that
// the fields render in order as one flat object.
func flatFields(fields []Field) bool {
	for i := range fields {
		if strings.IndexByte(fields[i].Name, '.') >= 0 {
			return false
		}
		for j := 0; j < i; j++ {
			if fields[j].Name == fields[i].Name {
				return false
			}
		}
	}
	return true
}

// Recycle hands back an alert document (Result.Alert) that the caller no
// longer uses and that nothing else refers to, so that a later alert's
// document reuses its memory: under a burst, most alerts only go to
// alerts.json.
func (e *Engine) Recycle(doc []byte) {
	if cap(doc) == 0 || cap(doc) > maxRecycled {
		return
	}
	doc = doc[:0]
	e.docs.Put(&doc)
}

// maxRecycled is the largest document buffer Recycle keeps.
const maxRecycled = 16 << 10

// docBuffer returns an empty buffer for a document of size bytes: one
// handed back if it is large enough, else a new one, rounded up so that it
// fits documents a little larger when it is handed back.
func (e *Engine) docBuffer(size int) []byte {
	if p, _ := e.docs.Get().(*[]byte); p != nil && cap(*p) >= size {
		return (*p)[:0]
	}
	return make([]byte, 0, (size+255)&^255)
}
