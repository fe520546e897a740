package config

import (
	"net/netip"
	"strconv"
	"time"
)

// Pos is where an element starts in a configuration file.
type Pos struct {
	File string // path as given to Load
	Line int    // 1-based line number
}

// Config is the effective configuration of a Riposte instance: Wazuh's
// <command>, <active-response> and <global><white_list> sections plus
// Riposte's own <riposte> section.
//
// Precedence: the built-in defaults of [Default] (only when no file is
// given), then the files in the order given, then command-line flags applied
// by the caller.
type Config struct {
	// Files are the configuration files this was loaded from, in order.
	Files []string

	// Commands are the <command> blocks, in document order. Names are unique.
	Commands []Command

	// Responses are the enabled <active-response> blocks that have a command,
	// in document order. Disabled blocks are kept out; see Disabled.
	Responses []Response

	// Disabled counts <active-response> blocks skipped because of
	// <disabled>yes</disabled>.
	Disabled int

	// RepeatedOffenders is the default ladder, in minutes, taken from an
	// <active-response> block that has only <repeated_offenders> (Wazuh's
	// agent-side form). A response's own <repeated_offenders> overrides it.
	RepeatedOffenders []int

	// Global holds <global> settings that Riposte uses.
	Global Global

	// NodeName is <cluster><node_name>, sent as origin.name in the messages
	// scripts read. Default "node01", as in Wazuh's default configuration.
	NodeName string

	// Riposte holds Riposte's own settings (<riposte> section).
	Riposte Riposte

	// LocalFiles are the <localfile> sources Riposte reads and analyses.
	LocalFiles []LocalFile

	// Ruleset is the <ruleset> section; nil means Riposte's built-in
	// ruleset.
	Ruleset *Ruleset
}

// LocalFile is one <localfile> (Wazuh's log collection).
type LocalFile struct {
	Pos
	// Location is the file to follow, or "journald" for the systemd journal.
	Location string
	// LogFormat is syslog, json, apache, multi-line or journald.
	LogFormat string
	// Lines is, for multi-line ("multi-line:N"), how many lines make one
	// event; they are joined with a space. Zero for other formats.
	Lines int
}

// Ruleset is the <ruleset> section: where decoders, rules and lists come
// from, as Wazuh reads it. Relative paths are relative to the directory of
// the configuration file that names them.
type Ruleset struct {
	Pos
	DecoderDirs    []string // <decoder_dir>
	RuleDirs       []string // <rule_dir>
	DecoderInclude []string // <decoder_include>: single files
	RuleInclude    []string // <rule_include>: single files
	DecoderExclude []string // <decoder_exclude>: base names left out
	RuleExclude    []string // <rule_exclude>: base names left out
	Lists          []string // <list>: CDB list sources
}

// Command is one <command> block (Wazuh ossec.conf <command>).
type Command struct {
	Pos
	// Name is the command's name, referenced by <active-response><command>.
	// Required, case-sensitive, must not start with '!'.
	Name string
	// Executable is a file name under the active-response bin directory.
	// Required; no path separators and no "..".
	Executable string
	// TimeoutAllowed says whether responses using this command may be
	// stateful (<timeout_allowed>yes</timeout_allowed>). Default no.
	TimeoutAllowed bool
	// ExtraArgs is <extra_args> split on single spaces, empty pieces dropped,
	// as Wazuh puts it into parameters.extra_args. Never nil.
	ExtraArgs []string
}

// Location says where a response runs (<active-response><location>).
type Location int

// The locations of Wazuh 4.x.
const (
	LocationLocal        Location = iota + 1 // the agent that raised the alert
	LocationServer                           // the manager (agent 000)
	LocationDefinedAgent                     // the agents named in <agent_id>
	LocationAll                              // every agent
)

// String returns the configuration spelling of l.
func (l Location) String() string {
	switch l {
	case LocationLocal:
		return "local"
	case LocationServer:
		return "server"
	case LocationDefinedAgent:
		return "defined-agent"
	case LocationAll:
		return "all"
	}
	return "unknown"
}

// Response is one enabled <active-response> block.
type Response struct {
	Pos
	// Index is the block's position among all <active-response> blocks
	// that name a command (0-based, counting disabled ones), stable across
	// loads of the same files; used in explanations.
	Index int
	// Command is the name of the <command> this block runs. The referenced
	// command is Cmd.
	Command string
	Cmd     *Command
	// Location is where the command runs. Required.
	Location Location
	// AgentIDs are the agents for LocationDefinedAgent, as three-digit
	// (or longer) zero-padded strings ("001"). One or more.
	AgentIDs []string
	// RulesID are the rule ids that trigger this block (<rules_id>).
	RulesID []string
	// RulesGroup is the <rules_group> pattern, an OS_Regex (case-insensitive,
	// unanchored, '|' separates alternatives) matched against the rule's
	// group string. Empty when not set.
	RulesGroup string
	// Level triggers on rules whose level is >= Level; 0 means not set.
	Level int
	// Timeout is how long a stateful response lasts before its delete runs.
	// Zero for stateless responses, and whenever the command does not allow
	// timeouts.
	Timeout time.Duration
	// RepeatedOffenders is this block's ladder in minutes, or nil to use
	// Config.RepeatedOffenders.
	RepeatedOffenders []int
}

