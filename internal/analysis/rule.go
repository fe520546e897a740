package analysis

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/riposte/riposte/internal/analysis/osregex"
)

// Rule is one compiled <rule>.
type Rule struct {
	ID    int
	Level int

	// What matching reads for every rule tried comes first, together, so
	// that trying a rule touches few cache lines.
	failAlways     bool // needs data Riposte does not have (GeoIP)
	noalert        bool
	checkDiff      bool
	ifFts          bool
	hasTime        bool
	weekdays       uint8 // bit per time.Weekday; 0: no <weekday>
	maxsize        int
	ignore         int
	frequency      int // as written (0: none)
	ifMatchedSid   int
	decodedAs      string
	checks         []check // in Wazuh's order
	fields         []fieldCheck
	srcip          *ipList
	dstip          *ipList
	compiled       func(*Event) bool
	lists          []listCheck
	ifMatchedGroup *osregex.Match
	// ifMatchedRegex counts the session's earlier events whose message
	// matches it (OS_Regex by default).
	ifMatchedRegex *expr

	// Description is the text as written; alerts substitute $(field).
	Description string
	// Groups is the group string split at commas: the enclosing <group
	// name> followed by the rule's own <group> text.
	Groups []string
	// Options are the <options> set: no_log, no_full_log, no_ar,
	// no_email_alert, alert_by_email, no_counter.
	Options []string
	// Mitre lists the <mitre><id> values.
	Mitre []string

	// File and Line locate the <rule> element (the overwriting one after
	// overwrite="yes").
	File string
	Line int

	groupStr  string
	category  string
	noLog     bool
	noFullLog bool
	mail      bool
	timeframe int

	srcipNeg    bool
	dstipNeg    bool
	timeNeg     bool
	timeRange   timeRange
	weekdayNeg  bool
	listRefs    []string // list file per lists entry, resolved at link time
	correlation []sameCheck

	ifSid   []int
	ifGroup *osregex.Match
	ifLevel int
	// globalFrequency counts earlier events from every agent; without it
	// only those of the event's agent (see agentOf) count.
	globalFrequency bool
	// ignoreFields (<ignore>) are recorded, with their values, when the
	// rule fires; checkIgnored (<check_if_ignored>) are looked up: an
	// event whose values were recorded ends with no rule.
	ignoreFields []string
	checkIgnored []string

	descVars bool

	// Linked at load: the rules whose events correlate counts
	// (if_matched_sid, or the if_sid rules and itself for a bare
	// frequency), and the if_matched_group rules that count this rule's
	// events.
	sources        []*Rule
	groupConsumers []*Rule
	// remembered is set when some rule correlates over this rule's
	// events: only then does the session keep them.
	remembered bool
	// keyField is the first same_* field of this rule's correlation, when
	// it has one: its events are looked up in the history of its sources
	// indexed by that field's value, so many interleaved sources (an attack
	// from thousands of addresses) do not push each other out.
	keyField string
	// keyFields are the fields by which this rule's events are indexed,
	// for the rules that correlate over them.
	keyFields []string

	plainGroups []string         // Groups without the compliance ones
	compliance  []complianceList // pci_dss, gdpr, ... in Wazuh's order

	alert *alertParts // static parts of the alert document, set by Load
}

// check is an element compared against a named event value.
type check struct {
	what string // "log", "program_name", a field name, "location", "hostname", "user"
	src  valueSrc
	e    *expr
}

// valueSrc says where value finds a check's value, decided at load time.
type valueSrc uint8

const (
	srcField valueSrc = iota // a decoded field named what
	srcLog
	srcOther // the other names value knows
)

func valueSrcOf(what string) valueSrc {
	switch what {
	case "log":
		return srcLog
	case "program_name", "location", "hostname", "user":
		return srcOther
	}
	return srcField
}

type fieldCheck struct {
	name string
	e    *expr
}

// sameCheck is one same_*/different_* correlation condition.
type sameCheck struct {
	field string
	same  bool
}

