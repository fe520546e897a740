package users

import "fmt"

// Role is what a user may do.
type Role string

// Roles, from least to most privileged.
const (
	ReadOnly      Role = "readonly"
	Operator      Role = "operator"
	Administrator Role = "administrator"
)

// Action is a kind of request a role may be allowed.
type Action string

// Actions the API checks.
const (
	// Read is every GET: agents, responses, audit, white list,
	// configuration, runs, stats, users, the OpenAPI document, the stream.
	Read Action = "read"
	// Respond runs, lifts, extends or makes permanent active responses,
	// including Wazuh's PUT /active-response.
	Respond Action = "respond"
	// Ingest posts alerts, for real or as a dry run.
	Ingest Action = "ingest"
	// Allowlist adds or removes white-list entries.
	Allowlist Action = "allowlist"
	// RemoveAgent revokes an agent.
	RemoveAgent Action = "agents:remove"
	// ManageUsers adds and removes users and sets their passwords and
	// roles.
	ManageUsers Action = "users:manage"
)

// Allows reports whether the role may perform action. The table is
// explicit: an unknown role or action is refused.
//
//	action         readonly  operator  administrator
//	read           yes       yes       yes
//	respond        -         yes       yes
//	ingest         -         yes       yes
//	allowlist      -         yes       yes
//	agents:remove  -         -         yes
//	users:manage   -         -         yes
func (r Role) Allows(action Action) bool {
	switch action {
	case Read:
		return r.Valid()
	case Respond, Ingest, Allowlist:
		return r == Operator || r == Administrator
	case RemoveAgent, ManageUsers:
		return r == Administrator
	}
	return false
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool {
	return r == ReadOnly || r == Operator || r == Administrator
}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fmt.Errorf("role %q: want readonly, operator or administrator", s)
	}
	return r, nil
}
