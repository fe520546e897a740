package analysis

import (
	"fmt"
	"strings"
)

// offset says where a decoder pattern starts in the message.
type offset uint8

const (
	offsetNone offset = iota
	offsetAfterParent
	offsetAfterPrematch
	offsetAfterRegex
)

func parseOffset(s string) (offset, error) {
	switch s {
	case "":
		return offsetNone, nil
	case "after_parent":
		return offsetAfterParent, nil
	case "after_prematch":
		return offsetAfterPrematch, nil
	case "after_regex":
		return offsetAfterRegex, nil
	}
	return 0, fmt.Errorf("unknown offset %q", s)
}

// Decoder is one compiled <decoder>.
type Decoder struct {
	// Name is the name reported and compared by decoded_as: the parent's
	// name for a child unless use_own_name is set.
	Name string
	// OwnName is the name attribute as written.
	OwnName string
	// Type is the event category (<type>): syslog, firewall, ids, web-log,
	// squid, windows or ossec.
	Type string

	// File and Line locate the <decoder> element.
	File string
	Line int

	parent         *Decoder
	children       []*Decoder
	hasProgramName bool
	programName    *expr // nil with hasProgramName: any program
	prematch       *capturer
	prematchOffset offset
	regex          *capturer
	regexOffset    offset
	order          []string
	plugin         func(ev *Event, s string) bool // <plugin_decoder>
	pluginOffset   offset
	fts            []string
	useOwnName     bool
	accumulate     bool
}

// staticFields maps <order> names to the field names Wazuh reports.
var staticFields = map[string]string{
	"srcip": "srcip", "dstip": "dstip", "srcport": "srcport", "dstport": "dstport",
	"srcuser": "srcuser", "dstuser": "dstuser", "user": "dstuser", "id": "id",
	"url": "url", "action": "action", "status": "status", "protocol": "protocol",
	"extra_data": "extra_data", "system_name": "system_name",
}

// parseDecoder compiles one <decoder> element.
func parseDecoder(n *xmlNode, file string) (*Decoder, string, error) {
	name, _ := n.attr("name")
	if name == "" {
		return nil, "", fmt.Errorf("decoder without a name")
	}
	d := &Decoder{Name: name, OwnName: name, Type: "syslog", File: file, Line: n.Line}
	var parent, prematch, prematchType, regex, regexType, pn, pnType string
	for _, c := range n.Children {
		var err error
		switch c.Name {
		case "parent":
			parent = strings.TrimSpace(c.Text)
		case "prematch":
			prematch += c.Text
			prematchType, _ = c.attr("type")
			o, ok := c.attr("offset")
			if !ok {
				break
			}
			if d.prematchOffset, err = parseOffset(o); err != nil {
				return nil, "", fmt.Errorf("line %d: prematch: %w", c.Line, err)
			}
		case "regex":
			regex += c.Text
			regexType, _ = c.attr("type")
			o, ok := c.attr("offset")
			if !ok {
				break
			}
			if d.regexOffset, err = parseOffset(o); err != nil {
				return nil, "", fmt.Errorf("line %d: regex: %w", c.Line, err)
			}
		case "order":
			for _, f := range strings.Split(c.Text, ",") {
				f = strings.TrimSpace(f)
				if s, ok := staticFields[f]; ok {
					f = s
				}
				d.order = append(d.order, f)
			}
		case "program_name":
			d.hasProgramName = true
			pn += c.Text
			pnType, _ = c.attr("type")
		case "type":
			d.Type = strings.TrimSpace(c.Text)
		case "plugin_decoder":
			// An unknown plugin is nil: the decoder still selects events
			// but extracts nothing.
			d.plugin = plugins[strings.TrimSpace(c.Text)]
			o, _ := c.attr("offset")
			if d.pluginOffset, err = parseOffset(o); err != nil {
				return nil, "", fmt.Errorf("line %d: plugin_decoder: %w", c.Line, err)
			}
		case "use_own_name":
			d.useOwnName = strings.EqualFold(c.Text, "true")
		case "fts":
			for _, f := range strings.Split(c.Text, ",") {
				if f = strings.TrimSpace(f); f != "" {
					if s, ok := staticFields[f]; ok {
						f = s
					}
					d.fts = append(d.fts, f)
				}
			}
		case "accumulate":
			d.accumulate = true
		case "ftscomment", "json_null_field", "json_array_structure", "var":
		default:
			return nil, "", fmt.Errorf("line %d: unknown element <%s>", c.Line, c.Name)
		}
	}
	var err error
	if pn != "" {
		if d.programName, err = compileExpr(pn, pnType, kindOSMatch, false); err != nil {
			return nil, "", fmt.Errorf("program_name: %w", err)
		}
	}
	if prematch != "" {
		if d.prematch, err = compileCapturer(prematch, prematchType); err != nil {
			return nil, "", fmt.Errorf("prematch: %w", err)
		}
	}
	if regex != "" {
		if d.regex, err = compileCapturer(regex, regexType); err != nil {
			return nil, "", fmt.Errorf("regex: %w", err)
		}
	}
	return d, parent, nil
}

