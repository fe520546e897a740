package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
	"github.com/riposte/riposte/internal/users"
)

// Paging of Riposte's own lists.
const (
	defaultLimit = 500
	maxLimit     = 5000
)

// change records a change a user made in the audit trail, with its outcome.
func (s *Server) change(r *http.Request, rec AuditRecord, err error) {
	rec.Time = time.Now().UTC()
	rec.Kind = "change"
	rec.User = who(r)
	rec.Outcome = "ok"
	if err != nil {
		rec.Outcome = "failed: " + err.Error()
	}
	s.b.Record(changeCtx(r), rec)
}

// changeCtx is the context of a change: the request's values (its user)
// without its cancellation, so a client that leaves does not cut a change
// half-way.
func changeCtx(r *http.Request) context.Context {
	return context.WithoutCancel(r.Context())
}

func (s *Server) getAgents(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, r, http.StatusOK, listOf(s.b.Agents()))
	return nil
}

func (s *Server) getCommands(w http.ResponseWriter, r *http.Request) error {
	agent := r.URL.Query().Get("agent")
	if agent != "" {
		if err := fleet.ValidateAgentID(agent); err != nil {
			return badRequest("agent: %v", err)
		}
	}
	writeJSON(w, r, http.StatusOK, listOf(s.b.Commands(agent)))
	return nil
}

func listOf[T any](items []T) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items, Total: len(items)}
}

func (s *Server) deleteAgent(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := fleet.ValidateAgentID(id); err != nil {
		return badRequest("agent id: %v", err)
	}
	if id == "000" {
		return &Error{Status: http.StatusBadRequest, Code: errManager.Code, Detail: errManager.Message, Remediation: "the manager cannot be removed"}
	}
	err := s.b.RemoveAgent(changeCtx(r), id)
	s.change(r, AuditRecord{Agent: id, Note: "agent removed"}, err)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, removed{Removed: id})
	return nil
}

// parseIPOrPrefix reads an address (a full-length prefix) or a CIDR.
func parseIPOrPrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, badRequest("ip: '%s' is not an address or CIDR", v)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, badRequest("ip: '%s' is not an address or CIDR", v)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func checkAgentParam(v string) error {
	if v == "" {
		return nil
	}
	if err := fleet.ValidateAgentID(v); err != nil {
		return badRequest("agent: %v", err)
	}
	return nil
}

func (s *Server) getResponses(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	offset, limit, err := paging(qv.Get("offset"), qv.Get("limit"), defaultLimit, maxLimit)
	if err != nil {
		return err
	}
	f := ActiveQuery{Agent: qv.Get("agent"), Command: qv.Get("command"), Search: qv.Get("q"), Offset: offset, Limit: limit}
	if err := checkAgentParam(f.Agent); err != nil {
		return err
	}
	if v := qv.Get("ip"); v != "" {
		if f.IP, err = parseIPOrPrefix(v); err != nil {
			return err
		}
	}
	items, total := s.b.Active(f)
	if items == nil {
		items = []manager.Active{}
	}
	writeJSON(w, r, http.StatusOK, page[manager.Active]{Items: items, Total: total, Offset: offset, Limit: limit})
	return nil
}

// selector checks that exactly one of id and ip is given and parses ip.
func selector(id, ip string) (netip.Addr, error) {
	if (id == "") == (ip == "") {
		return netip.Addr{}, badRequest("give the id of an active response or an ip, not both or neither")
	}
	if ip == "" {
		if len(id) > 128 {
			return netip.Addr{}, badRequest("id: longer than 128 bytes")
		}
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Addr{}, badRequest("ip: '%s' is not an IP address", ip)
	}
	return a.Unmap(), nil
}

func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func (s *Server) postUndo(w http.ResponseWriter, r *http.Request) error {
	var req api.UndoRequest
	if err := decodeJSON(r, &req, true); err != nil {
		return err
	}
	return s.onActive(w, r, req.ID, req.IP, "undo %s: %d lifted", func(ctx context.Context, ip netip.Addr) ([]manager.Active, error) {
		return s.b.Undo(ctx, req.ID, ip)
	})
}

