package analysis

import (
	"errors"
	"strings"
	"sync/atomic"
	"time"
)

// Engine holds compiled decoders and rules. It is immutable after Load and
// safe for concurrent use; correlation state lives in Sessions.
type Engine struct {
	opts      Options
	decoders  decoderSet
	roots     []*node       // category templates (id < 10), then parentless rules
	nodes     []*node       // every tree node in creation order
	firstNode map[int]*node // each rule's first node created
	nodeCount map[int]int   // nodes per rule id
	order     []*Rule       // every linked rule in load order
	byID      map[int]*Rule // first rule with each id
	warnings  []string
	lists     map[string]cdbList
	seq       atomic.Uint64
	now       func() time.Time

	alertAgent []byte                  // `},"agent":...,"id":` of every alert
	lastTS     atomic.Pointer[tsCache] // alert timestamp of the latest second
}

// Warnings lists what Load skipped or could not link, one line each.
func (e *Engine) Warnings() []string { return e.warnings }

// NumDecoders and NumRules count what was loaded.
func (e *Engine) NumDecoders() int { return e.decoders.count }

// NumRules counts the distinct rules loaded.
func (e *Engine) NumRules() int { return len(e.byID) }

// Rule returns the rule with an id.
func (e *Engine) Rule(id int) *Rule { return e.byID[id] }

// Session holds the correlation state of one stream of events: the
// history if_matched_* and frequency rules count, fired counts, ignore
// windows and first-time-seen values. A Session is not safe for
// concurrent use.
type Session struct {
	byRule  map[*Rule][]past // events by the rule they ended on
	byGroup map[*Rule][]past // events for each if_matched_group rule
	// byKey holds the events of a rule again, indexed by the value of a
	// field that a correlating rule requires to be the same.
	byKey map[keyedHistory][]past

	fired     map[int]int
	lastFired map[int]time.Time
	fts       map[string]struct{}
	lastLog   map[int]string // check_diff: previous message per rule
}

// past is an earlier event and the rule it ended on.
type past struct {
	at   time.Time
	ev   *Event
	rule *Rule
}

// maxFTS bounds the first-time-seen values a session remembers.
const maxFTS = 1 << 16

// maxHistory bounds the events a session remembers per rule, and per rule
// and key value.
const maxHistory = 1024

// maxKeys bounds the keyed histories of a session; past it they are
// forgotten and start over.
const maxKeys = 1 << 18

// keyedHistory names the events of one rule with one value of a field.
type keyedHistory struct {
	rule         *Rule
	field, value string
}

// NewSession returns an empty session.
func NewSession() *Session {
	return &Session{
		byRule: map[*Rule][]past{}, byGroup: map[*Rule][]past{},
		fired: map[int]int{}, lastFired: map[int]time.Time{}, fts: map[string]struct{}{},
		lastLog: map[int]string{},
	}
}

// Result is the outcome of processing one line.
type Result struct {
	// Event is the line after pre-decoding and decoding.
	Event *Event
	// Decoder is the reported decoder name ("" when none matched).
	Decoder string
	// Chain is the path of matched rules from the category root to Rule.
	Chain []*Rule
	// Rule is the rule the event ended on (nil: none).
	Rule *Rule
	// FiredTimes is how often Rule has fired in the session, this time
	// included.
	FiredTimes int
	// Alert is the alert document in alerts.json shape, or nil when no
	// rule matched, the level is below Options.MinAlertLevel or the rule
	// has no_log.
	Alert []byte
}

func (e *Engine) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// Process pre-decodes, decodes and matches one line read from location
// (a file path, "stdin", ...), updating the session's correlation state.
// The only error is a nil session.
func (e *Engine) Process(sess *Session, location, line string) (*Result, error) {
	now := e.clock()
	if sess == nil {
		return nil, errors.New("analysis: nil session")
	}
	// The event and room for its fields are one allocation (the session
	// may keep it), the result and room for its chain another.
	eb := &eventBlock{ev: Predecode(location, line)}
	ev := &eb.ev
	if ev.Fields == nil {
		ev.Fields = eb.fields[:0]
	}
	ev.hostFallback = e.opts.ManagerName
	e.decoders.decode(ev)
	if len(ev.Fields) == 0 {
		ev.Fields = nil // as when no room was given
	}
	rb := &resultBlock{res: Result{Event: ev, Decoder: ev.DecoderName()}}
	res := &rb.res
	category := "syslog"
	if ev.decoder != nil {
		category = ev.decoder.Type
	}
	chain := rb.chain[:0]
	for _, n := range e.roots {
		if !strings.EqualFold(n.rule.category, category) {
			continue
		}
		if m, c := e.eval(n, ev, sess, now, chain[:0]); m != nil {
			res.Rule, chain = m, c
			break
		}
	}
	if res.Rule == nil {
		return res, nil
	}
	r := res.Rule
	res.Chain = chain
	sess.fired[r.ID]++
	res.FiredTimes = sess.fired[r.ID]
	if r.ignore > 0 {
		sess.lastFired[r.ID] = now
	}
	sess.remember(past{now, ev, r})
	if r.Level >= e.opts.MinAlertLevel && !r.noLog {
		res.Alert = e.alertJSON(ev, r, res.FiredTimes, now)
	}
	return res, nil
}

