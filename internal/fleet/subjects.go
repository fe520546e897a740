package fleet

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultPrefix is the first token of every subject.
const DefaultPrefix = "riposte"

// ManagerID is the agent id of the manager itself, as in Wazuh.
const ManagerID = "000"

// Names of the JetStream key-value buckets and streams of the manager's
// state. A NATS cluster replicates them; nothing else is stored elsewhere.
const (
	// BucketAgents maps agent id → Agent (the registry).
	BucketAgents = "riposte_agents"
	// BucketCommands maps "<agent>.<command id>" → the manager's record of
	// a command (fleet/manager.CommandRecord): every pending command, and
	// finished ones for a while.
	BucketCommands = "riposte_commands"
	// BucketActive maps "<agent>.<key hash>" → fleet/manager.Active for
	// every stateful response active on an agent.
	BucketActive = "riposte_active"
	// BucketOffenders maps an address (dots and colons replaced, see
	// fleet/manager.OffenderKey) → its offense count, for central
	// repeat-offender counting.
	BucketOffenders = "riposte_offenders"
	// StreamAudit keeps every acknowledgement, result and record of the
	// manager (audit subjects) for later queries.
	StreamAudit = "RIPOSTE_AUDIT"
)

// Subjects builds the subjects of one deployment. The zero value uses
// DefaultPrefix.
type Subjects struct {
	// Prefix is the first token; it must be a valid NATS token.
	Prefix string
}

func (s Subjects) p() string {
	if s.Prefix == "" {
		return DefaultPrefix
	}
	return s.Prefix
}

// Command is where the manager sends commands for one agent; only that
// agent may subscribe to it.
func (s Subjects) Command(agent string) string { return s.p() + ".cmd." + agent }

// Result is where an agent publishes acknowledgements and run results.
func (s Subjects) Result(agent string) string { return s.p() + ".result." + agent }

// Heartbeat is where an agent publishes its heartbeats.
func (s Subjects) Heartbeat(agent string) string { return s.p() + ".hb." + agent }

// Events is where an agent publishes the log lines it collects.
func (s Subjects) Events(agent string) string { return s.p() + ".events." + agent }

// Audit is where the manager publishes its own records (decisions, commands
// issued, expired or undeliverable) for the audit stream.
func (s Subjects) Audit(kind string) string { return s.p() + ".audit." + kind }

// AllResults matches Result of every agent.
func (s Subjects) AllResults() string { return s.p() + ".result.*" }

// AllHeartbeats matches Heartbeat of every agent.
func (s Subjects) AllHeartbeats() string { return s.p() + ".hb.*" }

// AllEvents matches Events of every agent.
func (s Subjects) AllEvents() string { return s.p() + ".events.*" }

// AllAudit matches every Audit subject.
func (s Subjects) AllAudit() string { return s.p() + ".audit.>" }

// AgentOf returns the agent id that is the last token of subject, as
// published by Result, Heartbeat or Events. The manager takes an agent's
// identity from the subject (which the broker's permissions guarantee),
// never from a message body.
func AgentOf(subject string) string {
	i := strings.LastIndexByte(subject, '.')
	return subject[i+1:]
}

// AgentPermissions returns what agent id may publish and subscribe to:
// publish its own results, heartbeats and events; subscribe to its own
// commands. Nothing else, so an agent can neither read another agent's
// commands nor forge another agent's results.
func (s Subjects) AgentPermissions(id string) (publish, subscribe []string) {
	return []string{s.Result(id), s.Heartbeat(id), s.Events(id)}, []string{s.Command(id)}
}

// ErrAgentID reports an agent id that is not 3 to 8 decimal digits.
var ErrAgentID = errors.New("agent id must be 3 to 8 decimal digits")

// ValidateAgentID checks an agent id: 3 to 8 decimal digits, as Wazuh's
// ids ("001"), so it is always a safe subject token and file name.
func ValidateAgentID(id string) error {
	if len(id) < 3 || len(id) > 8 {
		return fmt.Errorf("%q: %w", id, ErrAgentID)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return fmt.Errorf("%q: %w", id, ErrAgentID)
		}
	}
	return nil
}

// FormatAgentID formats the n-th agent id as Wazuh does: at least three
// digits, zero-padded.
func FormatAgentID(n int) string { return fmt.Sprintf("%03d", n) }
