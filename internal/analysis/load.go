package analysis

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Options says what Load reads.
type Options struct {
	// Decoders and Rules are XML files or directories (every *.xml in a
	// directory). All files of each kind are merged and loaded in order of
	// their base names, as Wazuh does.
	Decoders []string
	Rules    []string
	// Exclude lists base names to leave out (Wazuh's default configuration
	// excludes 0215-policy_rules.xml).
	Exclude []string
	// Lists are CDB list source files ("key:value" lines) that rules'
	// <list> elements may name; a rule naming a list not given here is
	// skipped with a warning, as Wazuh does.
	Lists []string
	// ManagerName is manager.name and agent.name of the alerts (default
	// "riposte").
	ManagerName string
	// MinAlertLevel: rules below this level produce no alert document
	// (Result.Rule is still set). Wazuh's log_alert_level defaults to 3;
	// 0 produces a document for every matched rule.
	MinAlertLevel int
	// MaxEventSize caps the bytes of a line analysed; longer lines are
	// cut to it, as Wazuh cuts events at OS_MAXSTR. 0 means
	// DefaultMaxEventSize.
	MaxEventSize int
	// Clock gives the processing time (alert timestamps, timeframe,
	// ignore, time/weekday); nil means time.Now. Event time is always the
	// processing time, as in Wazuh.
	Clock func() time.Time
}

// DefaultMaxEventSize is the event size cap when Options.MaxEventSize is
// 0: Wazuh's OS_MAXSTR, 64 KiB.
const DefaultMaxEventSize = 64 << 10

// LoadError is a problem in one file: the file is not loaded at all.
type LoadError struct {
	File string
	Line int
	What string // "decoder NAME" or "rule ID", if known
	Err  error
}

func (e *LoadError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if e.What != "" {
		s += ": " + e.What
	}
	return s + ": " + e.Err.Error()
}

func (e *LoadError) Unwrap() error { return e.Err }

// collect expands files and directories into a list sorted by base name.
func collect(paths, exclude []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		m, err := filepath.Glob(filepath.Join(p, "*.xml"))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return slices.Contains(exclude, filepath.Base(f)) })
	sort.SliceStable(files, func(i, j int) bool { return filepath.Base(files[i]) < filepath.Base(files[j]) })
	return files, nil
}

// readXML reads a file's top-level elements with <var> substitution.
func readXML(file string) ([]*xmlNode, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	nodes, err := parseXML(string(b))
	if err != nil {
		var xe *xmlError
		if errors.As(err, &xe) {
			return nil, &LoadError{File: file, Line: xe.Line, Err: errors.New(xe.Msg)}
		}
		return nil, &LoadError{File: file, Err: err}
	}
	vars := map[string]string{}
	var out []*xmlNode
	for _, n := range nodes {
		if n.Name == "var" {
			name, _ := n.attr("name")
			vars[name] = substituteVars(n.Text, vars)
			continue
		}
		applyVars(n, vars)
		out = append(out, n)
	}
	return out, nil
}

// Load reads and compiles decoders and rules. It fails if any file has an
// error, returning one *LoadError per bad file (joined), each naming the
// file, line and decoder or rule. Warnings (rules Wazuh skips) are kept in
// Engine.Warnings.
func Load(opts Options) (*Engine, error) {
	e := &Engine{opts: opts, byID: map[int]*Rule{}, firstNode: map[int]*node{}, nodeCount: map[int]int{}, now: opts.Clock}
	if e.opts.ManagerName == "" {
		e.opts.ManagerName = "riposte"
	}
	if e.opts.MaxEventSize <= 0 {
		e.opts.MaxEventSize = DefaultMaxEventSize
	}
	e.lists = map[string]cdbList{}
	for _, f := range opts.Lists {
		l, err := readList(f)
		if err != nil {
			return nil, err
		}
		e.lists[f] = l
	}
	files, err := collect(opts.Decoders, opts.Exclude)
	if err != nil {
		return nil, err
	}
	// Every file is read even after an error, so that one run reports all
	// of them; a file with an error adds nothing.
	var errs []error
	for _, f := range files {
		if err := e.loadDecoderFile(f); err != nil {
			errs = append(errs, err)
		}
	}
	e.decoders.index()
	files, err = collect(opts.Rules, opts.Exclude)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := e.loadRuleFile(f); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	e.finish()
	e.prepareAlerts()
	return e, nil
}