// eventBlock and resultBlock are what Process allocates for one line.
type eventBlock struct {
	ev     Event
	fields [6]Field
}

type resultBlock struct {
	res   Result
	chain [8]*Rule
}

func (s *Session) remember(p past) {
	s.byRule[p.rule] = appendPast(s.byRule[p.rule], p)
	for _, f := range p.rule.keyFields {
		v, ok := value(p.ev, f)
		if !ok {
			continue
		}
		if s.byKey == nil || len(s.byKey) >= maxKeys {
			s.byKey = make(map[keyedHistory][]past)
		}
		k := keyedHistory{p.rule, f, v}
		s.byKey[k] = appendPast(s.byKey[k], p)
	}
	for _, c := range p.rule.groupConsumers {
		s.byGroup[c] = appendPast(s.byGroup[c], p)
	}
}

func appendPast(l []past, p past) []past {
	if len(l) >= maxHistory {
		// Drop the older half at once: amortised O(1) per event.
		n := copy(l, l[len(l)/2:])
		clear(l[n:])
		l = l[:n]
	}
	return append(l, p)
}

// node is a place of a rule in the tree; a rule with several parents has
// several nodes.
type node struct {
	rule     *Rule
	children []*node // by descending level, level 0 first
}

// eval matches n's rule and its subtree; it returns the deepest matching
// rule and the path to it.
func (e *Engine) eval(n *node, ev *Event, sess *Session, now time.Time, chain []*Rule) (*Rule, []*Rule) {
	r := n.rule
	if !e.matches(r, ev, sess, now) {
		return nil, nil
	}
	chain = append(chain, r)
	for _, c := range n.children {
		if m, ch := e.eval(c, ev, sess, now, chain); m != nil {
			return m, ch
		}
	}
	if r.noalert {
		return nil, nil
	}
	return r, chain
}

// value returns the event value a check compares.
func value(ev *Event, what string) (string, bool) {
	switch what {
	case "log":
		return ev.Log, true
	case "program_name":
		return ev.ProgramName, ev.ProgramName != ""
	case "location":
		return ev.Location, true
	case "hostname":
		if ev.Hostname == "" {
			// Wazuh uses the manager's name for events with no header.
			return ev.hostFallback, ev.hostFallback != ""
		}
		return ev.Hostname, true
	case "user":
		if v, ok := ev.Get("dstuser"); ok {
			return v, true
		}
		return ev.Get("srcuser")
	}
	return ev.Get(what)
}

// matches runs r's own checks in Wazuh's order.
func (e *Engine) matches(r *Rule, ev *Event, sess *Session, now time.Time) bool {
	if r.failAlways {
		return false
	}
	if r.decodedAs != "" && (ev.decoder == nil || ev.decoder.Name != r.decodedAs) {
		return false
	}
	// The comparisons have no side effects, so their order (Wazuh's, kept
	// in r.checks) only matters relative to the stateful checks at the end.
	for i := range r.checks {
		c := &r.checks[i]
		v, ok := value(ev, c.what)
		if !ok || !c.e.test(v) {
			return false
		}
	}
	for i := range r.fields {
		f := &r.fields[i]
		v, ok := ev.Get(f.name)
		if !ok || !f.e.test(v) {
			return false
		}
	}
	if r.srcip != nil {
		v, ok := ev.Get("srcip")
		if !ok || r.srcip.contains(v) == r.srcipNeg {
			return false
		}
	}
	if r.dstip != nil {
		v, ok := ev.Get("dstip")
		if !ok || r.dstip.contains(v) == r.dstipNeg {
			return false
		}
	}
	if r.compiled != nil && !r.compiled(ev) {
		return false
	}
	if r.maxsize > 0 && len(ev.FullLog) <= r.maxsize {
		return false
	}
	if !r.whenOK(now) {
		return false
	}
	for i := range r.lists {
		if !r.lists[i].test(ev) {
			return false
		}
	}
	if r.checkDiff && !sess.changed(r, ev) {
		return false
	}
	if r.ifFts && !sess.firstTime(ev) {
		return false
	}
	if r.ignore > 0 {
		if t, ok := sess.lastFired[r.ID]; ok && now.Sub(t) < time.Duration(r.ignore)*time.Second {
			return false
		}
	}
	if r.ifMatchedSid > 0 || r.ifMatchedGroup != nil || r.frequency > 0 {
		if !e.correlate(r, ev, sess, now) {
			return false
		}
	}
	return true
}

