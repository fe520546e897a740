package api

import (
	"errors"
	"time"

	"github.com/riposte/riposte/internal/fleet"
)

// ManualRun is a response run by hand (POST /api/v1/responses/run).
type ManualRun struct {
	// Agents are the target agent ids; All targets every agent instead.
	Agents []string `json:"agents,omitempty"`
	All    bool     `json:"all,omitempty"`
	// Command is a <command> name, or Wazuh's AR name (the command name
	// followed by a timeout in seconds, "firewall-drop600").
	Command string `json:"command"`
	// SrcIP is the address the response acts on.
	SrcIP string `json:"srcip"`
	// User is the account the response acts on (data.dstuser), if any.
	User string `json:"user,omitempty"`
	// Timeout in seconds makes the response stateful; nil takes the one in
	// an AR name, or none.
	Timeout *int `json:"timeout,omitempty"`
	// Force runs even when the white list covers SrcIP.
	Force bool `json:"force,omitempty"`
}

// ManualReport says where a manual run went.
type ManualReport struct {
	Command  string            `json:"command"`
	Timeout  int               `json:"timeout"`
	Delivery map[string]string `json:"delivery"`
}

// UndoRequest selects active responses to lift (POST
// /api/v1/responses/undo): an active response id, or an address.
type UndoRequest struct {
	ID string `json:"id,omitempty"`
	IP string `json:"ip,omitempty"`
}

// ExtendRequest is the body of POST /api/v1/responses/extend: which responses
// (as UndoRequest) and the new deadline, given as Until or as By from now.
type ExtendRequest struct {
	ID    string         `json:"id,omitempty"`
	IP    string         `json:"ip,omitempty"`
	Until time.Time      `json:"until,omitzero"`
	By    fleet.Duration `json:"by,omitempty"`
}

// ErrBadRequest marks errors of a backend method caused by the request (an
// unknown agent, a white-listed address): they are answered 400.
var ErrBadRequest = errors.New("bad request")

// ErrNotFound marks errors of a backend method about something that does not
// exist: they are answered 404.
var ErrNotFound = errors.New("not found")
