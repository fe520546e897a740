package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
)

// Fleet is what the control socket serves about a manager's agents and the
// responses active on them.
type Fleet interface {
	// Agents lists the agents, the manager (000) first.
	Agents() []manager.AgentStatus
	// RemoveAgent revokes an agent at once.
	RemoveAgent(ctx context.Context, id string) error
	// Active lists the responses active on the agents.
	Active(f manager.Filter) []manager.Active
	// Undo lifts the active response id, or every one for ip.
	Undo(ctx context.Context, id string, ip netip.Addr) ([]manager.Active, error)
	// Extend moves the deadline of the active response id, or of every one
	// for ip.
	Extend(ctx context.Context, id string, ip netip.Addr, until time.Time) ([]manager.Active, error)
	// Commands lists the pending and recent commands of an agent (all
	// agents when empty).
	Commands(agent string) []manager.CommandRecord
	// RunManual runs a response by hand, as Wazuh's agent_control -b.
	RunManual(ctx context.Context, r ManualRun) (*ManualReport, error)
}

// ManualRun is the body of POST /v1/ar/run.
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

// UndoRequest is the body of POST /v1/responses/undo: an active response
// id, or an address.
type UndoRequest struct {
	ID string `json:"id,omitempty"`
	IP string `json:"ip,omitempty"`
}

// ExtendRequest is the body of POST /v1/responses/extend: which responses
// (as UndoRequest) and the new deadline, given as Until or as By from now.
type ExtendRequest struct {
	ID    string         `json:"id,omitempty"`
	IP    string         `json:"ip,omitempty"`
	Until time.Time      `json:"until,omitzero"`
	By    fleet.Duration `json:"by,omitempty"`
}

// ErrBadRequest marks errors of a Fleet method caused by the request (an
// unknown agent, a white-listed address): they are answered 400.
var ErrBadRequest = errors.New("bad request")

// ErrNotFound marks errors of a Fleet method about something that does not
// exist: they are answered 404.
var ErrNotFound = errors.New("not found")

func (s *server) fleetRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/agents", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.fleet.Agents())
	})
	mux.HandleFunc("DELETE /v1/agents/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := fleet.ValidateAgentID(id); err != nil {
			writeJSON(w, http.StatusBadRequest, ErrorBody{Error: err.Error()})
			return
		}
		if err := s.fleet.RemoveAgent(r.Context(), id); err != nil {
			s.fleetError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"removed": id})
	})
	mux.HandleFunc("GET /v1/responses", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := manager.Filter{Agent: q.Get("agent"), Command: q.Get("command")}
		if v := q.Get("ip"); v != "" {
			ip, err := netip.ParseAddr(v)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, ErrorBody{Error: fmt.Sprintf("ip %q is not an IP address", v)})
				return
			}
			f.IP = ip
		}
		writeJSON(w, http.StatusOK, s.fleet.Active(f))
	})
	mux.HandleFunc("POST /v1/responses/undo", func(w http.ResponseWriter, r *http.Request) {
		var req UndoRequest
		if !decodeBody(w, r, &req) {
			return
		}
		ip, ok := selector(w, req.ID, req.IP)
		if !ok {
			return
		}
		done, err := s.fleet.Undo(r.Context(), req.ID, ip)
		if err != nil {
			s.fleetError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, done)
	})
	mux.HandleFunc("POST /v1/responses/extend", func(w http.ResponseWriter, r *http.Request) {
		var req ExtendRequest
		if !decodeBody(w, r, &req) {
			return
		}
		ip, ok := selector(w, req.ID, req.IP)
		if !ok {
			return
		}
		until := req.Until
		if until.IsZero() {
			if req.By <= 0 {
				writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "give until (a time) or by (a positive duration)"})
				return
			}
			until = time.Now().Add(req.By.D())
		}
		done, err := s.fleet.Extend(r.Context(), req.ID, ip, until)
		if err != nil {
			s.fleetError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, done)
	})
	mux.HandleFunc("GET /v1/commands", func(w http.ResponseWriter, r *http.Request) {
		agent := r.URL.Query().Get("agent")
		if agent != "" {
			if err := fleet.ValidateAgentID(agent); err != nil {
				writeJSON(w, http.StatusBadRequest, ErrorBody{Error: err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, s.fleet.Commands(agent))
	})
	mux.HandleFunc("POST /v1/ar/run", func(w http.ResponseWriter, r *http.Request) {
		var req ManualRun
		if !decodeBody(w, r, &req) {
			return
		}
		if req.All == (len(req.Agents) > 0) {
			writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "give agents or all, not both or neither"})
			return
		}
		for _, a := range req.Agents {
			if err := fleet.ValidateAgentID(a); err != nil {
				writeJSON(w, http.StatusBadRequest, ErrorBody{Error: err.Error()})
				return
			}
		}
		rep, err := s.fleet.RunManual(r.Context(), req)
		if err != nil {
			s.fleetError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
}

// selector checks that exactly one of id and ip is given and parses ip.
func selector(w http.ResponseWriter, id, ip string) (netip.Addr, bool) {
	if (id == "") == (ip == "") {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "give the id of an active response or an ip, not both or neither"})
		return netip.Addr{}, false
	}
	if ip == "" {
		return netip.Addr{}, true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: fmt.Sprintf("ip %q is not an IP address", ip)})
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// decodeBody reads a small JSON body into v, answering 400 when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "bad request body: " + err.Error()})
		return false
	}
	return true
}

func (s *server) fleetError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	}
	if code == http.StatusInternalServerError {
		s.log.Error("fleet request failed", "err", err)
	}
	writeJSON(w, code, ErrorBody{Error: err.Error()})
}
