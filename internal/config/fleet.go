package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Fleet defaults. The ports are Wazuh's.
const (
	DefaultAgentPort       = 1514
	DefaultEnrollmentPort  = 1515
	defaultHeartbeat       = 10 * time.Second
	defaultDisconnectAfter = 30 * time.Second
	defaultCommandTTL      = 10 * time.Minute
	defaultOffendersCap    = 24 * time.Hour
	defaultOffendersDecay  = 24 * time.Hour
)

// Fleet holds the settings of a manager and its agents: Wazuh's
// <remote><port> and <auth><port>, and Riposte's <riposte><fleet>.
type Fleet struct {
	// AgentListen is where agents connect (NATS over mutual TLS):
	// <riposte><fleet><agent_listen>, or ":<port>" from Wazuh's
	// <remote><port>. Default ":1514".
	AgentListen string
	// EnrollmentListen is where agents enroll (<enrollment_listen>, or
	// ":<port>" from <auth><port>). Default ":1515".
	EnrollmentListen string
	// AgentURLs are the NATS URLs handed to enrolling agents
	// (<agent_url>, repeatable). Default: the host the agent used to reach
	// the enrollment port, with the agent port.
	AgentURLs []string
	// ServerNames are extra host names and addresses put in the manager's
	// certificate (<server_name>, repeatable).
	ServerNames []string
	// NATSURL, when set, makes the manager use an existing NATS cluster
	// instead of its embedded server (<nats_url>: comma-separated URLs).
	NATSURL string
	// NATSCreds is a NATS credentials file for NATSURL (<nats_creds>).
	NATSCreds string
	// NATSCA is the CA file that signs the cluster's certificates
	// (<nats_ca>).
	NATSCA string
	// Replicas is how many copies of the manager's state the cluster keeps
	// (<replicas>, default 1; 3 on a three-node cluster).
	Replicas int
	// SubjectPrefix is the first token of every subject (<subject_prefix>,
	// default "riposte").
	SubjectPrefix string
	// Heartbeat is how often agents report (<heartbeat_interval>).
	Heartbeat time.Duration
	// DisconnectAfter is how long without a heartbeat makes an agent
	// disconnected (<disconnect_after>).
	DisconnectAfter time.Duration
	// CommandTTL is how long a stateless command (or an undo) waits for an
	// agent that is away (<command_ttl>). A stateful command is valid for
	// its timeout.
	CommandTTL time.Duration
	// AllIncludesManager makes location "all" also run on the manager
	// (<all_includes_manager>, default no as in Wazuh).
	AllIncludesManager bool
	// CentralOffenders counts repeated offenders per address on the manager,
	// across agents (<central_offenders>, default yes); no keeps Wazuh's
	// per-agent counting.
	CentralOffenders bool
	// OffendersCap is the longest timeout a repeated offender gets
	// (<offenders_cap>).
	OffendersCap time.Duration
	// OffendersDecay forgets an address's offenses after this long without
	// a new one (<offenders_decay>).
	OffendersDecay time.Duration
}

func defaultFleet() Fleet {
	return Fleet{
		AgentListen:      ":" + strconv.Itoa(DefaultAgentPort),
		EnrollmentListen: ":" + strconv.Itoa(DefaultEnrollmentPort),
		Replicas:         1,
		SubjectPrefix:    "riposte",
		Heartbeat:        defaultHeartbeat,
		DisconnectAfter:  defaultDisconnectAfter,
		CommandTTL:       defaultCommandTTL,
		CentralOffenders: true,
		OffendersCap:     defaultOffendersCap,
		OffendersDecay:   defaultOffendersDecay,
	}
}

// readPortSection reads Wazuh's <remote> or <auth> section: only <port> is
// used; it sets the listener's port and keeps its host.
func (l *loader) readPortSection(el *node, dst *string) {
	l.noText(el)
	var port *node
	for _, c := range el.children {
		if c.name == "port" {
			l.once(&port, c, el.name)
		}
	}
	if port == nil {
		return
	}
	v := l.leaf(port)
	n, err := strconv.Atoi(v)
	if err != nil || !isDigits(v) || n < 1 || n > 65535 {
		l.errorf(port.line, "<%s><port> must be a port number from 1 to 65535, not %q", el.name, port.text)
		return
	}
	host, _, _ := net.SplitHostPort(*dst)
	*dst = net.JoinHostPort(host, v)
}

