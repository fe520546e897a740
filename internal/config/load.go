package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of settings that a configuration file may leave out.
const (
	defaultNodeName         = "node01"
	defaultHTTPListen       = ""
	defaultAPIListen        = "127.0.0.1:55000"
	defaultHandshakeTimeout = 10 * time.Second
	defaultRunTimeout       = 60 * time.Second
	defaultResolveInterval  = 5 * time.Minute
)

// maxLadder is the most steps a repeated_offenders ladder may have, as in
// Wazuh's execd.
const maxLadder = 5

// maxLevel is the highest rule level <level> accepts. Wazuh's rules use
// levels 0 to 16, but its configuration reader accepts up to 20.
const maxLevel = 20

// maxTimeoutSeconds bounds <timeout>; Wazuh keeps it in a C int.
const maxTimeoutSeconds = math.MaxInt32

// Load reads the configuration files at paths, in order, as one
// configuration: a <command> may be defined in any of them, before or after
// the <active-response> blocks that use it. With no paths, Load returns the
// built-in configuration of [Default].
//
// The problems returned are every error and warning found, sorted by file (in
// the order given) and then by line. The error is non-nil if and only if at
// least one problem is an error; it is then of type [Problems], and the
// configuration is nil. A file that cannot be read is a problem too.
func Load(paths ...string) (*Config, []Problem, error) {
	if len(paths) == 0 {
		return Default(), nil, nil
	}
	srcs := make([]source, 0, len(paths))
	var probs []Problem
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			probs = append(probs, newProblem(p, 0, SeverityError, "cannot read file: %v", err))
			srcs = append(srcs, source{name: p, unreadable: true})
			continue
		}
		srcs = append(srcs, source{name: p, data: data})
	}
	return load(srcs, probs)
}

// Parse reads one configuration file held in memory; name is used in
// problems and positions. Results are as for [Load].
func Parse(name string, data []byte) (*Config, []Problem, error) {
	return load([]source{{name: name, data: data}}, nil)
}

// source is the contents of one configuration file.
type source struct {
	name       string
	data       []byte
	unreadable bool // a problem has been reported; there is no data
}

// load reads srcs as one configuration; probs are problems already found.
func load(srcs []source, probs []Problem) (*Config, []Problem, error) {
	l := &loader{
		cfg: &Config{
			NodeName: defaultNodeName,
			Riposte: Riposte{
				HTTPListen:       defaultHTTPListen,
				HandshakeTimeout: defaultHandshakeTimeout,
				RunTimeout:       defaultRunTimeout,
				WhiteListScope:   ScopeIP,
				ResolveInterval:  defaultResolveInterval,
				Fleet:            defaultFleet(),
				API:              API{Listen: defaultAPIListen},
			},
		},
		probs:   probs,
		cmdAt:   make(map[string]int),
		ignored: make(map[string]bool),
	}
	order := make(map[string]int, len(srcs))
	for i, s := range srcs {
		if _, ok := order[s.name]; !ok {
			order[s.name] = i
		}
		l.cfg.Files = append(l.cfg.Files, s.name)
		if s.unreadable {
			continue
		}
		roots, xmlProbs := parseXML(s.name, s.data)
		l.probs = append(l.probs, xmlProbs...)
		l.file = s.name
		l.readFile(roots)
	}
	l.resolve()

	slices.SortStableFunc(l.probs, func(a, b Problem) int {
		if a.File != b.File {
			return order[a.File] - order[b.File]
		}
		return a.Line - b.Line
	})
	var errs Problems
	for _, p := range l.probs {
		if p.Severity == SeverityError {
			errs = append(errs, p)
		}
	}
	if len(errs) > 0 {
		return nil, l.probs, errs
	}
	return l.cfg, l.probs, nil
}

// loader builds a Config from the elements of one or more files.
type loader struct {
	cfg   *Config
	probs []Problem
	file  string // the file being read

	cmdAt     map[string]int // command name to index in cfg.Commands
	pending   []pendingResponse
	nextIndex int             // next Response.Index
	ladderPos *Pos            // where cfg.RepeatedOffenders was set
	ignored   map[string]bool // ignored sections already warned about
}