func (s *Server) postExtend(w http.ResponseWriter, r *http.Request) error {
	var req api.ExtendRequest
	if err := decodeJSON(r, &req, true); err != nil {
		return err
	}
	now := time.Now()
	until := req.Until
	switch {
	case !until.IsZero() && req.By != 0:
		return badRequest("give until or by, not both")
	case until.IsZero() && req.By <= 0:
		return badRequest("give until (an RFC 3339 time) or by (a positive duration)")
	case until.IsZero():
		until = now.Add(req.By.D())
	case !until.After(now):
		return badRequest("until: %s is not in the future", until.Format(time.RFC3339))
	}
	note := "extend %s until " + until.UTC().Format(time.RFC3339) + ": %d extended"
	return s.onActive(w, r, req.ID, req.IP, note, func(ctx context.Context, ip netip.Addr) ([]manager.Active, error) {
		return s.b.Extend(ctx, req.ID, ip, until)
	})
}

// postPermanent makes active responses permanent: Backend.Extend with a
// zero deadline, which the backend keeps until an undo.
func (s *Server) postPermanent(w http.ResponseWriter, r *http.Request) error {
	var req api.UndoRequest
	if err := decodeJSON(r, &req, true); err != nil {
		return err
	}
	return s.onActive(w, r, req.ID, req.IP, "make permanent %s: %d made permanent", func(ctx context.Context, ip netip.Addr) ([]manager.Active, error) {
		return s.b.Extend(ctx, req.ID, ip, time.Time{})
	})
}

// onActive applies change to the active responses selected by id or ip,
// records it in the audit trail (note formats the selection and how many
// were changed) and answers those changed.
func (s *Server) onActive(w http.ResponseWriter, r *http.Request, id, rawIP, note string,
	change func(context.Context, netip.Addr) ([]manager.Active, error)) error {
	ip, err := selector(id, rawIP)
	if err != nil {
		return err
	}
	done, err := change(changeCtx(r), ip)
	s.change(r, AuditRecord{IP: ipString(ip), Note: fmt.Sprintf(note, id+ipString(ip), len(done))}, err)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, listOf(done))
	return nil
}

func (s *Server) postRun(w http.ResponseWriter, r *http.Request) error {
	var req api.ManualRun
	if err := decodeJSON(r, &req, true); err != nil {
		return err
	}
	if req.All == (len(req.Agents) > 0) {
		return badRequest("give agents or all, not both or neither")
	}
	if len(req.Agents) > MaxAgentsList {
		return badRequest("agents: %d ids, at most %d are accepted", len(req.Agents), MaxAgentsList)
	}
	for _, a := range req.Agents {
		if err := fleet.ValidateAgentID(a); err != nil {
			return badRequest("agents: %v", err)
		}
	}
	if req.Command == "" {
		return badRequest("command: required")
	}
	if !fleet.ValidExecutable(req.Command) {
		return badRequest("command: '%s' is not a command name", req.Command)
	}
	if req.SrcIP != "" {
		if _, err := netip.ParseAddr(req.SrcIP); err != nil {
			return badRequest("srcip: '%s' is not an IP address", req.SrcIP)
		}
	}
	if req.Timeout != nil && *req.Timeout < 0 {
		return badRequest("timeout: must not be negative")
	}
	rep, err := s.b.RunManual(changeCtx(r), req)
	target := strings.Join(req.Agents, ",")
	if req.All {
		target = "all agents"
	}
	s.change(r, AuditRecord{Command: req.Command, IP: req.SrcIP, Note: fmt.Sprintf("run %s on %s", req.Command, target)}, err)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, rep)
	return nil
}

func parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badRequest("%s: '%s' is not an RFC 3339 time (2006-01-02T15:04:05Z)", name, v)
	}
	return t, nil
}

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	offset, limit, err := paging(qv.Get("offset"), qv.Get("limit"), defaultLimit, maxLimit)
	if err != nil {
		return err
	}
	aq := AuditQuery{Kind: qv.Get("kind"), Agent: qv.Get("agent"), IP: qv.Get("ip"), Command: qv.Get("command"),
		User: qv.Get("user"), Offset: offset, Limit: limit}
	if err := checkAgentParam(aq.Agent); err != nil {
		return err
	}
	if aq.IP != "" {
		a, err := netip.ParseAddr(aq.IP)
		if err != nil {
			return badRequest("ip: '%s' is not an IP address", aq.IP)
		}
		aq.IP = a.Unmap().String()
	}
	if aq.Since, err = parseTime("since", qv.Get("since")); err != nil {
		return err
	}
	if aq.Until, err = parseTime("until", qv.Get("until")); err != nil {
		return err
	}
	items, total, err := s.b.Audit(r.Context(), aq)
	if err != nil {
		return err
	}
	if items == nil {
		items = []AuditRecord{}
	}
	writeJSON(w, r, http.StatusOK, page[AuditRecord]{Items: items, Total: total, Offset: offset, Limit: limit})
	return nil
}

func (s *Server) getAllowlist(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, r, http.StatusOK, listOf(s.b.Allowlist()))
	return nil
}

// allowRequest is the body of POST /api/v1/allowlist.
type allowRequest struct {
	Entry   string `json:"entry"`
	Comment string `json:"comment,omitempty"`
}

// allowResult answers POST /api/v1/allowlist: the entry and the active
// responses it lifted.
type allowResult struct {
	Entry  string           `json:"entry"`
	Lifted []manager.Active `json:"lifted"`
}

func checkEntry(e string) error {
	if e == "" {
		return badRequest("entry: required")
	}
	if len(e) > 255 {
		return badRequest("entry: longer than 255 bytes")
	}
	for _, c := range e {
		if c <= ' ' || c == 0x7f {
			return badRequest("entry: contains a space or control character")
		}
	}
	return nil
}

func (s *Server) postAllowlist(w http.ResponseWriter, r *http.Request) error {
	var req allowRequest
	if err := decodeJSON(r, &req, true); err != nil {
		return err
	}
	if err := checkEntry(req.Entry); err != nil {
		return err
	}
	if len(req.Comment) > 1024 {
		return badRequest("comment: longer than 1024 bytes")
	}
	lifted, err := s.b.Allow(changeCtx(r), req.Entry, req.Comment)
	s.change(r, AuditRecord{IP: req.Entry, Note: fmt.Sprintf("allowlist add %s (%d lifted)", req.Entry, len(lifted))}, err)
	if err != nil {
		return err
	}
	if lifted == nil {
		lifted = []manager.Active{}
	}
	writeJSON(w, r, http.StatusCreated, allowResult{Entry: req.Entry, Lifted: lifted})
	return nil
}

func (s *Server) deleteAllowlist(w http.ResponseWriter, r *http.Request) error {
	entry := r.URL.Query().Get("entry")
	if err := checkEntry(entry); err != nil {
		return err
	}
	err := s.b.Disallow(changeCtx(r), entry)
	s.change(r, AuditRecord{IP: entry, Note: "allowlist remove " + entry}, err)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, removed{Removed: entry})
	return nil
}

func (s *Server) postAlerts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	return s.ingest(w, r, api.IngestOptions{Explain: isTrue(q.Get("explain")), DryRun: isTrue(q.Get("dry_run"))})
}

func (s *Server) postDryRun(w http.ResponseWriter, r *http.Request) error {
	return s.ingest(w, r, api.IngestOptions{Explain: isTrue(r.URL.Query().Get("explain")), DryRun: true})
}

