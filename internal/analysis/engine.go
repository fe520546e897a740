package analysis

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riposte/riposte/internal/analysis/osregex"
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

	// recordAll: some rule has if_matched_regex, so sessions keep every
	// event.
	recordAll bool

	alertAgent []byte                  // `},"agent":...,"id":` of every alert
	lastTS     atomic.Pointer[tsCache] // alert timestamp of the latest second
	docs       sync.Pool               // *[]byte: alert documents handed back (Recycle)
}

// Warnings lists what Load skipped or could not link, one line each.
func (e *Engine) Warnings() []string { return e.warnings }

// NumDecoders and NumRules count what was loaded.
func (e *Engine) NumDecoders() int { return e.decoders.count }

// NumRules counts the distinct rules loaded.
func (e *Engine) NumRules() int { return len(e.byID) }

// ManagerName is the agent.name and manager.name of the alerts
// (Options.ManagerName, or its default).
func (e *Engine) ManagerName() string { return e.opts.ManagerName }

// Rule returns the rule with an id.
func (e *Engine) Rule(id int) *Rule { return e.byID[id] }

// Session holds the correlation state of one stream of events: the
// history if_matched_* and frequency rules count (only the events of rules
// some rule correlates over are kept), fired counts, ignore windows and
// <ignore> values, first-time-seen values and the fields <accumulate>
// decoders share. A Session is not safe for concurrent use.
type Session struct {
	byRule  map[*Rule][]past // events by the rule they ended on
	byGroup map[*Rule][]past // events for each if_matched_group rule
	// byKey holds the events of a rule again, indexed by the value of a
	// field that a correlating rule requires to be the same.
	byKey map[keyedHistory]*[]past // by pointer: an event is added with one lookup

	fired     map[int]int
	lastFired map[int]time.Time
	fts       map[string]struct{}
	lastLog   map[int]string // check_diff: previous message per rule

	// recent holds every event, newest last, when the engine has
	// if_matched_regex rules (which count events of any rule).
	recent []past
	// ignored maps the keys <ignore> recorded to when they lapse (the
	// zero time: never).
	ignored map[string]time.Time
	// acc holds the fields of accumulating decoders by event id.
	acc map[string]*accEntry
}

// past is an earlier event and the rule it ended on.
type past struct {
	at   time.Time
	ev   *Event
	rule *Rule
	loc  string // ev.Location, at hand: correlation compares it first
}

// maxFTS bounds the first-time-seen values a session remembers.
const maxFTS = 1 << 16

// maxHistory bounds the events a session remembers per rule, and per rule
// and key value.
const maxHistory = 1024

// maxKeys bounds the keyed histories of a session; past it they are
// forgotten and start over.
const maxKeys = 1 << 18

// keyedHistory names the events of one rule with one value of a field:
// the events that ended on rule, or (group set) the events an
// if_matched_group rule counts.
type keyedHistory struct {
	rule         *Rule
	field, value string
	group        bool
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
	// has no_log. Process builds it; after Match, BuildAlert does.
	Alert []byte
	// AlertID is the id of Alert ("<epoch>.<sequence>"), "" without one.
	AlertID string

	pending pendingAlert // for the document still to build (AlertID set, Alert nil)
}

func (e *Engine) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// Process pre-decodes, decodes and matches one line read from location
// (a file path, "stdin", ...; events an agent forwarded have Wazuh's
// "(agent) address->path" form, which correlation uses to tell agents
// apart), updating the session's correlation state. A line longer than
// Options.MaxEventSize is cut to it. The only error is a nil session.
func (e *Engine) Process(sess *Session, location, line string) (*Result, error) {
	res, err := e.Match(sess, e.Decode(location, line))
	if err != nil {
		return nil, err
	}
	e.BuildAlert(res)
	return res, nil
}

// A line goes through three steps, which Process takes one after the
// other and a caller with a burst of lines can spread over goroutines:
// Decode (pre-decoding and decoding: no state, any goroutine), Match (the
// rules: the session's state, in the order of the lines) and BuildAlert
// (the alert document: no state, any goroutine).

// Decoded is a line after pre-decoding and decoding, for Match.
type Decoded struct {
	b *lineBlock
}