// pendingResponse is an <active-response> block waiting for every <command>
// to be known.
type pendingResponse struct {
	resp        Response
	commandLine int
	timeout     *node // the <timeout> element, if any
	file        string
}

func (l *loader) errorf(line int, format string, args ...any) {
	l.probs = append(l.probs, newProblem(l.file, line, SeverityError, format, args...))
}

func (l *loader) warnf(line int, format string, args ...any) {
	l.probs = append(l.probs, newProblem(l.file, line, SeverityWarning, format, args...))
}

func (l *loader) pos(n *node) Pos {
	return Pos{File: l.file, Line: n.line}
}

// noText reports text inside an element that should hold only elements.
func (l *loader) noText(n *node) {
	if n.text != "" {
		l.errorf(n.textLine, "unexpected text %q in <%s>", clip([]byte(n.text)), n.name)
	}
}

// leaf returns the text of an element that should hold only text.
func (l *loader) leaf(n *node) string {
	if len(n.children) > 0 {
		l.errorf(n.children[0].line, "<%s> must hold a value, not elements such as <%s>", n.name, n.children[0].name)
	}
	return n.text
}

// once records n in *slot, warning when an element of that name was already
// given in the same parent (the later one wins, as in Wazuh).
func (l *loader) once(slot **node, n *node, parent string) {
	if *slot != nil {
		l.warnf(n.line, "<%s> is given more than once in <%s> (first on line %d); the last one is used",
			n.name, parent, (*slot).line)
	}
	*slot = n
}

func (l *loader) readFile(roots []*node) {
	if len(roots) == 0 {
		l.errorf(0, "no <ossec_config> element")
		return
	}
	for _, root := range roots {
		if root.name != "ossec_config" {
			l.errorf(root.line, "unexpected top-level element <%s>: a configuration file holds <ossec_config> elements", root.name)
			continue
		}
		l.noText(root)
		for _, sec := range root.children {
			switch sec.name {
			case "command":
				l.readCommand(sec)
			case "active-response":
				l.readResponse(sec)
			case "global":
				l.readGlobal(sec)
			case "cluster":
				l.readCluster(sec)
			case "riposte":
				l.readRiposte(sec)
			case "localfile":
				l.readLocalFile(sec)
			case "ruleset":
				l.readRuleset(sec)
			case "remote":
				l.readPortSection(sec, &l.cfg.Riposte.Fleet.AgentListen)
			case "auth":
				l.readPortSection(sec, &l.cfg.Riposte.Fleet.EnrollmentListen)
			default:
				if !isWazuhSection(sec.name) {
					l.errorf(sec.line, "unknown section <%s>", sec.name)
				} else if !l.ignored[sec.name] {
					l.ignored[sec.name] = true
					l.warnf(sec.line, "section <%s> is not used by Riposte; ignored", sec.name)
				}
			}
		}
	}
}

// isWazuhSection reports whether name is a section of Wazuh's ossec.conf that
// Riposte accepts and ignores.
func isWazuhSection(name string) bool {
	switch name {
	case "client", "client_buffer", "syscheck", "rootcheck", "wodle", "sca",
		"vulnerability-detection", "vulnerability-detector", "indexer", "remote",
		"auth", "alerts", "logging", "rule_test", "labels",
		"integration", "reports", "syslog_output", "email_alerts",
		"database_output", "agentless", "socket", "fluent-forward", "github",
		"office365", "aws-s3", "azure-logs", "gcp-pubsub", "gcp-bucket",
		"ms-graph", "osquery", "docker-listener", "cis-cat", "open-scap",
		"syscollector", "anti_tampering", "task-manager", "logtest",
		"agent-upgrade", "upgrade", "enrollment":
		return true
	}
	return false
}

