package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MaxMessage bounds every message on the fleet subjects (Wazuh's OS_MAXSTR
// is 64 KiB for one response message; a command adds little to the alert).
const MaxMessage = 256 << 10

// CommandKind says what a command asks of an agent.
type CommandKind string

// Command kinds.
const (
	// KindRun runs a response's "add" (stateless, or stateful with a delete
	// after Timeout).
	KindRun CommandKind = "run"
	// KindUndo runs the delete of the active response Key now.
	KindUndo CommandKind = "undo"
	// KindExtend moves the deadline of the active response Key to Until.
	KindExtend CommandKind = "extend"
)

// Command is one instruction from the manager to one agent. It is durable
// until acknowledged, carries an id the agent uses to run it at most once
// and an expiry after which it must never run.
type Command struct {
	// ID is unique per command (and per agent: a response sent to ten
	// agents is ten commands).
	ID string `json:"id"`
	// Kind is run, undo or extend.
	Kind CommandKind `json:"kind"`
	// Agent is the target agent id.
	Agent string `json:"agent"`
	// Issued is when the manager created the command.
	Issued time.Time `json:"issued"`
	// Expires is when the command stops being valid. For a stateful run it
	// is Issued+Timeout: an agent that receives it later does not apply a
	// block whose whole timeout has already passed, and one that receives
	// it earlier applies it only for the time that remains.
	Expires time.Time `json:"expires"`
	// Origin is the manager's node name (origin.name of the script's JSON).
	Origin string `json:"origin,omitempty"`
	// DecisionID links the command to the decision that made it, if any.
	DecisionID string `json:"decision_id,omitempty"`

	// Name is the <command> name (for logs and the central state).
	Name string `json:"name,omitempty"`
	// Executable is the file in the agent's active-response/bin directory.
	Executable string `json:"executable,omitempty"`
	// Timeout makes a run stateful; zero for stateless.
	Timeout Duration `json:"timeout,omitempty"`
	// ExtraArgs go into parameters.extra_args.
	ExtraArgs []string `json:"extra_args,omitempty"`
	// Alert is the alert document, passed as parameters.alert.
	Alert json.RawMessage `json:"alert,omitempty"`
	// Ladder is the agent-local repeated-offender ladder in minutes; nil
	// when offenders are counted by the manager.
	Ladder []int `json:"ladder,omitempty"`

	// Key identifies the active response for undo and extend (the key the
	// agent reported in its result).
	Key string `json:"key,omitempty"`
	// Until is the new deadline for extend.
	Until time.Time `json:"until,omitzero"`
}

// Validate checks a command received from the wire.
func (c *Command) Validate() error {
	if c.ID == "" || len(c.ID) > 128 {
		return errors.New("command: missing or oversized id")
	}
	if err := ValidateAgentID(c.Agent); err != nil {
		return fmt.Errorf("command %s: %w", c.ID, err)
	}
	if c.Expires.IsZero() {
		return fmt.Errorf("command %s: no expiry", c.ID)
	}
	switch c.Kind {
	case KindRun:
		if !ValidExecutable(c.Executable) {
			return fmt.Errorf("command %s: invalid executable %q", c.ID, c.Executable)
		}
		if c.Timeout < 0 {
			return fmt.Errorf("command %s: negative timeout", c.ID)
		}
	case KindUndo, KindExtend:
		if c.Key == "" {
			return fmt.Errorf("command %s: %s without a key", c.ID, c.Kind)
		}
		if c.Kind == KindExtend && c.Until.IsZero() {
			return fmt.Errorf("command %s: extend without until", c.ID)
		}
	default:
		return fmt.Errorf("command %s: unknown kind %q", c.ID, c.Kind)
	}
	return nil
}

// ValidExecutable reports whether name is a plain file name fit for the
// bin directory: no path separator, no "..", no leading dot or dash, at most
// 255 bytes of letters, digits and ._-.
func ValidExecutable(name string) bool {
	if name == "" || len(name) > 255 || name[0] == '.' || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ResultKind distinguishes an acknowledgement from a run's result.
type ResultKind string

// Result kinds.
const (
	// Ack says the agent received the command and recorded it (Outcome
	// accepted), or will not run it (expired, duplicate, invalid,
	// disabled).
	Ack ResultKind = "ack"
	// Run is the result of one run of a script (an add or a delete).
	Run ResultKind = "run"
)

// Acknowledgement outcomes.
const (
	AckAccepted  = "accepted"  // recorded; it runs now
	AckExpired   = "expired"   // received after Expires; not run
	AckDuplicate = "duplicate" // already received; not run again
	AckInvalid   = "invalid"   // failed Validate; not run
	AckRefused   = "refused"   // the agent could not take it (closing, disabled)
)

// Result is what an agent publishes on its Result subject: the
// acknowledgement of a command, or the result of a run (including the
// deletes its own timers run, which have no command).
type Result struct {
	Kind ResultKind `json:"kind"`
	// CommandID is the command this result answers; empty for a delete
	// run by the agent's own timer.
	CommandID string `json:"command_id,omitempty"`
	// Outcome is the acknowledgement outcome (Ack) or the run's status
	// (Run: ok, aborted, failed, killed, not-found, error).
	Outcome string `json:"outcome"`
	// Note explains the outcome.
	Note string `json:"note,omitempty"`
	// Time is when the agent produced the result.
	Time time.Time `json:"time"`

	// The rest describe a run.
	Name       string   `json:"name,omitempty"`
	Executable string   `json:"executable,omitempty"`
	Verb       string   `json:"verb,omitempty"` // add or delete
	Key        string   `json:"key,omitempty"`  // the active response's key
	Keys       []string `json:"keys,omitempty"` // from check_keys
	ExitCode   int      `json:"exit_code,omitempty"`
	Duration   Duration `json:"duration,omitempty"`
	Stderr     string   `json:"stderr,omitempty"`
	// Timeout is the effective timeout of a stateful add that took effect;
	// the response is active until Started+Timeout.
	Timeout Duration  `json:"timeout,omitempty"`
	Started time.Time `json:"started,omitzero"`
	// Backend names how the response was carried out ("builtin" or
	// "script").
	Backend string `json:"backend,omitempty"`
}

// Heartbeat is what an agent publishes every heartbeat interval.
type Heartbeat struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	OS        string    `json:"os"`
	Arch      string    `json:"arch,omitempty"`
	Hostname  string    `json:"hostname,omitempty"`
	Addresses []string  `json:"addresses,omitempty"`
	Labels    []string  `json:"labels,omitempty"`
	Groups    []string  `json:"groups,omitempty"`
	Started   time.Time `json:"started"`
	Time      time.Time `json:"time"`
	// Hello is set on the first heartbeat after every (re)connection; the
	// manager answers it by sending again every command still pending for
	// the agent.
	Hello bool `json:"hello,omitempty"`
	// Active is how many stateful responses the agent holds.
	Active int `json:"active"`
}

// Events is a batch of log lines an agent collected from one source.
type Events struct {
	// Location is the source, as Wazuh's location field ("/var/log/auth.log",
	// "journald").
	Location string `json:"location"`
	// Format is the <localfile> log_format.
	Format string `json:"format,omitempty"`
	// Lines are the events, in order.
	Lines []string `json:"lines"`
}

// Agent is the manager's registry entry of an enrolled agent.
type Agent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// CertFingerprint is the SHA-256 of the agent's client certificate
	// (hex), which the broker checks at every connection.
	CertFingerprint string    `json:"cert_fingerprint,omitempty"`
	Enrolled        time.Time `json:"enrolled"`
	// RegisteredIP is the address the agent enrolled from.
	RegisteredIP string `json:"registered_ip,omitempty"`
	// Groups and Labels are given at enrollment (Wazuh's agent groups and
	// labels); the agent's heartbeats report its own in Last.
	Groups []string `json:"groups,omitempty"`
	Labels []string `json:"labels,omitempty"`
	// Revoked agents are refused by the broker and get no commands.
	Revoked bool `json:"revoked,omitempty"`
	// Last heartbeat's content and time.
	Last     Heartbeat `json:"last,omitzero"`
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// Duration is a time.Duration that travels as a Go duration string
// ("10m0s") and also reads a number of seconds.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("duration: want a string or a number of seconds: %s", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