func (e *Engine) loadDecoderFile(file string) error {
	nodes, err := readXML(file)
	if err != nil {
		return err
	}
	type pending struct {
		d      *Decoder
		parent string
	}
	var ds []pending
	for _, n := range nodes {
		if n.Name != "decoder" {
			return &LoadError{File: file, Line: n.Line, Err: fmt.Errorf("unexpected element <%s>", n.Name)}
		}
		d, parent, err := parseDecoder(n, file)
		if err != nil {
			name, _ := n.attr("name")
			return &LoadError{File: file, Line: n.Line, What: "decoder " + name, Err: err}
		}
		ds = append(ds, pending{d, parent})
	}
	// Check parents before adding anything, so a bad file adds nothing.
	known := map[string]bool{}
	for _, p := range ds {
		if p.parent == "" {
			known[p.d.Name] = true
		} else if !known[p.parent] && len(e.decoders.byName[p.parent]) == 0 {
			return &LoadError{File: file, Line: p.d.Line, What: "decoder " + p.d.Name, Err: fmt.Errorf("parent decoder %q not found", p.parent)}
		}
	}
	for _, p := range ds {
		_ = e.decoders.add(p.d, p.parent)
	}
	return nil
}

func (e *Engine) loadRuleFile(file string) error {
	nodes, err := readXML(file)
	if err != nil {
		return err
	}
	type pending struct {
		r         *Rule
		overwrite bool
	}
	var rs []pending
	var warns []string
	var walk func(n *xmlNode, group string) error
	walk = func(n *xmlNode, group string) error {
		for _, c := range n.Children {
			switch c.Name {
			case "rule":
				r, ow, err := parseRule(c, group, file)
				if err != nil {
					var skip *errSkip
					if errors.As(err, &skip) {
						warns = append(warns, fmt.Sprintf("%s:%d: %s (rule skipped)", file, c.Line, skip.msg))
						continue
					}
					id, _ := c.attr("id")
					return &LoadError{File: file, Line: c.Line, What: "rule " + id, Err: err}
				}
				rs = append(rs, pending{r, ow})
			case "group":
				name, _ := c.attr("name")
				if err := walk(c, group+name); err != nil {
					return err
				}
			default:
				return &LoadError{File: file, Line: c.Line, Err: fmt.Errorf("unexpected element <%s> in <group>", c.Name)}
			}
		}
		return nil
	}
	for _, n := range nodes {
		if n.Name != "group" {
			return &LoadError{File: file, Line: n.Line, Err: fmt.Errorf("unexpected top-level element <%s>", n.Name)}
		}
		name, _ := n.attr("name")
		if err := walk(n, name); err != nil {
			return err
		}
	}
	e.warnings = append(e.warnings, warns...)
	for _, p := range rs {
		if !e.resolveLists(p.r) {
			continue
		}
		e.addRule(p.r, p.overwrite)
	}
	return nil
}

// addRule links a rule into the tree, as Wazuh does at load time. A rule
// may get several nodes (one under each parent); an if_sid child goes
// under the first node of each parent rule only, if_group/if_level/
// if_matched_group children under every matching node.
func (e *Engine) addRule(r *Rule, overwrite bool) {
	if old, ok := e.byID[r.ID]; ok {
		if overwrite {
			old.overwriteFrom(r)
			return
		}
		e.warnf("%s:%d: rule %d: duplicate id, ignored", r.File, r.Line, r.ID)
		return
	}
	var parents []*node
	isRoot := false
	switch {
	case r.ID < 10 && len(r.ifSid) == 0 && r.ifGroup == nil && r.ifLevel == 0:
		isRoot = true
	case len(r.ifSid) > 0:
		for _, sid := range r.ifSid {
			p, ok := e.dfsFind(sid)
			if !ok {
				e.warnf("%s:%d: rule %d: if_sid %d not found", r.File, r.Line, r.ID, sid)
				continue
			}
			parents = append(parents, p)
		}
	case r.ifGroup != nil:
		parents = e.nodesWhere(func(p *Rule) bool { return r.ifGroup.Match(p.groupStr) })
	case r.ifLevel > 0:
		parents = e.nodesWhere(func(p *Rule) bool { return p.sortLevel() >= r.ifLevel })
	case r.ifMatchedSid > 0:
		if p, ok := e.dfsFind(r.ifMatchedSid); ok {
			parents = append(parents, p)
		}
	case r.ifMatchedGroup != nil:
		parents = e.nodesWhere(func(p *Rule) bool { return r.ifMatchedGroup.Match(p.groupStr) })
	default:
		for _, t := range e.roots {
			if t.rule.ID < 10 && strings.EqualFold(t.rule.category, r.category) {
				parents = append(parents, t)
				break
			}
		}
		isRoot = len(parents) == 0
	}
	if !isRoot && len(parents) == 0 {
		e.warnf("%s:%d: rule %d: no parent found, rule unused", r.File, r.Line, r.ID)
	}
	if isRoot {
		n := &node{rule: r}
		e.roots = append(e.roots, n)
		e.nodes = append(e.nodes, n)
		e.firstNode[r.ID] = n
		e.nodeCount[r.ID]++
	}
	for _, p := range parents {
		n := &node{rule: r}
		p.children = append(p.children, n)
		e.nodes = append(e.nodes, n)
		if _, ok := e.firstNode[r.ID]; !ok {
			e.firstNode[r.ID] = n
		}
		e.nodeCount[r.ID]++
	}
	e.byID[r.ID] = r
	e.order = append(e.order, r)
}