// readCommand reads a <command> block.
func (l *loader) readCommand(el *node) {
	l.noText(el)
	var name, exe, allowed, extra *node
	for _, c := range el.children {
		switch c.name {
		case "name":
			l.once(&name, c, el.name)
		case "executable":
			l.once(&exe, c, el.name)
		case "timeout_allowed":
			l.once(&allowed, c, el.name)
		case "extra_args":
			l.once(&extra, c, el.name)
		case "expect":
			// Deprecated since Wazuh 4.2: accepted and ignored.
		default:
			l.errorf(c.line, "unknown element <%s> in <command>", c.name)
		}
	}

	cmd := Command{Pos: l.pos(el), ExtraArgs: []string{}}
	if name != nil {
		cmd.Name = l.leaf(name)
	}
	switch {
	case cmd.Name == "":
		l.errorf(el.line, "command has no <name>")
	case strings.HasPrefix(cmd.Name, "!"):
		l.errorf(name.line, "command name %q must not start with '!'", cmd.Name)
	}
	if exe == nil {
		l.errorf(el.line, "command has no <executable>")
	} else {
		cmd.Executable = l.leaf(exe)
		if !isFileName(cmd.Executable) {
			l.errorf(exe.line, "executable must be a file name in the active-response bin directory, not %q", cmd.Executable)
		}
	}
	if allowed != nil {
		v, ok := yesNo(l.leaf(allowed))
		if !ok {
			l.errorf(allowed.line, "timeout_allowed must be yes or no, not %q", allowed.text)
		}
		cmd.TimeoutAllowed = v
	}
	if extra != nil {
		for _, a := range strings.Split(l.leaf(extra), " ") {
			if a != "" {
				cmd.ExtraArgs = append(cmd.ExtraArgs, a)
			}
		}
	}

	if cmd.Name == "" {
		return
	}
	if i, dup := l.cmdAt[cmd.Name]; dup {
		first := l.cfg.Commands[i].Pos
		l.errorf(name.line, "command %q is already defined at %s:%d", cmd.Name, first.File, first.Line)
		return
	}
	// Commands with other errors are kept so that the responses using them
	// are not also reported as naming an unknown command.
	l.cmdAt[cmd.Name] = len(l.cfg.Commands)
	l.cfg.Commands = append(l.cfg.Commands, cmd)
}

// isFileName reports whether s names a file in a directory without leaving
// it.
func isFileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// yesNo parses Wazuh's boolean spelling.
func yesNo(s string) (v, ok bool) {
	switch s {
	case "yes":
		return true, true
	case "no":
		return false, true
	}
	return false, false
}

