package httpapi

import (
	"context"
	"encoding/json"
	"net/netip"
	"time"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/audit"
	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/fleet/manager"
)

// Backend is what the HTTPS API serves. The wiring (instance) implements
// it over the response engine, the fleet manager and the audit trail. The
// user named in a context (see UserFrom) is the one who asked.
type Backend interface {
	// Agents lists the agents, the manager (000) first.
	Agents() []manager.AgentStatus
	// RemoveAgent revokes an agent at once.
	RemoveAgent(ctx context.Context, id string) error

	// ARNames are the names Wazuh's ar.conf would hold, derived from the
	// <active-response> blocks: the command name followed by the timeout in
	// seconds ("firewall-drop0", "firewall-drop600"), each with the command
	// it runs.
	ARNames() map[string]ARCommand
	// Send carries a command to agents, as Wazuh's PUT /active-response
	// does after validation: one command per agent. It returns, per agent,
	// how delivery went (manager.Sent, manager.Queued, or a reason).
	Send(ctx context.Context, agents []string, c ARCommand, extraArgs []string, alertDoc json.RawMessage) map[string]string
	// ARDisabled reports whether active response is disabled on an agent
	// (Wazuh error 1750).
	ARDisabled(agent string) bool

	// Active lists active responses matching f, sorted by Until, with the
	// total before paging.
	Active(f ActiveQuery) (items []manager.Active, total int)
	// Undo lifts the active response id, or every one for ip.
	Undo(ctx context.Context, id string, ip netip.Addr) ([]manager.Active, error)
	// Extend moves deadlines (until zero with permanent: no end).
	Extend(ctx context.Context, id string, ip netip.Addr, until time.Time) ([]manager.Active, error)
	// Commands lists the pending and recent commands of an agent (every
	// agent when empty).
	Commands(agent string) []manager.CommandRecord
	// RunManual runs a response by hand (white list applied unless forced).
	RunManual(ctx context.Context, r api.ManualRun) (*api.ManualReport, error)

	// Audit returns audit records matching q, newest first, with the total
	// before paging.
	Audit(ctx context.Context, q AuditQuery) (items []AuditRecord, total int, err error)
	// Record appends a record of a change an API user made.
	Record(ctx context.Context, r AuditRecord)

	// Allowlist lists the white list: the configuration's entries and the
	// ones added through the API.
	Allowlist() []AllowEntry
	// Allow adds an entry (address, CIDR or host name) and lifts the
	// active responses it covers at once; it returns those lifted.
	Allow(ctx context.Context, entry, comment string) ([]manager.Active, error)
	// Disallow removes an entry added through the API (configuration
	// entries cannot be removed this way).
	Disallow(ctx context.Context, entry string) error

	// Ingest decides and runs (or, with DryRun, only decides) responses for
	// alerts, as the control socket's POST /v1/alerts.
	Ingest(ctx context.Context, alerts []*alert.Alert, opts api.IngestOptions) []api.AlertReport
	// Rejected counts alerts that could not be parsed.
	Rejected(n int)
	// Runs lists recent runs on this host, newest last.
	Runs() []execd.Result
	// Stats are the instance's counters.
	Stats() api.Stats
	// Config is the effective configuration, in ossec.conf form.
	Config() []byte

	// Changes returns a channel closed at the next change of agents,
	// active responses or runs, for live updates (server-sent events).
	Changes() <-chan struct{}
}

// ARCommand is one entry of the ar.conf Wazuh would write: an AR name, the
// executable it runs and its timeout (zero: stateless).
type ARCommand struct {
	Name       string        `json:"name"`    // "firewall-drop600", or "!script" for a custom one
	Command    string        `json:"command"` // the <command> name
	Executable string        `json:"executable"`
	Timeout    time.Duration `json:"timeout_ns"`
}

// ActiveQuery filters and pages active responses.
type ActiveQuery struct {
	Agent   string
	IP      netip.Prefix // zero: any; an address is a full-length prefix
	Command string
	Search  string // substring of id, agent, command or any key
	Offset  int
	Limit   int // 0: the API's default (500)
}

// AuditQuery filters and pages the audit trail (kind, agent, ip, command,
// user, since, until, offset, limit).
type AuditQuery = audit.Query

// AuditRecord is one entry of the audit trail: a decision, a command, a
// run's result, or a change an API user made (User set).
type AuditRecord = audit.Record

// AllowEntry is one white-list entry.
type AllowEntry struct {
	Entry   string    `json:"entry"`
	Source  string    `json:"source"` // "config" (file:line) or "api"
	Comment string    `json:"comment,omitempty"`
	AddedBy string    `json:"added_by,omitempty"`
	Added   time.Time `json:"added,omitzero"`
}