// dfsFind returns the first node of rule id in a depth-first walk of the
// tree (roots and children in insertion order), as Wazuh searches it.
func (e *Engine) dfsFind(id int) (*node, bool) {
	if _, ok := e.firstNode[id]; !ok {
		return nil, false
	}
	if e.nodeCount[id] == 1 {
		return e.firstNode[id], true
	}
	var walk func(ns []*node) *node
	walk = func(ns []*node) *node {
		for _, n := range ns {
			if n.rule.ID == id {
				return n
			}
			if f := walk(n.children); f != nil {
				return f
			}
		}
		return nil
	}
	n := walk(e.roots)
	return n, n != nil
}

// nodesWhere returns the nodes created so far whose rule satisfies f.
func (e *Engine) nodesWhere(f func(*Rule) bool) []*node {
	var out []*node
	for _, n := range e.nodes {
		if f(n.rule) {
			out = append(out, n)
		}
	}
	return out
}

// resolveLists attaches the CDB lists a rule names; false (with a
// warning) when one is missing.
func (e *Engine) resolveLists(r *Rule) bool {
	for i, ref := range r.listRefs {
		l, ok := e.findList(ref)
		if !ok {
			e.warnf("%s:%d: rule %d: list %q not found (rule skipped)", r.File, r.Line, r.ID, ref)
			return false
		}
		r.lists[i].list = l
	}
	return true
}

func (e *Engine) warnf(format string, a ...any) {
	e.warnings = append(e.warnings, fmt.Sprintf(format, a...))
}

// finish sorts every sibling list by level (level 0 first), keeping load
// order between equal levels.
// It also links the correlation sources of if_matched_* and frequency
// rules.
func (e *Engine) finish() {
	for _, n := range e.nodes {
		slices.SortStableFunc(n.children, func(a, b *node) int { return b.rule.sortLevel() - a.rule.sortLevel() })
	}
	for _, r := range e.order {
		if r.ifMatchedRegex != nil {
			e.recordAll = true
		}
		switch {
		case r.ifMatchedSid > 0:
			if src, ok := e.byID[r.ifMatchedSid]; ok {
				r.sources = []*Rule{src}
			}
		case r.ifMatchedGroup != nil:
			for _, o := range e.order {
				if r.ifMatchedGroup.Match(o.groupStr) {
					o.groupConsumers = append(o.groupConsumers, r)
					o.remembered = true
				}
			}
		case r.frequency > 0 && r.ifMatchedRegex == nil:
			for _, id := range r.ifSid {
				if src, ok := e.byID[id]; ok {
					r.sources = append(r.sources, src)
				}
			}
			r.sources = append(r.sources, r)
		}
		for _, c := range r.correlation {
			if c.same {
				r.keyField = c.field
				break
			}
		}
		for _, src := range r.sources {
			src.remembered = true
		}
		if r.keyField != "" {
			for _, src := range r.sources {
				if !slices.Contains(src.keyFields, r.keyField) {
					src.keyFields = append(src.keyFields, r.keyField)
				}
			}
		}
	}
}