// readResponse reads an <active-response> block.
func (l *loader) readResponse(el *node) {
	l.noText(el)
	var disabled, command, location, agentID, rulesID, rulesGroup, level, timeout, ladder *node
	for _, c := range el.children {
		switch c.name {
		case "disabled":
			l.once(&disabled, c, el.name)
		case "command":
			l.once(&command, c, el.name)
		case "location":
			l.once(&location, c, el.name)
		case "agent_id":
			l.once(&agentID, c, el.name)
		case "rules_id":
			l.once(&rulesID, c, el.name)
		case "rules_group":
			l.once(&rulesGroup, c, el.name)
		case "level":
			l.once(&level, c, el.name)
		case "timeout":
			l.once(&timeout, c, el.name)
		case "repeated_offenders":
			l.once(&ladder, c, el.name)
		case "ca_store":
			// Belongs to Wazuh's agent upgrade feature; ignored.
		default:
			l.errorf(c.line, "unknown element <%s> in <active-response>", c.name)
		}
	}

	// Every value is checked, even in a disabled block.
	r := Response{Pos: l.pos(el)}
	badTrigger := false // a trigger was given but is wrong
	isDisabled := false
	if disabled != nil {
		v, ok := yesNo(l.leaf(disabled))
		if !ok {
			l.errorf(disabled.line, "disabled must be yes or no, not %q", disabled.text)
		}
		isDisabled = v
	}
	if command != nil {
		r.Command = l.leaf(command)
	}
	if location != nil {
		loc, ok := parseLocation(l.leaf(location))
		if !ok {
			l.errorf(location.line, "location %q is not one of local, server, defined-agent, all", location.text)
		}
		r.Location = loc
	}
	if agentID != nil {
		ids, err := parseAgentIDs(l.leaf(agentID))
		if err != nil {
			l.errorf(agentID.line, "%v", err)
		}
		r.AgentIDs = ids
	}
	if rulesID != nil {
		ids, bad := parseRulesID(l.leaf(rulesID))
		for _, b := range bad {
			l.errorf(rulesID.line, "rules_id: %q is not a rule id", b)
			badTrigger = true
		}
		r.RulesID = ids
	}
	if rulesGroup != nil {
		r.RulesGroup = l.leaf(rulesGroup)
		if r.RulesGroup == "" {
			l.errorf(rulesGroup.line, "rules_group is empty")
			badTrigger = true
		}
	}
	if level != nil {
		n, err := strconv.Atoi(l.leaf(level))
		if err != nil || !isDigits(level.text) || n > maxLevel {
			l.errorf(level.line, "level must be a number from 0 to %d, not %q", maxLevel, level.text)
			badTrigger = true
		} else {
			r.Level = n
		}
	}
	if timeout != nil {
		n, err := strconv.ParseInt(l.leaf(timeout), 10, 64)
		if err != nil || !isDigits(timeout.text) || n > maxTimeoutSeconds {
			l.errorf(timeout.line, "timeout must be a whole number of seconds, not %q", timeout.text)
		} else {
			r.Timeout = time.Duration(n) * time.Second
		}
	}
	if ladder != nil {
		steps, err := parseLadder(l.leaf(ladder))
		if err != nil {
			l.errorf(ladder.line, "%v", err)
		}
		r.RepeatedOffenders = steps
	}

	if r.Command != "" {
		r.Index = l.nextIndex
		l.nextIndex++
	}
	onlyDisabled := disabled != nil && command == nil && location == nil && agentID == nil &&
		rulesID == nil && rulesGroup == nil && level == nil && timeout == nil && ladder == nil
	if isDisabled {
		l.cfg.Disabled++
		if onlyDisabled {
			l.warnf(disabled.line, "an <active-response> block with only <disabled>yes</disabled> turns off Wazuh's execd; Riposte ignores it")
		}
		return
	}
	if onlyDisabled {
		// <disabled>no</disabled> alone is Wazuh's agent default: AR on.
		return
	}

	if r.Command == "" && location == nil && ladder != nil {
		l.readDefaultLadder(el, r, []*node{agentID, rulesID, rulesGroup, level, timeout})
		return
	}

	if r.Command == "" {
		l.errorf(el.line, "active response has no <command>")
	}
	if location == nil {
		l.errorf(el.line, "active response has no <location>")
	}
	switch {
	case r.Location == LocationDefinedAgent && agentID == nil:
		l.errorf(location.line, "location defined-agent needs <agent_id>")
	case r.Location != LocationDefinedAgent && r.Location != 0 && agentID != nil:
		l.warnf(agentID.line, "agent_id is used only with location defined-agent")
		r.AgentIDs = nil
	}
	if r.Level == 0 && rulesGroup == nil && len(r.RulesID) == 0 && !badTrigger {
		l.errorf(el.line, "active response has no trigger: set level, rules_group or rules_id")
	}
	if r.Command != "" {
		p := pendingResponse{resp: r, commandLine: command.line, timeout: timeout, file: l.file}
		l.pending = append(l.pending, p)
	}
}

// readDefaultLadder handles an <active-response> block that has only
// <repeated_offenders>: Wazuh's agent-side way to set the ladder for every
// response. others are the block's other elements, nil when absent.
func (l *loader) readDefaultLadder(el *node, r Response, others []*node) {
	for _, o := range others {
		if o != nil {
			l.errorf(o.line, "<%s> has no effect in a block without <command>; "+
				"a block with only <repeated_offenders> sets the default ladder", o.name)
		}
	}
	if l.ladderPos != nil {
		l.errorf(el.line, "the default repeated_offenders ladder is set twice: at %s:%d and at %s:%d",
			l.ladderPos.File, l.ladderPos.Line, l.file, el.line)
		return
	}
	p := l.pos(el)
	l.ladderPos = &p
	l.cfg.RepeatedOffenders = r.RepeatedOffenders
}