// Decode pre-decodes and decodes one line read from location (see
// Process). It is safe for concurrent use.
func (e *Engine) Decode(location, line string) Decoded {
	// The result, the event and room for their fields and chain are one
	// allocation (the session may keep the event).
	b := &lineBlock{}
	predecode(&b.ev, location, e.capLine(line))
	ev := &b.ev
	if ev.Fields == nil {
		ev.Fields = b.fields[:0]
	}
	ev.hostFallback = e.opts.ManagerName
	e.decoders.decode(ev)
	return Decoded{b}
}

// Match matches a decoded line against the rules, updating the session's
// correlation state (see Process). When the rule makes an alert, its id is
// in Result.AlertID but its document is left to BuildAlert. A Decoded is
// matched once.
func (e *Engine) Match(sess *Session, d Decoded) (*Result, error) {
	if sess == nil {
		return nil, errors.New("analysis: nil session")
	}
	if d.b == nil || d.b.matched {
		return nil, errors.New("analysis: a line not decoded, or matched already")
	}
	b := d.b
	b.matched = true
	ev := &b.ev
	st := &evalState{e: e, ev: ev, sess: sess}
	if ev.accumulate {
		sess.accumulate(ev, st.time())
	}
	if len(ev.Fields) == 0 {
		ev.Fields = nil // as when no room was given
	}
	res := &b.res
	res.Event, res.Decoder = ev, ev.DecoderName()
	category := "syslog"
	if ev.decoder != nil {
		category = ev.decoder.Type
	}
	chain := b.chain[:0]
	for _, n := range e.roots {
		if !strings.EqualFold(n.rule.category, category) {
			continue
		}
		if m, c := st.eval(n, chain[:0]); m != nil {
			res.Rule, chain = m, c
			break
		}
	}
	if e.recordAll {
		defer func() { sess.recent = appendPast(sess.recent, past{st.time(), ev, res.Rule, ev.Location}) }()
	}
	if res.Rule == nil {
		return res, nil
	}
	r := res.Rule
	if len(r.checkIgnored) > 0 && sess.isIgnored(ev, r.checkIgnored, st.time()) {
		// Wazuh drops the event: no rule, no alert.
		res.Rule = nil
		return res, nil
	}
	res.Chain = chain
	sess.fired[r.ID]++
	res.FiredTimes = sess.fired[r.ID]
	if r.ignore > 0 {
		sess.lastFired[r.ID] = st.time()
	}
	if r.remembered {
		sess.remember(past{st.time(), ev, r, ev.Location})
	}
	if len(r.ignoreFields) > 0 {
		sess.addIgnore(ev, r, st.time())
	}
	if r.Level >= e.opts.MinAlertLevel && !r.noLog {
		var prev []*Event
		if st.prevRule != nil && slices.Contains(chain, st.prevRule) {
			prev = st.previous()
		}
		// prev lies in st (or a copy of its own), which nothing changes
		// after Match: BuildAlert may read it later, elsewhere.
		now := st.time()
		res.AlertID = alertID(now, e.seq.Add(1))
		res.pending = pendingAlert{now: now, prev: prev}
		if r.remembered || e.recordAll {
			// The session keeps the line's block for correlation, but
			// not the alert: the result goes apart.
			out := *res
			b.res = Result{}
			res = &out // what the deferred record of recordAll reads
			return res, nil
		}
	}
	return res, nil
}

// pendingAlert is what BuildAlert needs besides the result's event, rule,
// times fired and alert id.
type pendingAlert struct {
	now  time.Time
	prev []*Event
}

// BuildAlert builds the alert document of a result of Match (its
// Result.Alert) and returns it; it does nothing for a result without an
// alert or whose document is built. It is safe for concurrent use, with
// other calls and with Match, each result in one goroutine.
func (e *Engine) BuildAlert(res *Result) []byte {
	if res.AlertID != "" && res.Alert == nil {
		p := res.pending
		res.pending = pendingAlert{}
		res.Alert = e.alertDoc(res.Event, res.Rule, res.FiredTimes, p.now, p.prev, res.AlertID)
	}
	return res.Alert
}

// capLine cuts line to the event size cap.
func (e *Engine) capLine(line string) string {
	if max := e.opts.MaxEventSize; max > 0 && len(line) > max {
		return line[:max]
	}
	return line
}