// ARName is the name Wazuh sends to agents: the command name followed by the
// timeout in seconds ("firewall-drop600").
func (r *Response) ARName() string {
	return r.Command + strconv.Itoa(int(r.Timeout/time.Second))
}

// Global holds the <global> settings Riposte uses.
type Global struct {
	// WhiteList is every <white_list> entry, in order.
	WhiteList []WhiteListEntry
}

// WhiteListEntry is one <global><white_list> entry: an address or CIDR block
// (IPv4 or IPv6), or a host name to resolve.
type WhiteListEntry struct {
	Pos
	// Raw is the entry as written.
	Raw string
	// Prefix is set for address and CIDR entries; an address is a full-length
	// prefix. IPv4-mapped IPv6 is stored as IPv4.
	Prefix netip.Prefix
	// Host is set for host-name entries.
	Host string
}

// WhiteListScope says which responses a white-list hit suppresses.
type WhiteListScope string

// White-list scopes.
const (
	// ScopeIP suppresses only responses that act on the source address.
	ScopeIP WhiteListScope = "ip"
	// ScopeAll suppresses every response for the alert, as Wazuh does.
	ScopeAll WhiteListScope = "all"
)

// Riposte holds Riposte's own settings, from the <riposte> section.
type Riposte struct {
	// AlertsJSON are Wazuh alerts.json files to follow (<alerts_json>,
	// repeatable).
	AlertsJSON []string
	// HTTPListen is the TCP address of the local plain-HTTP endpoint that
	// accepts alerts (<http_listen>). Must be a loopback address. Default
	// off (stored as ""): the HTTPS API accepts alerts too.
	HTTPListen string
	// HandshakeTimeout limits how long a script may take to send its
	// check_keys line or exit (<handshake_timeout>, default 10s).
	HandshakeTimeout time.Duration
	// RunTimeout limits a whole script run (<run_timeout>, default 60s).
	RunTimeout time.Duration
	// StatelessDedupe suppresses a repeat of the same stateless response
	// within this window (<stateless_dedupe>, default 0: Wazuh's behaviour).
	StatelessDedupe time.Duration
	// WhiteListScope is ScopeIP (default) or ScopeAll (<white_list_scope>).
	WhiteListScope WhiteListScope
	// ResolveInterval is how often white-listed host names are resolved again
	// (<white_list_resolve_interval>, default 5m).
	ResolveInterval time.Duration
	// DryRun decides but runs nothing (<dry_run>yes</dry_run>, default no).
	DryRun bool
	// Actions tune the built-in actions.
	Actions ActionSettings
	// Fleet configures the manager and its agents.
	Fleet Fleet
	// API configures the HTTPS API (<api>).
	API API
}

// API configures the HTTPS API, the console and /metrics.
type API struct {
	// Listen is the address (<listen>, default "127.0.0.1:55000"); empty
	// when off.
	Listen string
	// CertFile and KeyFile are the server certificate and key (<cert>,
	// <key>); without them a certificate is made on first start.
	CertFile, KeyFile string
}

// ActionSettings tune the built-in actions (firewall-drop, host-deny, ...),
// from elements of the <riposte> section.
type ActionSettings struct {
	// FirewallBackend is firewall-drop's backend (<firewall_backend>):
	// nftables, ipset, iptables, or "" (auto: nftables where it works).
	FirewallBackend string
	// BlockOutput also blocks traffic to blocked addresses (<block_output>,
	// default no).
	BlockOutput bool
	// IngressDevice, when set, also drops at netdev ingress on this device
	// (<ingress_device>).
	IngressDevice string
	// IPv6Prefix widens blocked IPv6 addresses to this prefix length
	// (<ipv6_prefix>, 0 keeps them as given; 64 blocks the /64).
	IPv6Prefix int
	// FirewalldPermanent makes firewalld-drop rules permanent too
	// (<firewalld_permanent>, default no).
	FirewalldPermanent bool
	// KillSessions makes disable-account end the user's sessions
	// (<kill_sessions>, default no).
	KillSessions bool
	// SlackOnDelete makes wazuh-slack post when a response is undone
	// (<slack_on_delete>, default no).
	SlackOnDelete bool
}