// resolve binds the pending responses to their commands, once every file
// has been read.
func (l *loader) resolve() {
	for _, p := range l.pending {
		l.file = p.file
		r := p.resp
		i, ok := l.cmdAt[r.Command]
		if !ok {
			l.errorf(p.commandLine, "unknown command %q", r.Command)
			continue
		}
		r.Cmd = &l.cfg.Commands[i] // the slice is final
		if r.Timeout > 0 && !r.Cmd.TimeoutAllowed {
			l.warnf(p.timeout.line, "timeout ignored: command %q does not allow timeouts (timeout_allowed no)", r.Command)
			r.Timeout = 0
		}
		l.cfg.Responses = append(l.cfg.Responses, r)
	}
	l.pending = nil
}

// parseLocation reads a <location> value.
func parseLocation(s string) (Location, bool) {
	for _, loc := range []Location{LocationLocal, LocationServer, LocationDefinedAgent, LocationAll} {
		if strings.EqualFold(strings.TrimSpace(s), loc.String()) {
			return loc, true
		}
	}
	return 0, false
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
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

// splitList splits a comma-separated list, trimming spaces around each item
// and dropping empty ones.
func splitList(s string) []string {
	var items []string
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	return items
}

// parseAgentIDs reads an <agent_id> value: one agent id or a comma list,
// returned zero-padded to three digits at least, without duplicates.
func parseAgentIDs(s string) ([]string, error) {
	items := splitList(s)
	if len(items) == 0 {
		return nil, errors.New("agent_id is empty")
	}
	var ids []string
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if !isDigits(it) {
			return nil, fmt.Errorf("agent_id: %q is not an agent id (a number such as 001)", it)
		}
		id := strings.TrimLeft(it, "0")
		if len(id) < 3 {
			id = strings.Repeat("0", 3-len(id)) + id
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// parseRulesID reads a <rules_id> value, returning the ids and the items
// that are not ids.
func parseRulesID(s string) (ids, bad []string) {
	for _, it := range splitList(s) {
		if isDigits(it) {
			ids = append(ids, it)
		} else {
			bad = append(bad, it)
		}
	}
	return ids, bad
}

// parseLadder reads a <repeated_offenders> value: up to five positive
// numbers of minutes.
func parseLadder(s string) ([]int, error) {
	items := splitList(s)
	if len(items) == 0 {
		return nil, errors.New("repeated_offenders is empty")
	}
	if len(items) > maxLadder {
		return nil, fmt.Errorf("repeated_offenders has %d values; at most %d are allowed", len(items), maxLadder)
	}
	steps := make([]int, 0, len(items))
	for _, it := range items {
		n, err := strconv.Atoi(it)
		if err != nil || !isDigits(it) || n <= 0 || n > math.MaxInt32 {
			return nil, fmt.Errorf("repeated_offenders: %q is not a positive number of minutes", it)
		}
		steps = append(steps, n)
	}
	return steps, nil
}

// readGlobal reads a <global> section. Only <white_list> is used.
func (l *loader) readGlobal(el *node) {
	l.noText(el)
	for _, c := range el.children {
		if c.name != "white_list" {
			continue // Wazuh settings Riposte does not use
		}
		raw := l.leaf(c)
		prefix, host, err := parseWhiteListEntry(raw)
		if err != nil {
			l.errorf(c.line, "%v", err)
			continue
		}
		l.cfg.Global.WhiteList = append(l.cfg.Global.WhiteList,
			WhiteListEntry{Pos: l.pos(c), Raw: raw, Prefix: prefix, Host: host})
	}
}

// parseWhiteListEntry reads one <white_list> entry: an address, a CIDR block
// (or IPv4 address and dotted netmask), or a host name, optionally anchored
// Wazuh-style as ^name$.
func parseWhiteListEntry(s string) (netip.Prefix, string, error) {
	if s == "" {
		return netip.Prefix{}, "", errors.New("white_list entry is empty")
	}
	if strings.HasPrefix(s, "!") {
		return netip.Prefix{}, "", fmt.Errorf("white_list entry %q: negated white_list entries are not supported", s)
	}
	neither := fmt.Errorf("white_list entry %q is neither an address, a CIDR block nor a host name", s)
	if addrText, lenText, ok := strings.Cut(s, "/"); ok {
		a, err := netip.ParseAddr(addrText)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, "", neither
		}
		bits, err := prefixLen(a, lenText)
		if err != nil {
			return netip.Prefix{}, "", fmt.Errorf("white_list entry %q: %w", s, err)
		}
		if a.Is4In6() && bits >= 96 {
			a, bits = a.Unmap(), bits-96
		}
		return netip.PrefixFrom(a, bits).Masked(), "", nil
	}
	name := strings.TrimSuffix(strings.TrimPrefix(s, "^"), "$")
	if a, err := netip.ParseAddr(name); err == nil {
		if a.Zone() != "" {
			return netip.Prefix{}, "", fmt.Errorf("white_list entry %q: addresses with a zone are not supported", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), "", nil
	}
	if !isHostName(name) {
		return netip.Prefix{}, "", neither
	}
	return netip.Prefix{}, strings.ToLower(name), nil
}

// prefixLen reads the part after '/' of a white-list entry: a prefix length,
// or for IPv4 a dotted netmask.
func prefixLen(a netip.Addr, s string) (int, error) {
	if isDigits(s) {
		n, err := strconv.Atoi(s)
		if err != nil || n > a.BitLen() {
			return 0, fmt.Errorf("prefix length /%s is out of range 0-%d", s, a.BitLen())
		}
		return n, nil
	}
	m, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || !m.Is4() {
		return 0, fmt.Errorf("%q is neither a prefix length nor an IPv4 netmask", s)
	}
	b := m.As4()
	mask := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	inv := ^mask
	if inv&(inv+1) != 0 {
		return 0, fmt.Errorf("netmask %s is not contiguous", s)
	}
	ones := 0
	for ; mask != 0; mask <<= 1 {
		ones++
	}
	return ones, nil
}

// isHostName reports whether s is a host name made of RFC 1123 labels. A
// name whose last label is numeric is refused, as it reads as a partial
// address.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, label := range labels {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return !isDigits(labels[len(labels)-1])
}

// readCluster reads a <cluster> section. Only <node_name> is used.
func (l *loader) readCluster(el *node) {
	l.noText(el)
	var name *node
	for _, c := range el.children {
		if c.name == "node_name" {
			l.once(&name, c, el.name)
		}
	}
	if name == nil {
		return
	}
	if v := l.leaf(name); v != "" {
		l.cfg.NodeName = v
	} else {
		l.errorf(name.line, "node_name is empty")
	}
}

// readRiposte reads a <riposte> section. Each setting overrides the one of
// an earlier section; alerts_json entries add up.
func (l *loader) readRiposte(el *node) {
	l.noText(el)
	var listen, handshake, run, dedupe, resolve, scope, dryRun *node
	var backend, output, ingress, v6prefix, permanent, kill, slackDel *node
	for _, c := range el.children {
		switch c.name {
		case "alerts_json":
			p := l.leaf(c)
			switch {
			case p == "":
				l.errorf(c.line, "alerts_json is empty")
			case !slices.Contains(l.cfg.Riposte.AlertsJSON, p):
				l.cfg.Riposte.AlertsJSON = append(l.cfg.Riposte.AlertsJSON, p)
			}
		case "http_listen":
			l.once(&listen, c, el.name)
		case "handshake_timeout":
			l.once(&handshake, c, el.name)
		case "run_timeout":
			l.once(&run, c, el.name)
		case "stateless_dedupe":
			l.once(&dedupe, c, el.name)
		case "white_list_resolve_interval":
			l.once(&resolve, c, el.name)
		case "white_list_scope":
			l.once(&scope, c, el.name)
		case "dry_run":
			l.once(&dryRun, c, el.name)
		case "firewall_backend":
			l.once(&backend, c, el.name)
		case "block_output":
			l.once(&output, c, el.name)
		case "ingress_device":
			l.once(&ingress, c, el.name)
		case "ipv6_prefix":
			l.once(&v6prefix, c, el.name)
		case "firewalld_permanent":
			l.once(&permanent, c, el.name)
		case "kill_sessions":
			l.once(&kill, c, el.name)
		case "slack_on_delete":
			l.once(&slackDel, c, el.name)
		case "fleet":
			l.readFleet(c)
		case "api":
			l.readAPI(c)
		default:
			l.errorf(c.line, "unknown element <%s> in <riposte>", c.name)
		}
	}
	rc := &l.cfg.Riposte
	if listen != nil {
		v := l.leaf(listen)
		if v == "off" {
			rc.HTTPListen = ""
		} else if err := checkListen(v); err != nil {
			l.errorf(listen.line, "%v", err)
		} else {
			rc.HTTPListen = v
		}
	}
	l.duration(handshake, &rc.HandshakeTimeout, false)
	l.duration(run, &rc.RunTimeout, false)
	l.duration(dedupe, &rc.StatelessDedupe, true)
	l.duration(resolve, &rc.ResolveInterval, false)
	if scope != nil {
		switch v := WhiteListScope(l.leaf(scope)); v {
		case ScopeIP, ScopeAll:
			rc.WhiteListScope = v
		default:
			l.errorf(scope.line, "white_list_scope must be ip or all, not %q", scope.text)
		}
	}
	l.yesNoSetting(dryRun, "dry_run", &rc.DryRun)
	as := &rc.Actions
	if backend != nil {
		switch v := l.leaf(backend); v {
		case "auto":
			as.FirewallBackend = ""
		case "nftables", "ipset", "iptables":
			as.FirewallBackend = v
		default:
			l.errorf(backend.line, "firewall_backend must be auto, nftables, ipset or iptables, not %q", backend.text)
		}
	}
	l.yesNoSetting(output, "block_output", &as.BlockOutput)
	if ingress != nil {
		v := l.leaf(ingress)
		if v == "" || len(v) > 15 || strings.ContainsAny(v, "/ \t") {
			l.errorf(ingress.line, "ingress_device %q is not a network interface name", ingress.text)
		} else {
			as.IngressDevice = v
		}
	}
	if v6prefix != nil {
		n, err := strconv.Atoi(l.leaf(v6prefix))
		if err != nil || n < 0 || n > 128 {
			l.errorf(v6prefix.line, "ipv6_prefix must be a prefix length from 0 to 128, not %q", v6prefix.text)
		} else {
			as.IPv6Prefix = n
		}
	}
	l.yesNoSetting(permanent, "firewalld_permanent", &as.FirewalldPermanent)
	l.yesNoSetting(kill, "kill_sessions", &as.KillSessions)
	l.yesNoSetting(slackDel, "slack_on_delete", &as.SlackOnDelete)
}

// yesNoSetting reads a yes/no element, if present, into *dst.
func (l *loader) yesNoSetting(n *node, name string, dst *bool) {
	if n == nil {
		return
	}
	v, ok := yesNo(l.leaf(n))
	if !ok {
		l.errorf(n.line, "%s must be yes or no, not %q", name, n.text)
		return
	}
	*dst = v
}

// duration reads the duration element n, if present, into *dst.
func (l *loader) duration(n *node, dst *time.Duration, zeroOK bool) {
	if n == nil {
		return
	}
	d, err := parseDuration(l.leaf(n))
	switch {
	case err != nil:
		l.errorf(n.line, "%s: %v", n.name, err)
	case d == 0 && !zeroOK:
		l.errorf(n.line, "%s must be greater than 0", n.name)
	default:
		*dst = d
	}
}

// parseDuration reads a duration in Go syntax ("10s", "5m") or a bare
// number of seconds. Negative durations are refused.
func parseDuration(s string) (time.Duration, error) {
	if isDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) {
			return 0, fmt.Errorf("%q is too long", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 30s, 5m or a number of seconds", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// checkListen checks an <http_listen> address: host:port on a loopback
// address.
func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("http_listen %q is not host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || !isDigits(port) || n < 0 || n > 65535 {
		return fmt.Errorf("http_listen %q: port must be a number from 0 (any free port) to 65535", s)
	}
	if host == "localhost" {
		return nil
	}
	if a, err := netip.ParseAddr(host); err != nil || !a.IsLoopback() {
		return fmt.Errorf("http_listen %q: host must be a loopback address such as 127.0.0.1, ::1 or localhost (or write off)", s)
	}
	return nil
}

// readLocalFile reads a <localfile> section. Options of Wazuh's that Riposte
// does not use (frequency, only-future-events, ...) are accepted silently.
func (l *loader) readLocalFile(el *node) {
	l.noText(el)
	var loc, format *node
	for _, c := range el.children {
		switch c.name {
		case "location":
			l.once(&loc, c, el.name)
		case "log_format":
			l.once(&format, c, el.name)
		case "frequency", "only-future-events", "ignore", "restrict", "label", "target",
			"out_format", "alias", "query", "command", "age", "exclude", "multiline_regex", "reconnect_time":
		default:
			l.errorf(c.line, "unknown element <%s> in <localfile>", c.name)
		}
	}
	if loc == nil || format == nil {
		l.errorf(el.line, "<localfile> needs <location> and <log_format>")
		return
	}
	lf := LocalFile{Pos: l.pos(el), Location: l.leaf(loc), LogFormat: l.leaf(format)}
	if n, ok := strings.CutPrefix(lf.LogFormat, "multi-line"); ok && strings.HasPrefix(strings.TrimSpace(n), ":") {
		v, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(n), ":")))
		if err != nil || v < 1 || v > 64 {
			l.errorf(format.line, "log_format %q: multi-line takes a number of lines from 1 to 64 (multi-line:3)", lf.LogFormat)
			return
		}
		lf.LogFormat, lf.Lines = "multi-line", v
	}
	switch lf.LogFormat {
	case "syslog", "json", "apache", "multi-line":
		if lf.Location == "" {
			l.errorf(loc.line, "<location> is empty")
			return
		}
	case "journald":
		lf.Location = "journald"
	case "snort-full", "squid", "audit", "mysql_log", "postgresql_log", "nmapg",
		"iis", "command", "full_command", "djb-multilog", "multi-line-regex", "eventlog", "eventchannel", "macos":
		l.warnf(format.line, "log_format %q is not read by Riposte yet; this <localfile> is ignored", lf.LogFormat)
		return
	default:
		l.errorf(format.line, "unknown log_format %q (Riposte reads syslog, json, apache, multi-line:N and journald)", lf.LogFormat)
		return
	}
	l.cfg.LocalFiles = append(l.cfg.LocalFiles, lf)
}