// ingest parses a batch of alerts and hands it to the backend. A batch with
// any malformed alert is refused whole, naming each bad one.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, opts api.IngestOptions) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.b.Rejected(1)
			return &Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("request body larger than %d bytes", MaxBody)}
		}
		return badRequest("reading request body: %v", err)
	}
	alerts, errs := alert.ParseBatch(body)
	if len(errs) > 0 {
		s.b.Rejected(len(errs))
		e := badRequest("%d of %d alerts are malformed; none was accepted", len(errs), len(errs)+len(alerts))
		for _, ie := range errs {
			e.Items = append(e.Items, api.ItemError{Item: ie.Item, Line: ie.Line, Error: ie.Err.Error()})
		}
		return e
	}
	if len(alerts) == 0 {
		return badRequest("no alert in the request body")
	}
	reports := s.b.Ingest(changeCtx(r), alerts, opts)
	if !opts.DryRun {
		s.change(r, AuditRecord{Note: fmt.Sprintf("%d alerts posted", len(alerts))}, nil)
	}
	if reports == nil {
		reports = []api.AlertReport{}
	}
	writeJSON(w, r, http.StatusOK, api.IngestResponse{Accepted: len(alerts), Results: reports})
	return nil
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write(s.b.Config())
	return nil
}

func (s *Server) getRuns(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, r, http.StatusOK, listOf(s.b.Runs()))
	return nil
}

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, r, http.StatusOK, s.b.Stats())
	return nil
}

func (s *Server) getUsers(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, r, http.StatusOK, listOf(s.users.List()))
	return nil
}

// newUser is the body of POST /api/v1/users.
type newUser struct {
	Name     string     `json:"name"`
	Password string     `json:"password"`
	Role     users.Role `json:"role"`
}

func (s *Server) postUser(w http.ResponseWriter, r *http.Request) error {
	var req newUser
	if err := decodeJSON(r, &req, true); err != nil {
		return err
	}
	if _, err := users.ParseRole(string(req.Role)); err != nil {
		return badRequest("role: %v", err)
	}
	err := s.users.Add(req.Name, req.Password, req.Role)
	s.change(r, AuditRecord{Note: fmt.Sprintf("user %s added (%s)", req.Name, req.Role)}, err)
	if err != nil {
		return err
	}
	u, err := s.users.Get(req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusCreated, u)
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	err := s.users.Remove(name)
	s.change(r, AuditRecord{Note: "user " + name + " removed"}, err)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, removed{Removed: name})
	return nil
}

// passwordChange is the body of PUT /api/v1/users/{name}/password.
type passwordChange struct {
	Password string `json:"password"`
	// CurrentPassword is required when users change their own password
	// without the users:manage right.
	CurrentPassword string `json:"current_password,omitempty"`
}

func (s *Server) putPassword(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var req passwordChange
	if err := decodeJSON(r, &req, true); err != nil {
		return err
	}
	me, _ := UserFrom(r.Context())
	if !me.Role.Allows(users.ManageUsers) {
		if me.Name != name {
			return &Error{Status: http.StatusForbidden, Code: 4000, Detail: "Permission denied",
				Remediation: "only administrators may set another user's password"}
		}
		if _, err := s.users.Authenticate(name, req.CurrentPassword); err != nil {
			return &Error{Status: http.StatusForbidden, Code: 4000, Detail: "Permission denied",
				Remediation: "current_password is wrong or missing"}
		}
	}
	err := s.users.SetPassword(name, req.Password)
	s.change(r, AuditRecord{Note: "password of " + name + " changed"}, err)
	if err != nil {
		return err
	}
	u, err := s.users.Get(name)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, u)
	return nil
}

// roleChange is the body of PUT /api/v1/users/{name}/role.
type roleChange struct {
	Role users.Role `json:"role"`
}

func (s *Server) putRole(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var req roleChange
	if err := decodeJSON(r, &req, true); err != nil {
		return err
	}
	if _, err := users.ParseRole(string(req.Role)); err != nil {
		return badRequest("role: %v", err)
	}
	err := s.users.SetRole(name, req.Role)
	s.change(r, AuditRecord{Note: fmt.Sprintf("role of %s set to %s", name, req.Role)}, err)
	if err != nil {
		return err
	}
	u, err := s.users.Get(name)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, u)
	return nil
}