// sortLevel is the level used to order siblings: level 0 first.
func (r *Rule) sortLevel() int {
	if r.Level == 0 {
		return 99
	}
	return r.Level
}

// HasOption reports whether the rule carries an option such as "no_ar".
func (r *Rule) HasOption(o string) bool { return slices.Contains(r.Options, o) }

// sameNames maps same_*/different_*/not_same_* suffixes to field names.
var sameNames = map[string]string{
	"source_ip": "srcip", "srcip": "srcip", "dstip": "dstip", "srcport": "srcport", "src_port": "srcport",
	"dstport": "dstport", "dst_port": "dstport", "location": "location", "user": "dstuser",
	"srcuser": "srcuser", "dstuser": "dstuser", "id": "id", "protocol": "protocol",
	"action": "action", "url": "url", "system_name": "system_name", "status": "status",
	"extra_data": "extra_data", "data": "data", "srcgeoip": "srcgeoip", "dstgeoip": "dstgeoip",
}

// ruleCheckOrder ranks the single-valued elements in Wazuh's check order.
var ruleCheckOrder = []string{"program_name", "id", "system_name", "protocol", "match", "regex",
	"action", "url", "location", "srcport", "dstport", "user", "data", "extra_data", "hostname", "status"}

// defaultKind is each element's dialect when no type= is given.
var defaultKind = map[string]exprKind{
	"match": kindOSMatch, "regex": kindOSRegex, "action": kindExact,
}

// ruleElem accumulates a repeated element's text (concatenated, the last
// type and negate win).
type ruleElem struct {
	text   string
	typ    string
	negate bool
	set    bool
}

func isDigitsList(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || c == ',' || c == ' ') {
			return false
		}
	}
	return strings.TrimSpace(s) != ""
}

// errSkip marks a rule Wazuh skips with a warning.
type errSkip struct{ msg string }

func (e *errSkip) Error() string { return e.msg }