// readRuleset reads a <ruleset> section; several add up.
func (l *loader) readRuleset(el *node) {
	l.noText(el)
	if l.cfg.Ruleset == nil {
		l.cfg.Ruleset = &Ruleset{Pos: l.pos(el)}
	}
	rs := l.cfg.Ruleset
	dir := filepath.Dir(l.file)
	path := func(c *node) string {
		p := l.leaf(c)
		if p == "" {
			l.errorf(c.line, "<%s> is empty", c.name)
			return ""
		}
		if !filepath.IsAbs(p) && l.file != "" && !strings.HasPrefix(l.file, "(") {
			p = filepath.Join(dir, p)
		}
		return p
	}
	base := func(c *node) string {
		v := l.leaf(c)
		if v == "" || strings.ContainsAny(v, `/\`) {
			l.errorf(c.line, "<%s> takes a file name, not %q", c.name, v)
			return ""
		}
		return v
	}
	add := func(list *[]string, v string) {
		if v != "" {
			*list = append(*list, v)
		}
	}
	for _, c := range el.children {
		switch c.name {
		case "decoder_dir":
			add(&rs.DecoderDirs, path(c))
		case "rule_dir":
			add(&rs.RuleDirs, path(c))
		case "decoder_include":
			add(&rs.DecoderInclude, path(c))
		case "rule_include":
			add(&rs.RuleInclude, path(c))
		case "decoder_exclude":
			add(&rs.DecoderExclude, base(c))
		case "rule_exclude":
			add(&rs.RuleExclude, base(c))
		case "list":
			add(&rs.Lists, path(c))
		default:
			l.errorf(c.line, "unknown element <%s> in <ruleset>", c.name)
		}
	}
}