// changed implements check_diff: the rule matches when its message differs
// from the one it saw last; the first message is only recorded.
func (s *Session) changed(r *Rule, ev *Event) bool {
	prev, seen := s.lastLog[r.ID]
	s.lastLog[r.ID] = ev.Log
	return seen && prev != ev.Log
}

// firstTime reports whether the decoder's fts fields take a value not seen
// before in the session, and records it.
func (s *Session) firstTime(ev *Event) bool {
	if ev.decoder == nil || len(ev.decoder.fts) == 0 {
		return false
	}
	var b strings.Builder
	b.WriteString(ev.decoder.Name)
	for _, f := range ev.decoder.fts {
		b.WriteByte(0)
		switch f {
		case "name":
			b.WriteString(ev.decoder.Name)
		case "location":
			b.WriteString(ev.Location)
		default:
			v, _ := ev.Get(f)
			b.WriteString(v)
		}
	}
	k := b.String()
	if _, ok := s.fts[k]; ok {
		return false
	}
	if len(s.fts) >= maxFTS {
		clear(s.fts) // bounded memory: forget everything, start over
	}
	s.fts[k] = struct{}{}
	return true
}

// correlate counts earlier events of the session that ended on the
// if_matched_sid rule (or a rule of the if_matched_group) within the
// timeframe and satisfy the same_*/different_* conditions; the rule needs
// frequency-1 of them (one when no frequency is set).
func (e *Engine) correlate(r *Rule, ev *Event, sess *Session, now time.Time) bool {
	need := 1
	if r.frequency > 1 {
		need = r.frequency - 1
	}
	found := 0
	if r.ifMatchedGroup != nil && r.ifMatchedSid == 0 {
		return r.count(sess.byGroup[r], ev, now, need, &found)
	}
	var key string
	if r.keyField != "" {
		v, ok := value(ev, r.keyField)
		if !ok {
			return false // a same_* field the event lacks never matches
		}
		key = v
	}
	for _, src := range r.sources {
		l := sess.byRule[src]
		if r.keyField != "" {
			l = sess.byKey[keyedHistory{src, r.keyField, key}]
		}
		if r.count(l, ev, now, need, &found) {
			return true
		}
	}
	return false
}

// count walks l from the newest event, adding to found those inside the
// timeframe that satisfy the same_*/different_* conditions, and reports
// whether found reached need.
func (r *Rule) count(l []past, ev *Event, now time.Time, need int, found *int) bool {
	tf := time.Duration(r.timeframe) * time.Second
	for i := len(l) - 1; i >= 0; i-- {
		p := &l[i]
		if r.timeframe > 0 && now.Sub(p.at) > tf {
			break
		}
		if !sameOK(r, ev, p.ev) {
			continue
		}
		*found++
		if *found >= need {
			return true
		}
	}
	return false
}

func sameOK(r *Rule, cur, old *Event) bool {
	for _, c := range r.correlation {
		a, okA := value(cur, c.field)
		b, okB := value(old, c.field)
		eq := okA && okB && a == b
		if c.same != eq {
			return false
		}
	}
	return true
}

// whenOK checks <time> and <weekday> against the processing time.
func (r *Rule) whenOK(now time.Time) bool {
	if r.hasTime && r.timeRange.contains(now) == r.timeNeg {
		return false
	}
	if r.weekdays != 0 && (r.weekdays&(1<<now.Weekday()) != 0) == r.weekdayNeg {
		return false
	}
	return true
}