// readFleet reads <riposte><fleet>.
func (l *loader) readFleet(el *node) {
	l.noText(el)
	f := &l.cfg.Riposte.Fleet
	var agentListen, enrollListen, natsURL, creds, ca, replicas, prefix *node
	var hb, disc, ttl, allMgr, central, capN, decay *node
	for _, c := range el.children {
		switch c.name {
		case "agent_listen":
			l.once(&agentListen, c, el.name)
		case "enrollment_listen":
			l.once(&enrollListen, c, el.name)
		case "agent_url":
			v := l.leaf(c)
			if u, err := url.Parse(v); err != nil || u.Host == "" || (u.Scheme != "tls" && u.Scheme != "nats") {
				l.errorf(c.line, "agent_url %q must be a URL such as tls://manager.example:1514", c.text)
				continue
			}
			f.AgentURLs = append(f.AgentURLs, v)
		case "server_name":
			if v := l.leaf(c); v == "" || strings.ContainsAny(v, " \t/") {
				l.errorf(c.line, "server_name %q is not a host name or address", c.text)
			} else {
				f.ServerNames = append(f.ServerNames, v)
			}
		case "nats_url":
			l.once(&natsURL, c, el.name)
		case "nats_creds":
			l.once(&creds, c, el.name)
		case "nats_ca":
			l.once(&ca, c, el.name)
		case "replicas":
			l.once(&replicas, c, el.name)
		case "subject_prefix":
			l.once(&prefix, c, el.name)
		case "heartbeat_interval":
			l.once(&hb, c, el.name)
		case "disconnect_after":
			l.once(&disc, c, el.name)
		case "command_ttl":
			l.once(&ttl, c, el.name)
		case "all_includes_manager":
			l.once(&allMgr, c, el.name)
		case "central_offenders":
			l.once(&central, c, el.name)
		case "offenders_cap":
			l.once(&capN, c, el.name)
		case "offenders_decay":
			l.once(&decay, c, el.name)
		default:
			l.errorf(c.line, "unknown element <%s> in <fleet>", c.name)
		}
	}
	for _, s := range []struct {
		n   *node
		dst *string
	}{{agentListen, &f.AgentListen}, {enrollListen, &f.EnrollmentListen}} {
		if s.n == nil {
			continue
		}
		v := l.leaf(s.n)
		if err := checkHostPort(v); err != nil {
			l.errorf(s.n.line, "%s: %v", s.n.name, err)
			continue
		}
		*s.dst = v
	}
	if natsURL != nil {
		v := l.leaf(natsURL)
		for _, u := range strings.Split(v, ",") {
			if pu, err := url.Parse(strings.TrimSpace(u)); err != nil || pu.Host == "" {
				l.errorf(natsURL.line, "nats_url: %q is not a URL such as nats://10.0.0.1:4222", u)
			}
		}
		f.NATSURL = v
	}
	if creds != nil {
		f.NATSCreds = l.leaf(creds)
	}
	if ca != nil {
		f.NATSCA = l.leaf(ca)
	}
	if replicas != nil {
		n, err := strconv.Atoi(l.leaf(replicas))
		if err != nil || n < 1 || n > 5 {
			l.errorf(replicas.line, "replicas must be a number from 1 to 5, not %q", replicas.text)
		} else {
			f.Replicas = n
		}
	}
	if prefix != nil {
		v := l.leaf(prefix)
		if v == "" || strings.ContainsAny(v, ".*> \t") {
			l.errorf(prefix.line, "subject_prefix %q must be one NATS token (no dots, spaces or wildcards)", prefix.text)
		} else {
			f.SubjectPrefix = v
		}
	}
	l.duration(hb, &f.Heartbeat, false)
	l.duration(disc, &f.DisconnectAfter, false)
	l.duration(ttl, &f.CommandTTL, false)
	l.yesNoSetting(allMgr, "all_includes_manager", &f.AllIncludesManager)
	l.yesNoSetting(central, "central_offenders", &f.CentralOffenders)
	l.duration(capN, &f.OffendersCap, false)
	l.duration(decay, &f.OffendersDecay, false)
	if f.DisconnectAfter < f.Heartbeat {
		l.errorf(el.line, "disconnect_after (%s) is shorter than heartbeat_interval (%s): every agent would show disconnected", f.DisconnectAfter, f.Heartbeat)
	}
}

