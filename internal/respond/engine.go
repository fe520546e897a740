package respond

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/analysis/osregex"
	"github.com/riposte/riposte/internal/config"
)

// Outcome is what the engine decided for one triggered response.
type Outcome int

// Outcomes.
const (
	// Run: carry the response out.
	Run Outcome = iota + 1
	// DryRun: it would run, but the engine is in dry-run mode.
	DryRun
	// Allowlisted: the source address is on the white list.
	Allowlisted
	// Rejected: a field the response needs is missing or unsafe.
	Rejected
	// Duplicate: the same stateless response ran within the dedupe window.
	Duplicate
)

var outcomeNames = map[Outcome]string{
	Run: "run", DryRun: "dry-run", Allowlisted: "allowlisted", Rejected: "rejected", Duplicate: "duplicate",
}

// String names the outcome.
func (o Outcome) String() string {
	if s, ok := outcomeNames[o]; ok {
		return s
	}
	return "unknown"
}

// MarshalText makes outcomes readable in JSON.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Decision is the engine's verdict for one <active-response> block that an
// alert triggered.
type Decision struct {
	// ID identifies the decision in logs and results.
	ID string
	// Response is the block that triggered.
	Response *config.Response
	// Alert is the alert that triggered it.
	Alert *alert.Alert
	// Targets are the agent ids the response runs on. Empty when AllAgents.
	Targets []string
	// AllAgents means every agent (location all).
	AllAgents bool
	// Outcome is what to do; Reason says why.
	Outcome Outcome
	Reason  string
	// SrcIP is the alert's source address, normalised (IPv4-mapped IPv6 as
	// IPv4); invalid when the alert has none or it is not an address.
	SrcIP netip.Addr
	// Timeout is the response's timeout; zero for stateless responses.
	Timeout time.Duration
}