// lineBlock is what Decode allocates for one line.
type lineBlock struct {
	res     Result
	ev      Event
	fields  [5]Field
	chain   [6]*Rule
	matched bool
}

// evalState is what matching one event needs: the event, the session and
// the processing time, read from the clock only when something needs it.
type evalState struct {
	e      *Engine
	ev     *Event
	sess   *Session
	now    time.Time
	hasNow bool
	// prev are the earlier events the last successful correlation (of
	// prevRule) counted, newest first, reported as previous_output: the
	// first ones in prevArr, all of them in prevMore when they do not fit.
	prevRule *Rule
	prevN    int
	prevArr  [16]*Event
	prevMore []*Event

	// logSet is the ByteSet of ev.Log, built (logSetOK) once searched
	// OS_Match alternatives on the message add up to logSetAfter.
	logSet   osregex.ByteSet
	logSetOK bool
	searched int
}

// logSetAfter is how many OS_Match alternatives are searched for in a
// message before its ByteSet is built to skip the searches that cannot
// succeed: rulesets that search little never pay for it.
const logSetAfter = 16

// matchLog is e.test(st.ev.Log) for an OS_Match e.
func (st *evalState) matchLog(e *expr) bool {
	m := e.match
	if n := m.Searches(); n > 0 {
		if !st.logSetOK {
			st.searched += n
			if st.searched >= logSetAfter {
				st.logSet.Add(st.ev.Log)
				st.logSetOK = true
			}
		}
		if st.logSetOK {
			return m.MatchSet(st.ev.Log, &st.logSet) != e.negate
		}
	}
	return m.Match(st.ev.Log) != e.negate
}

// previous returns the events the last successful correlation counted.
func (st *evalState) previous() []*Event {
	if st.prevMore != nil {
		return st.prevMore
	}
	return st.prevArr[:st.prevN]
}

func (st *evalState) time() time.Time {
	if !st.hasNow {
		st.now, st.hasNow = st.e.clock(), true
	}
	return st.now
}

func (s *Session) remember(p past) {
	s.byRule[p.rule] = appendPast(s.byRule[p.rule], p)
	for _, f := range p.rule.keyFields {
		v, ok := value(p.ev, f)
		if !ok {
			continue
		}
		if s.byKey == nil || len(s.byKey) >= maxKeys {
			s.byKey = make(map[keyedHistory]*[]past)
		}
		k := keyedHistory{p.rule, f, v, false}
		s.keyed(k, p)
	}
	for _, c := range p.rule.groupConsumers {
		s.byGroup[c] = appendPast(s.byGroup[c], p)
		if c.keyField == "" {
			continue
		}
		v, ok := value(p.ev, c.keyField)
		if !ok {
			continue
		}
		if s.byKey == nil || len(s.byKey) >= maxKeys {
			s.byKey = make(map[keyedHistory]*[]past)
		}
		k := keyedHistory{c, c.keyField, v, true}
		s.keyed(k, p)
	}
}

// keyed adds p to the history of k.
func (s *Session) keyed(k keyedHistory, p past) {
	if l := s.byKey[k]; l != nil {
		*l = appendPast(*l, p)
		return
	}
	l := make([]past, 1, 4)
	l[0] = p
	s.byKey[k] = &l
}