// parseRule compiles one <rule> inside a group whose name is group.
func parseRule(n *xmlNode, group, file string) (*Rule, bool, error) {
	r := &Rule{File: file, Line: n.Line, category: "syslog"}
	idStr, _ := n.attr("id")
	id, err := strconv.Atoi(idStr)
	if err != nil || id < 0 {
		return nil, false, fmt.Errorf("invalid rule id %q", idStr)
	}
	r.ID = id
	lv, _ := n.attr("level")
	if r.Level, err = strconv.Atoi(lv); err != nil || r.Level < 0 || r.Level > 16 {
		return nil, false, fmt.Errorf("invalid level %q", lv)
	}
	intAttr := func(name string, dst *int) error {
		if v, ok := n.attr(name); ok {
			x, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("invalid %s %q", name, v)
			}
			*dst = x
		}
		return nil
	}
	for _, a := range []struct {
		n string
		p *int
	}{{"frequency", &r.frequency}, {"timeframe", &r.timeframe}, {"ignore", &r.ignore}, {"maxsize", &r.maxsize}} {
		if err := intAttr(a.n, a.p); err != nil {
			return nil, false, err
		}
	}
	if v, _ := n.attr("noalert"); v == "1" {
		r.noalert = true
	}
	ow, _ := n.attr("overwrite")
	overwrite := ow == "yes"

	elems := map[string]*ruleElem{}
	groupStr := group
	var desc strings.Builder
	for _, c := range n.Children {
		neg, _ := c.attr("negate")
		typ, _ := c.attr("type")
		switch c.Name {
		case "match", "regex", "program_name", "id", "system_name", "protocol", "action", "url",
			"location", "srcport", "dstport", "user", "data", "extra_data", "hostname", "status",
			"srcip", "dstip":
			e := elems[c.Name]
			if e == nil {
				e = &ruleElem{}
				elems[c.Name] = e
			}
			e.text += c.Text
			e.typ = typ
			e.negate = neg == "yes"
			e.set = true
		case "field":
			name, _ := c.attr("name")
			if name == "" {
				return nil, false, fmt.Errorf("line %d: <field> without name", c.Line)
			}
			ex, err := compileExpr(c.Text, typ, kindOSRegex, neg == "yes")
			if err != nil {
				return nil, false, fmt.Errorf("line %d: field %s: %w", c.Line, name, err)
			}
			if s, ok := staticFields[name]; ok {
				name = s
			}
			r.fields = append(r.fields, fieldCheck{name, ex})
		case "decoded_as":
			r.decodedAs = strings.TrimSpace(c.Text)
		case "category":
			r.category = strings.TrimSpace(c.Text)
		case "description":
			desc.WriteString(c.Text)
		case "group":
			groupStr += c.Text
		case "options":
			for _, o := range strings.Split(c.Text, ",") {
				if o = strings.TrimSpace(o); o != "" && !slices.Contains(r.Options, o) {
					r.Options = append(r.Options, o)
				}
			}
		case "mitre":
			for _, m := range c.Children {
				if m.Name == "id" {
					r.Mitre = append(r.Mitre, m.Text)
				}
			}
		case "if_sid":
			if !isDigitsList(c.Text) {
				return nil, false, &errSkip{fmt.Sprintf("invalid if_sid %q", c.Text)}
			}
			for _, f := range strings.FieldsFunc(c.Text, func(r rune) bool { return r == ',' || r == ' ' }) {
				x, _ := strconv.Atoi(f)
				r.ifSid = append(r.ifSid, x)
			}
		case "if_group":
			r.ifGroup, _ = osregex.CompileMatch(c.Text)
		case "if_level":
			x, err := strconv.Atoi(strings.TrimSpace(c.Text))
			if err != nil {
				return nil, false, &errSkip{fmt.Sprintf("invalid if_level %q", c.Text)}
			}
			r.ifLevel = x
		case "if_matched_sid":
			x, err := strconv.Atoi(strings.TrimSpace(c.Text))
			if err != nil {
				return nil, false, &errSkip{fmt.Sprintf("invalid if_matched_sid %q", c.Text)}
			}
			r.ifMatchedSid = x
		case "if_matched_group":
			r.ifMatchedGroup, _ = osregex.CompileMatch(c.Text)
		case "if_fts":
			r.ifFts = true
		case "same_field", "not_same_field":
			r.correlation = append(r.correlation, sameCheck{c.Text, c.Name == "same_field"})
		case "check_diff":
			r.checkDiff = true
		case "srcgeoip", "dstgeoip":
			// No GeoIP database: the field is always absent, so the rule
			// cannot match.
			r.failAlways = true
		case "compiled_rule":
			f, err := compiledRule(c.Text)
			if err != nil {
				return nil, false, &errSkip{err.Error()}
			}
			r.compiled = f
		case "list":
			field, _ := c.attr("field")
			lookup, _ := c.attr("lookup")
			if lookup == "" {
				lookup = "match_key"
			}
			if s, ok := staticFields[field]; ok {
				field = s
			}
			lc := listCheck{field: field, lookup: lookup}
			if cv, ok := c.attr("check_value"); ok {
				ex, err := compileExpr(cv, "", kindOSMatch, false)
				if err != nil {
					return nil, false, fmt.Errorf("line %d: list check_value: %w", c.Line, err)
				}
				lc.value = ex
			}
			r.lists = append(r.lists, lc)
			r.listRefs = append(r.listRefs, c.Text)
		case "time":
			tr, neg, err := parseTimeRange(c.Text)
			if err != nil {
				return nil, false, fmt.Errorf("line %d: %w", c.Line, err)
			}
			r.hasTime, r.timeRange, r.timeNeg = true, tr, neg
		case "weekday":
			set, neg, err := parseWeekdays(c.Text)
			if err != nil {
				return nil, false, fmt.Errorf("line %d: %w", c.Line, err)
			}
			r.weekdays, r.weekdayNeg = set, neg
		case "if_matched_regex":
			ex, err := compileExpr(c.Text, typ, kindOSRegex, false)
			if err != nil {
				return nil, false, fmt.Errorf("line %d: if_matched_regex: %w", c.Line, err)
			}
			r.ifMatchedRegex = ex
		case "global_frequency":
			r.globalFrequency = true
		case "ignore":
			r.ignoreFields = append(r.ignoreFields, fieldList(c.Text)...)
		case "check_if_ignored":
			r.checkIgnored = append(r.checkIgnored, fieldList(c.Text)...)
		case "info", "var":
		default:
			switch {
			case strings.HasPrefix(c.Name, "same_"):
				if f, ok := sameNames[c.Name[5:]]; ok {
					r.correlation = append(r.correlation, sameCheck{f, true})
					continue
				}
			case strings.HasPrefix(c.Name, "not_same_"):
				if f, ok := sameNames[c.Name[9:]]; ok {
					r.correlation = append(r.correlation, sameCheck{f, false})
					continue
				}
			case strings.HasPrefix(c.Name, "different_"):
				if f, ok := sameNames[c.Name[10:]]; ok {
					r.correlation = append(r.correlation, sameCheck{f, false})
					continue
				}
			}
			return nil, false, fmt.Errorf("line %d: unknown element <%s>", c.Line, c.Name)
		}
	}
	for _, name := range ruleCheckOrder {
		e := elems[name]
		if e == nil {
			continue
		}
		ex, err := compileExpr(e.text, e.typ, defaultKind[name], e.negate)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		what := name
		switch name {
		case "match", "regex":
			what = "log"
		}
		r.checks = append(r.checks, check{what, valueSrcOf(what), ex})
	}
	for _, name := range []string{"srcip", "dstip"} {
		e := elems[name]
		if e == nil {
			continue
		}
		l, err := parseIPList(e.text)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		if name == "srcip" {
			r.srcip, r.srcipNeg = l, e.negate
		} else {
			r.dstip, r.dstipNeg = l, e.negate
		}
	}
	r.Description = desc.String()
	r.descVars = strings.Contains(r.Description, "$(")
	r.groupStr = groupStr
	for _, g := range strings.Split(groupStr, ",") {
		if g = strings.TrimSpace(g); g != "" {
			r.Groups = append(r.Groups, g)
		}
	}
	r.splitGroups()
	r.noLog = r.HasOption("no_log")
	r.noFullLog = r.HasOption("no_full_log")
	r.mail = r.HasOption("alert_by_email")
	return r, overwrite, nil
}