// Explanation says, for one <active-response> block, whether an alert
// triggered it and why or why not.
type Explanation struct {
	Index    int      `json:"index"`
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Command  string   `json:"command"`
	Location string   `json:"location"`
	Matched  bool     `json:"matched"`
	Why      string   `json:"why"`
	Outcome  string   `json:"outcome,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Targets  []string `json:"targets,omitempty"`
}

// block is a compiled <active-response>.
type block struct {
	resp    *config.Response
	rules   map[string]bool
	group   *osregex.Regex
	subject subject
}

// Engine decides, for each alert, what the configured responses do. Build it
// with New; it is safe for concurrent use.
type Engine struct {
	blocks []block
	allow  *Allowlist
	scope  config.WhiteListScope
	dedupe time.Duration
	dryRun bool

	seq atomic.Uint64

	// bind caches which blocks a rule (id, level, groups) triggers, as Wazuh
	// binds responses to rules once at load time.
	bindMu sync.RWMutex
	bind   map[string][]int

	seenMu sync.Mutex
	seen   map[string]time.Time
}

// maxBind bounds the binding cache; it is cleared when full.
const maxBind = 1 << 16

// New compiles the responses of cfg. allow may be nil, in which case the
// white list of cfg is compiled (without host resolution).
func New(cfg *config.Config, allow *Allowlist) (*Engine, error) {
	if allow == nil {
		allow = NewAllowlist(cfg.Global.WhiteList)
	}
	e := &Engine{
		allow:  allow,
		scope:  cfg.Riposte.WhiteListScope,
		dedupe: cfg.Riposte.StatelessDedupe,
		dryRun: cfg.Riposte.DryRun,
		bind:   make(map[string][]int),
		seen:   make(map[string]time.Time),
	}
	if e.scope == "" {
		e.scope = config.ScopeIP
	}
	for i := range cfg.Responses {
		r := &cfg.Responses[i]
		b := block{resp: r, subject: subjectOf(r)}
		if len(r.RulesID) > 0 {
			b.rules = make(map[string]bool, len(r.RulesID))
			for _, id := range r.RulesID {
				b.rules[strings.TrimLeft(id, "0")] = true
			}
		}
		if r.RulesGroup != "" {
			re, err := osregex.Compile(r.RulesGroup)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: rules_group: %w", r.File, r.Line, err)
			}
			b.group = re
		}
		e.blocks = append(e.blocks, b)
	}
	return e, nil
}

// Allowlist returns the engine's white list.
func (e *Engine) Allowlist() *Allowlist { return e.allow }

// SetDryRun switches dry-run mode on or off.
func (e *Engine) SetDryRun(on bool) { e.dryRun = on }

// Decide returns a decision for every block the alert triggers, in
// configuration order.
func (e *Engine) Decide(a *alert.Alert, now time.Time) []Decision {
	ds, _ := e.evaluate(a, now, false)
	return ds
}

// Explain is Decide, also returning an explanation for every block, matched
// or not.
func (e *Engine) Explain(a *alert.Alert, now time.Time) ([]Decision, []Explanation) {
	return e.evaluate(a, now, true)
}

// Match returns the indexes (into the configuration's Responses) of the
// blocks a rule triggers, following Wazuh's binding rules.
func (e *Engine) Match(a *alert.Alert) []int {
	if a.RuleLevel == 0 || a.NoAR {
		return nil
	}
	key := a.RuleID + "\x00" + strconv.Itoa(a.RuleLevel) + "\x00" + strings.Join(a.RuleGroups, ",")
	e.bindMu.RLock()
	idx, ok := e.bind[key]
	e.bindMu.RUnlock()
	if ok {
		return idx
	}
	groups := a.GroupString()
	ruleID := strings.TrimLeft(a.RuleID, "0")
	for i := range e.blocks {
		if e.blocks[i].match(ruleID, a.RuleLevel, groups) {
			idx = append(idx, i)
		}
	}
	e.bindMu.Lock()
	if len(e.bind) >= maxBind {
		clear(e.bind)
	}
	e.bind[key] = idx
	e.bindMu.Unlock()
	return idx
}

// match applies Wazuh's rule binding: with both level and rules_group set,
// both must hold; otherwise either; and rules_id on its own.
func (b *block) match(ruleID string, level int, groups string) bool {
	if b.rules[ruleID] {
		return true
	}
	r := b.resp
	levelSet, groupSet := r.Level > 0, b.group != nil
	if levelSet && groupSet {
		return level >= r.Level && b.group.Match(groups)
	}
	return levelSet && level >= r.Level || groupSet && b.group.Match(groups)
}

// matches is match, also saying why; explanations use it.
func (b *block) matches(ruleID string, level int, groups string) (bool, string) {
	r := b.resp
	levelSet, groupSet := r.Level > 0, b.group != nil
	levelOK := levelSet && level >= r.Level
	groupOK := groupSet && b.group.Match(groups)
	var m bool
	if levelSet && groupSet {
		m = levelOK && groupOK
	} else {
		m = levelOK || groupOK
	}
	idOK := b.rules[ruleID]
	switch {
	case idOK:
		return true, fmt.Sprintf("rule id %s is in rules_id", ruleID)
	case m && levelSet && groupSet:
		return true, fmt.Sprintf("rule level %d >= %d and groups %q match rules_group %q", level, r.Level, groups, r.RulesGroup)
	case m && levelSet:
		return true, fmt.Sprintf("rule level %d >= %d", level, r.Level)
	case m:
		return true, fmt.Sprintf("groups %q match rules_group %q", groups, r.RulesGroup)
	}
	var why []string
	if levelSet && !levelOK {
		why = append(why, fmt.Sprintf("rule level %d < %d", level, r.Level))
	}
	if groupSet && !groupOK {
		why = append(why, fmt.Sprintf("groups %q do not match rules_group %q", groups, r.RulesGroup))
	}
	if len(b.rules) > 0 {
		why = append(why, fmt.Sprintf("rule id %s is not in rules_id", ruleID))
	}
	if len(why) == 0 {
		why = append(why, "no trigger")
	}
	return false, strings.Join(why, "; ")
}

func (e *Engine) evaluate(a *alert.Alert, now time.Time, explain bool) ([]Decision, []Explanation) {
	var exps []Explanation
	if explain {
		exps = make([]Explanation, len(e.blocks))
		for i := range e.blocks {
			r := e.blocks[i].resp
			exps[i] = Explanation{Index: r.Index, File: r.File, Line: r.Line, Command: r.Command, Location: r.Location.String()}
		}
		var skip string
		switch {
		case a.RuleLevel == 0:
			skip = "rule level is 0: level-0 rules never trigger responses"
		case a.NoAR:
			skip = "rule has the no_ar option"
		}
		if skip != "" {
			for i := range exps {
				exps[i].Why = skip
			}
			return nil, exps
		}
		groups, ruleID := a.GroupString(), strings.TrimLeft(a.RuleID, "0")
		for i := range e.blocks {
			exps[i].Matched, exps[i].Why = e.blocks[i].matches(ruleID, a.RuleLevel, groups)
		}
	}
	idx := e.Match(a)
	if len(idx) == 0 {
		return nil, exps
	}
	ds := make([]Decision, 0, len(idx))
	for _, i := range idx {
		d := e.decide(&e.blocks[i], a, now)
		ds = append(ds, d)
		if explain {
			exps[i].Outcome, exps[i].Reason, exps[i].Targets = d.Outcome.String(), d.Reason, d.Targets
			if d.AllAgents {
				exps[i].Targets = []string{"all"}
			}
		}
	}
	return ds, exps
}

func (e *Engine) decide(b *block, a *alert.Alert, now time.Time) Decision {
	r := b.resp
	d := Decision{
		ID:       e.newID(now),
		Response: r,
		Alert:    a,
		Timeout:  r.Timeout,
	}
	switch r.Location {
	case config.LocationLocal:
		d.Targets = []string{a.AgentID}
	case config.LocationServer:
		d.Targets = []string{alert.ManagerID}
	case config.LocationDefinedAgent:
		d.Targets = slices.Clone(r.AgentIDs)
	case config.LocationAll:
		d.AllAgents = true
	}
	if reason := checkFields(b.subject, a, &d); reason != "" {
		d.Outcome, d.Reason = Rejected, reason
		return d
	}
	if d.SrcIP.IsValid() && (e.scope == config.ScopeAll || b.subject == subjectIP || b.subject == subjectUnknown) {
		if entry, ok := e.allow.Match(d.SrcIP); ok {
			d.Outcome = Allowlisted
			d.Reason = fmt.Sprintf("source address %s is on the white list (%s)", d.SrcIP, entry)
			return d
		}
	}
	if d.Timeout == 0 && e.dedupe > 0 {
		key := dedupeKey(&d, a)
		e.seenMu.Lock()
		last, ok := e.seen[key]
		if ok && now.Sub(last) < e.dedupe {
			e.seenMu.Unlock()
			d.Outcome = Duplicate
			d.Reason = fmt.Sprintf("same stateless response ran %s ago (dedupe window %s)", now.Sub(last).Round(time.Millisecond), e.dedupe)
			return d
		}
		e.seen[key] = now
		if len(e.seen) > maxBind {
			for k, t := range e.seen {
				if now.Sub(t) >= e.dedupe {
					delete(e.seen, k)
				}
			}
		}
		e.seenMu.Unlock()
	}
	if e.dryRun {
		d.Outcome, d.Reason = DryRun, "dry-run: nothing is executed"
		return d
	}
	d.Outcome, d.Reason = Run, "triggered"
	return d
}

func dedupeKey(d *Decision, a *alert.Alert) string {
	return d.Response.Command + "\x00" + strings.Join(d.Targets, ",") + "\x00" + a.SrcIP + "\x00" + a.DstUser
}

func (e *Engine) newID(now time.Time) string {
	return strconv.FormatInt(now.Unix(), 36) + "-" + strconv.FormatUint(e.seq.Add(1), 36)
}