// checkHostPort checks a listen address: [host]:port, any host.
func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port (or :port)", s)
	}
	if n, err := strconv.Atoi(port); err != nil || !isDigits(port) || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be a number from 0 to 65535", s)
	}
	return nil
}

// formatFleet writes the <fleet> subsection.
func (w *xmlWriter) formatFleet(f Fleet) {
	w.open(2, "fleet")
	w.elem(3, "agent_listen", f.AgentListen)
	w.elem(3, "enrollment_listen", f.EnrollmentListen)
	for _, u := range f.AgentURLs {
		w.elem(3, "agent_url", u)
	}
	for _, n := range f.ServerNames {
		w.elem(3, "server_name", n)
	}
	if f.NATSURL != "" {
		w.elem(3, "nats_url", f.NATSURL)
	}
	if f.NATSCreds != "" {
		w.elem(3, "nats_creds", f.NATSCreds)
	}
	if f.NATSCA != "" {
		w.elem(3, "nats_ca", f.NATSCA)
	}
	w.elem(3, "replicas", strconv.Itoa(f.Replicas))
	w.elem(3, "subject_prefix", f.SubjectPrefix)
	w.elem(3, "heartbeat_interval", formatDuration(f.Heartbeat))
	w.elem(3, "disconnect_after", formatDuration(f.DisconnectAfter))
	w.elem(3, "command_ttl", formatDuration(f.CommandTTL))
	w.elem(3, "all_includes_manager", yesNoText(f.AllIncludesManager))
	w.elem(3, "central_offenders", yesNoText(f.CentralOffenders))
	w.elem(3, "offenders_cap", formatDuration(f.OffendersCap))
	w.elem(3, "offenders_decay", formatDuration(f.OffendersDecay))
	w.close(2, "fleet")
}

// readAPI reads <riposte><api>.
func (l *loader) readAPI(el *node) {
	l.noText(el)
	a := &l.cfg.Riposte.API
	var listen, cert, key *node
	for _, c := range el.children {
		switch c.name {
		case "listen":
			l.once(&listen, c, el.name)
		case "cert":
			l.once(&cert, c, el.name)
		case "key":
			l.once(&key, c, el.name)
		default:
			l.errorf(c.line, "unknown element <%s> in <api>", c.name)
		}
	}
	if listen != nil {
		switch v := l.leaf(listen); {
		case v == "off":
			a.Listen = ""
		case checkHostPort(v) != nil:
			l.errorf(listen.line, "api listen: %v", checkHostPort(v))
		default:
			a.Listen = v
		}
	}
	if cert != nil {
		a.CertFile = l.leaf(cert)
	}
	if key != nil {
		a.KeyFile = l.leaf(key)
	}
	if (a.CertFile == "") != (a.KeyFile == "") {
		l.errorf(el.line, "<api> needs both <cert> and <key>, or neither")
	}
}

// formatAPI writes the <api> subsection.
func (w *xmlWriter) formatAPI(a API) {
	w.open(2, "api")
	if a.Listen == "" {
		w.elem(3, "listen", "off")
	} else {
		w.elem(3, "listen", a.Listen)
	}
	if a.CertFile != "" {
		w.elem(3, "cert", a.CertFile)
		w.elem(3, "key", a.KeyFile)
	}
	w.close(2, "api")
}