// decoderSet holds the two root lists.
type decoderSet struct {
	withPN    []*Decoder // roots with <program_name>
	withoutPN []*Decoder
	byName    map[string][]*Decoder // roots by name
	count     int
	// byFirst holds, for each program name first byte (folded), the
	// roots of withPN that a program name starting with it may select,
	// in their order: a root whose program_name only has ^-anchored
	// alternatives is left out of the other bytes' lists.
	byFirst *[256][]*Decoder
}

// index builds byFirst.
func (s *decoderSet) index() {
	var t [256][]*Decoder
	for _, d := range s.withPN {
		var prefixes []string
		ok := false
		if d.programName != nil && d.programName.kind == kindOSMatch && !d.programName.negate {
			prefixes, ok = d.programName.match.Prefixes()
		}
		var in [256]bool
		for _, p := range prefixes {
			if p == "" {
				ok = false
				break
			}
			in[p[0]] = true
		}
		for c := range t {
			if !ok || in[lowerASCII(byte(c))] {
				t[c] = append(t[c], d)
			}
		}
	}
	s.byFirst = &t
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func (s *decoderSet) add(d *Decoder, parent string) error {
	if s.byName == nil {
		s.byName = map[string][]*Decoder{}
	}
	s.count++
	if parent == "" {
		s.byName[d.Name] = append(s.byName[d.Name], d)
		if d.hasProgramName {
			s.withPN = append(s.withPN, d)
		} else {
			s.withoutPN = append(s.withoutPN, d)
		}
		return nil
	}
	parents := s.byName[parent]
	if len(parents) == 0 {
		return fmt.Errorf("parent decoder %q not found", parent)
	}
	for i, p := range parents {
		c := d
		if i > 0 {
			cp := *d
			c = &cp
		}
		c.parent = p
		if !c.useOwnName {
			c.Name = p.Name
		}
		if c.Type == "syslog" {
			c.Type = p.Type
		}
		p.children = append(p.children, c)
	}
	return nil
}

// decode runs the decoders on ev and records the fields and decoder.
func (s *decoderSet) decode(ev *Event) {
	roots := s.withoutPN
	if ev.ProgramName != "" {
		roots = s.withPN
		if s.byFirst != nil {
			roots = s.byFirst[ev.ProgramName[0]]
		}
	}
	log := ev.Log
	for _, r := range roots {
		if r.programName != nil && !r.programName.test(ev.ProgramName) {
			continue
		}
		pmEnd := 0
		if r.prematch != nil {
			next, ok := r.prematch.test(log)
			if !ok {
				continue
			}
			pmEnd = next
		}
		ev.decoder = r
		if len(r.children) == 0 {
			r.extract(ev, log, 0, pmEnd, 0)
			return
		}
		if !decodeChildren(ev, r, log, pmEnd) {
			r.extract(ev, log, 0, pmEnd, 0)
		}
		return
	}
}

// decodeChildren picks the first child of r that matches and runs its
// regex chain; false when no child matched.
func decodeChildren(ev *Event, r *Decoder, log string, parentEnd int) bool {
	for i, c := range r.children {
		ownEnd := 0
		if c.prematch != nil {
			start := 0
			if c.prematchOffset == offsetAfterParent {
				start = parentEnd
			}
			next, ok := c.prematch.test(log[start:])
			if !ok {
				continue
			}
			ownEnd = start + next
		}
		ev.decoder = c
		// The chain: c and the later siblings with the same own name.
		regexEnd := 0
		for j := i; j < len(r.children); j++ {
			d := r.children[j]
			if d.OwnName != c.OwnName {
				continue
			}
			last := true
			for k := j + 1; k < len(r.children); k++ {
				if r.children[k].OwnName == c.OwnName {
					last = false
					break
				}
			}
			if d != c && d.prematch != nil {
				start := 0
				if d.prematchOffset == offsetAfterParent {
					start = parentEnd
				}
				next, ok := d.prematch.test(log[start:])
				if !ok {
					continue
				}
				ownEnd = start + next
			}
			end, ok := d.extract(ev, log, parentEnd, ownEnd, regexEnd)
			if ok {
				regexEnd = end
			} else if last {
				return true
			}
		}
		return true
	}
	return false
}

// extract applies the decoder's regex (or plugin) and stores the fields.
// It returns where the regex ended in log.
func (d *Decoder) extract(ev *Event, log string, parentEnd, prematchEnd, regexEnd int) (int, bool) {
	if d.accumulate {
		ev.accumulate = true
	}
	if d.plugin != nil {
		start := pickOffset(d.pluginOffset, parentEnd, prematchEnd, regexEnd)
		return len(log), d.plugin(ev, log[start:])
	}
	if d.regex == nil {
		return regexEnd, true
	}
	start := pickOffset(d.regexOffset, parentEnd, prematchEnd, regexEnd)
	var buf [16]string
	next, caps, ok := d.regex.exec(buf[:0], log[start:])
	if !ok {
		return 0, false
	}
	for i, v := range caps {
		if i >= len(d.order) {
			break
		}
		if v == "" {
			continue
		}
		ev.set(d.order[i], v)
	}
	return start + next, true
}

func pickOffset(o offset, parentEnd, prematchEnd, regexEnd int) int {
	switch o {
	case offsetAfterParent:
		return parentEnd
	case offsetAfterPrematch:
		return prematchEnd
	case offsetAfterRegex:
		return regexEnd
	}
	return 0
}