// keyedList returns the history of k.
func (s *Session) keyedList(k keyedHistory) []past {
	if l := s.byKey[k]; l != nil {
		return *l
	}
	return nil
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
func (st *evalState) eval(n *node, chain []*Rule) (*Rule, []*Rule) {
	r := n.rule
	if !st.matches(r) {
		return nil, nil
	}
	chain = append(chain, r)
	for _, c := range n.children {
		if m, ch := st.eval(c, chain); m != nil {
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
func (st *evalState) matches(r *Rule) bool {
	ev, sess := st.ev, st.sess
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
		var v string
		var ok bool
		switch c.src {
		case srcLog:
			if c.e.kind == kindOSMatch {
				if !st.matchLog(c.e) {
					return false
				}
				continue
			}
			v, ok = ev.Log, true
		case srcField:
			v, ok = ev.Get(c.what)
		default:
			v, ok = value(ev, c.what)
		}
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
	if (r.hasTime || r.weekdays != 0) && !r.whenOK(st.time()) {
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
		if t, ok := sess.lastFired[r.ID]; ok && st.time().Sub(t) < time.Duration(r.ignore)*time.Second {
			return false
		}
	}
	if r.ifMatchedSid > 0 || r.ifMatchedGroup != nil || r.frequency > 0 || r.ifMatchedRegex != nil {
		if !st.correlate(r) {
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
func (st *evalState) correlate(r *Rule) bool {
	ev, sess, now := st.ev, st.sess, st.time()
	need := 1
	if r.frequency > 1 {
		need = r.frequency - 1
	}
	var buf [16]*Event
	seen := buf[:0] // the events counted, newest first
	c := counter{r: r, ev: ev, now: now, need: need}
	ok := false
	switch {
	case r.ifMatchedRegex != nil && r.ifMatchedSid == 0 && r.ifMatchedGroup == nil:
		seen, ok = c.count(sess.recent, seen)
	case r.ifMatchedGroup != nil && r.ifMatchedSid == 0:
		if r.keyField == "" {
			seen, ok = c.count(sess.byGroup[r], seen)
			break
		}
		key, found := value(ev, r.keyField)
		if !found {
			return false // a same_* field the event lacks never matches
		}
		c.keyed = r.keyField
		seen, ok = c.count(sess.keyedList(keyedHistory{r, r.keyField, key, true}), seen)
	default:
		var key string
		if r.keyField != "" {
			v, found := value(ev, r.keyField)
			if !found {
				return false // a same_* field the event lacks never matches
			}
			key = v
		}
		c.keyed = r.keyField
		for _, src := range r.sources {
			l := sess.byRule[src]
			if r.keyField != "" {
				l = sess.keyedList(keyedHistory{src, r.keyField, key, false})
			}
			if seen, ok = c.count(l, seen); ok {
				break
			}
		}
	}
	if ok {
		st.prevRule = r
		st.prevN = copy(st.prevArr[:], seen)
		st.prevMore = nil
		if len(seen) > len(st.prevArr) {
			st.prevMore = slices.Clone(seen)
		}
	}
	return ok
}

// counter counts earlier events for one correlating rule.
type counter struct {
	r     *Rule
	ev    *Event
	now   time.Time
	need  int
	found int
	keyed string // the lists counted hold only events with ev's value of this field
}

// count walks l from the newest event, counting those inside the
// timeframe that come from the event's agent (unless global_frequency),
// match if_matched_regex and satisfy the same_*/different_* conditions,
// and reports whether the count reached need. The events counted are
// appended to seen.
func (c *counter) count(l []past, seen []*Event) ([]*Event, bool) {
	r := c.r
	tf := time.Duration(r.timeframe) * time.Second
	for i := len(l) - 1; i >= 0; i-- {
		p := &l[i]
		if r.timeframe > 0 && c.now.Sub(p.at) > tf {
			break
		}
		if !r.globalFrequency && !sameAgent(c.ev.Location, p.loc) {
			continue
		}
		if r.ifMatchedRegex != nil && !r.ifMatchedRegex.test(p.ev.Log) {
			continue
		}
		if !sameOK(r, c.ev, p.ev, c.keyed) {
			continue
		}
		c.found++
		seen = append(seen, p.ev)
		if c.found >= c.need {
			return seen, true
		}
	}
	return seen, false
}

// sameAgent reports whether events from two locations come from the same
// agent.
func sameAgent(a, b string) bool {
	if a == b {
		return true
	}
	return agentOf(a) == agentOf(b)
}

// agentOf returns the agent part of a location: "(name) address" for
// events forwarded by an agent, as Wazuh writes their location
// ("(web1) 10.0.0.5->/var/log/secure"); "" for the manager's own events.
func agentOf(location string) string {
	if !strings.HasPrefix(location, "(") {
		return ""
	}
	if i := strings.Index(location, "->"); i > 0 {
		return location[:i]
	}
	if i := strings.IndexByte(location, ')'); i > 0 {
		return location[:i+1]
	}
	return location
}

// sameOK checks r's same_* and different_* conditions between the event
// cur and an earlier one, old; the same_* condition on keyed, which the
// caller knows to hold, is skipped.
func sameOK(r *Rule, cur, old *Event, keyed string) bool {
	for _, c := range r.correlation {
		if c.same && c.field == keyed {
			continue
		}
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