// fieldList splits a comma- or blank-separated list of field names,
// mapping the static aliases (user is dstuser, ...).
func fieldList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if n, ok := sameNames[f]; ok && f != "user" {
			f = n
		}
		out = append(out, f)
	}
	return out
}

// overwriteFrom copies what an overwrite="yes" rule redefines onto r,
// keeping r's place in the tree, its children and its if_matched_*.
func (r *Rule) overwriteFrom(o *Rule) {
	r.Level, r.Description, r.Groups, r.Options, r.Mitre = o.Level, o.Description, o.Groups, o.Options, o.Mitre
	r.groupStr, r.noalert, r.noLog, r.noFullLog, r.mail = o.groupStr, o.noalert, o.noLog, o.noFullLog, o.mail
	r.maxsize, r.frequency, r.timeframe, r.ignore = o.maxsize, o.frequency, o.timeframe, o.ignore
	r.decodedAs, r.checks, r.fields, r.srcip, r.dstip = o.decodedAs, o.checks, o.fields, o.srcip, o.dstip
	r.srcipNeg, r.dstipNeg, r.ifFts, r.failAlways, r.correlation = o.srcipNeg, o.dstipNeg, o.ifFts, o.failAlways, o.correlation
	r.descVars, r.compiled, r.lists, r.checkDiff = o.descVars, o.compiled, o.lists, o.checkDiff
	r.hasTime, r.timeNeg, r.timeRange, r.weekdays, r.weekdayNeg = o.hasTime, o.timeNeg, o.timeRange, o.weekdays, o.weekdayNeg
	r.plainGroups, r.compliance = o.plainGroups, o.compliance
	r.globalFrequency, r.ignoreFields, r.checkIgnored = o.globalFrequency, o.ignoreFields, o.checkIgnored
	r.File, r.Line = o.File, o.Line
}
