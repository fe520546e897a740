package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
)

// MaxAgentsList bounds the ids of an agents_list query parameter.
const MaxAgentsList = 10000

// wazuhDocs is the documentation version in Wazuh's remediation texts.
const wazuhDocs = "4.9"

// wazuhErr is one of Wazuh's error codes with its message and remediation
// (framework/wazuh/core/exception.py).
type wazuhErr struct {
	Code        int    `json:"code"`
	Message     string `json:"message"`
	Remediation string `json:"remediation,omitempty"`
}

var (
	errCommandNotSpecified = wazuhErr{Code: 1650, Message: "Active response - Command not specified"}
	errUnableToRun         = wazuhErr{Code: 1652, Message: "Active response - Unable to run command"}
	errAgentNotExist       = wazuhErr{Code: 1701, Message: "Agent does not exist",
		Remediation: "Please, use `GET /agents?select=id,name` to find all available agents"}
	errManager = wazuhErr{Code: 1703, Message: "Action not available for Manager (agent 000)",
		Remediation: "Please, use `GET /agents?select=id,name` to find all available agents and make sure you select an agent other than 000"}
	errNotActive = wazuhErr{Code: 1707, Message: "Cannot send request, agent is not active",
		Remediation: "Please, check non-active agents connection and try again. Visit https://documentation.wazuh.com/" + wazuhDocs +
			"/user-manual/registering/index.html and https://documentation.wazuh.com/" + wazuhDocs +
			"/user-manual/agents/agent-connection.html to obtain more information on registering and connecting agents"}
	errARDisabled = wazuhErr{Code: 1750, Message: "Could not send restart command, active-response is disabled in the agent",
		Remediation: "You can activate it in agents' `WAZUH_HOME/etc/ossec.conf`"}
	errSelect = wazuhErr{Code: 1724, Message: "Not a valid select field", Remediation: "Please, use only allowed select fields"}
)

// wazuhResult is Wazuh's answer for operations on several items.
type wazuhResult[T any] struct {
	Data    wazuhData[T] `json:"data"`
	Message string       `json:"message"`
	Error   int          `json:"error"`
}

type wazuhData[T any] struct {
	AffectedItems      []T          `json:"affected_items"`
	TotalAffectedItems int          `json:"total_affected_items"`
	TotalFailedItems   int          `json:"total_failed_items"`
	FailedItems        []failedItem `json:"failed_items"`
}

// failedItem is a group of ids that failed with the same error.
type failedItem struct {
	Error wazuhErr `json:"error"`
	ID    []string `json:"id"`
}

// failures groups failed ids by error, in order of first appearance.
type failures struct {
	items []failedItem
	n     int
}

func (f *failures) add(e wazuhErr, id string) {
	f.n++
	for i := range f.items {
		if f.items[i].Error == e {
			f.items[i].ID = append(f.items[i].ID, id)
			return
		}
	}
	f.items = append(f.items, failedItem{Error: e, ID: []string{id}})
}

// result builds a wazuhResult with Wazuh's error number: 0 when nothing
// failed, 2 when some failed, 1 when all failed.
func result[T any](affected []T, total int, f failures, all, some, none string) wazuhResult[T] {
	res := wazuhResult[T]{Data: wazuhData[T]{AffectedItems: affected, TotalAffectedItems: total,
		TotalFailedItems: f.n, FailedItems: f.items}}
	if res.Data.AffectedItems == nil {
		res.Data.AffectedItems = []T{}
	}
	if res.Data.FailedItems == nil {
		res.Data.FailedItems = []failedItem{}
	}
	switch {
	case f.n == 0 && len(affected) > 0:
		res.Message = all
	case f.n > 0 && len(affected) > 0:
		res.Message, res.Error = some, 2
	case f.n > 0:
		res.Message, res.Error = none, 1
	default:
		res.Message = none
	}
	return res
}

// authenticate is POST /security/user/authenticate: HTTP basic credentials
// for a token.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) error {
	from := remoteAddr(r.RemoteAddr)
	if s.login.blocked(from, time.Now()) {
		return &Error{Status: http.StatusForbidden, Code: 6000,
			Detail: "Limit of login attempts reached. The current IP has been blocked due to a high number of login attempts"}
	}
	name, pw, ok := r.BasicAuth()
	if !ok {
		s.login.fail(from, time.Now())
		return &Error{Status: http.StatusUnauthorized, Detail: "Invalid credentials"}
	}
	u, err := s.users.Authenticate(name, pw)
	if err != nil {
		s.login.fail(from, time.Now())
		s.log.Warn("login failed", "user", name, "remote", r.RemoteAddr)
		return &Error{Status: http.StatusUnauthorized, Detail: "Invalid credentials"}
	}
	s.login.succeed(from)
	tok, _, err := s.users.Issue(u)
	if err != nil {
		return err
	}
	if isTrue(r.URL.Query().Get("raw")) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(tok))
		return nil
	}
	var res wazuhTokenResult
	res.Data.Token = tok
	writeJSON(w, r, http.StatusOK, res)
	return nil
}

// arBody is the body of PUT /active-response.
type arBody struct {
	Command   *string         `json:"command"`
	Arguments []string        `json:"arguments,omitempty"`
	Alert     json.RawMessage `json:"alert,omitempty"`
}

// arCommandFormat is Wazuh's active_response_command format.
var arCommandFormat = regexp.MustCompile(`^!?[\w\-.\\/:]+$`)

// checkARCommandFormat applies Wazuh's format check, answered 400 before
// anything else.
func checkARCommandFormat(c string) error {
	if c == "" {
		return nil // 1650, per agent
	}
	if !arCommandFormat.MatchString(c) {
		return badRequest("'%s' is not a 'active_response_command': it must match %s", c, arCommandFormat)
	}
	for _, bad := range []string{"../", `..\`, "/..", `\..`} {
		if strings.Contains(c, bad) {
			return badRequest("'%s' is not a 'active_response_command': it must not contain %q", c, bad)
		}
	}
	return nil
}

// parseAgentsList reads agents_list: nil for all agents ("*" or absent).
func parseAgentsList(v string) ([]string, error) {
	if v == "" || v == "*" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	if len(parts) > MaxAgentsList {
		return nil, badRequest("agents_list: %d ids, at most %d are accepted", len(parts), MaxAgentsList)
	}
	ids := make([]string, 0, len(parts))
	seen := make(map[string]bool, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if err := fleet.ValidateAgentID(p); err != nil {
			if len(p) > 20 {
				p = p[:20] + "..."
			}
			return nil, badRequest("agents_list: '%s' is not a valid agent id (3 to 8 digits)", p)
		}
		if !seen[p] {
			seen[p] = true
			ids = append(ids, p)
		}
	}
	return ids, nil
}

// putActiveResponse is Wazuh's PUT /active-response.
func (s *Server) putActiveResponse(w http.ResponseWriter, r *http.Request) error {
	ids, err := parseAgentsList(r.URL.Query().Get("agents_list"))
	if err != nil {
		return err
	}
	var body arBody
	if err := decodeJSON(r, &body, false); err != nil {
		return err
	}
	if body.Command == nil {
		return badRequest("'command' is a required property")
	}
	command := *body.Command
	if err := checkARCommandFormat(command); err != nil {
		return err
	}
	alertDoc := body.Alert
	if len(alertDoc) == 0 || string(alertDoc) == "null" {
		alertDoc = json.RawMessage("{}")
	} else if alertDoc[0] != '{' {
		return badRequest("alert: must be an object")
	}

	agents := s.b.Agents()
	byID := make(map[string]manager.AgentStatus, len(agents))
	for _, a := range agents {
		if a.Status != "revoked" {
			byID[a.ID] = a
		}
	}
	all := ids == nil
	if all {
		for _, a := range agents {
			if _, ok := byID[a.ID]; ok {
				ids = append(ids, a.ID)
			}
		}
	}

	// The command, when valid; its error otherwise (checked per agent after
	// the agent's own checks, as Wazuh does).
	var (
		cmd    ARCommand
		cmdErr *wazuhErr
	)
	switch {
	case command == "":
		cmdErr = &errCommandNotSpecified
	case strings.HasPrefix(command, "!"):
		name := command[1:]
		if !fleet.ValidExecutable(name) {
			cmdErr = &errUnableToRun
		}
		cmd = ARCommand{Name: command, Command: name, Executable: name}
	default:
		c, ok := s.b.ARNames()[command]
		if !ok {
			cmdErr = &errUnableToRun
		}
		cmd = c
	}

	var f failures
	var targets []string
	for _, id := range ids {
		a, ok := byID[id]
		switch {
		case !ok:
			if !all {
				f.add(errAgentNotExist, id)
			}
		case id == "000":
			if !all {
				f.add(errManager, id)
			}
		case a.Status != "active":
			f.add(errNotActive, id)
		case s.b.ARDisabled(id):
			f.add(errARDisabled, id)
		case cmdErr != nil:
			f.add(*cmdErr, id)
		default:
			targets = append(targets, id)
		}
	}
	var affected []string
	if len(targets) > 0 {
		delivery := s.b.Send(changeCtx(r), targets, cmd, body.Arguments, alertDoc)
		for _, id := range targets {
			switch d := delivery[id]; d {
			case manager.Sent, manager.Queued:
				affected = append(affected, id)
			case "":
				f.add(wazuhErr{Code: 1000, Message: "Wazuh Internal Error", Remediation: "no delivery reported"}, id)
			default:
				f.add(wazuhErr{Code: 1000, Message: "Wazuh Internal Error", Remediation: d}, id)
			}
		}
		var err error
		if len(affected) < len(targets) {
			err = fmt.Errorf("delivered to %d of %d agents", len(affected), len(targets))
		}
		s.change(r, AuditRecord{Command: cmd.Name,
			Note: fmt.Sprintf("PUT /active-response %s to %s", command, strings.Join(targets, ","))}, err)
	}
	writeJSON(w, r, http.StatusOK, result(affected, len(affected), f,
		"AR command was sent to all agents", "AR command was not sent to some agents", "AR command was not sent to any agent"))
	return nil
}

// wazuhAgent is an agent as Wazuh's GET /agents shows it.
type wazuhAgent struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	IP            string   `json:"ip"`
	RegisterIP    string   `json:"registerIP"`
	Status        string   `json:"status"`
	Version       string   `json:"version,omitempty"`
	OS            *agentOS `json:"os,omitempty"`
	Manager       string   `json:"manager,omitempty"`
	NodeName      string   `json:"node_name,omitempty"`
	Group         []string `json:"group,omitempty"`
	LastKeepAlive string   `json:"lastKeepAlive,omitempty"`
	DateAdd       string   `json:"dateAdd"`
}

type agentOS struct {
	Platform string `json:"platform"`
	Arch     string `json:"arch,omitempty"`
	Name     string `json:"name,omitempty"`
}

// wazuhTime formats a time as Wazuh's API does ("2024-05-01T10:00:00+00:00").
func wazuhTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05-07:00")
}

func toWazuhAgent(a manager.AgentStatus, node string) wazuhAgent {
	w := wazuhAgent{ID: a.ID, Name: a.Name, Status: a.Status, RegisterIP: a.RegisteredIP,
		Manager: node, NodeName: node, Group: a.Groups, DateAdd: wazuhTime(a.Enrolled)}
	if w.RegisterIP == "" {
		w.RegisterIP = "any"
	}
	w.IP = w.RegisterIP
	if len(a.Last.Addresses) > 0 {
		w.IP = a.Last.Addresses[0]
	}
	if a.Last.Version != "" {
		w.Version = a.Last.Version
		if !strings.HasPrefix(w.Version, "Riposte") {
			w.Version = "Riposte v" + strings.TrimPrefix(w.Version, "v")
		}
	}
	if a.Last.OS != "" {
		w.OS = &agentOS{Platform: a.Last.OS, Arch: a.Last.Arch, Name: a.Last.OS}
	}
	if len(a.Last.Groups) > 0 {
		w.Group = a.Last.Groups
	}
	if !a.LastSeen.IsZero() {
		w.LastKeepAlive = wazuhTime(a.LastSeen)
	}
	return w
}

// wazuhSelectable are the fields ?select= accepts.
var wazuhSelectable = []string{"id", "name", "ip", "registerIP", "status", "version", "os", "manager", "node_name", "group", "lastKeepAlive", "dateAdd"}

// getWazuhAgents is Wazuh's GET /agents.
func (s *Server) getWazuhAgents(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	ids, err := parseAgentsList(qv.Get("agents_list"))
	if err != nil {
		return err
	}
	offset, limit, err := paging(qv.Get("offset"), qv.Get("limit"), 500, 100000)
	if err != nil {
		return err
	}
	var statuses []string
	if v := qv.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			if st != "active" && st != "disconnected" && st != "never_connected" && st != "pending" {
				return badRequest("status: '%s' is not one of active, disconnected, never_connected, pending", st)
			}
			statuses = append(statuses, st)
		}
	}
	var fields []string
	if v := qv.Get("select"); v != "" {
		fields = []string{"id"}
		for _, fl := range strings.Split(v, ",") {
			top, _, _ := strings.Cut(fl, ".")
			if !slices.Contains(wazuhSelectable, top) {
				return &Error{Status: http.StatusBadRequest, Code: errSelect.Code, Detail: errSelect.Message + ": " + fl,
					Remediation: errSelect.Remediation + ": " + strings.Join(wazuhSelectable, ", ")}
			}
			fields = append(fields, top)
		}
	}

	byID := make(map[string]manager.AgentStatus)
	var ordered []manager.AgentStatus
	for _, a := range s.b.Agents() {
		if a.Status == "revoked" {
			continue
		}
		byID[a.ID] = a
		ordered = append(ordered, a)
	}
	var f failures
	if ids != nil {
		ordered = ordered[:0]
		for _, id := range ids {
			if a, ok := byID[id]; ok {
				ordered = append(ordered, a)
			} else {
				f.add(errAgentNotExist, id)
			}
		}
	}
	var match []wazuhAgent
	for _, a := range ordered {
		if statuses == nil || slices.Contains(statuses, a.Status) {
			match = append(match, toWazuhAgent(a, s.node))
		}
	}
	total := len(match)
	match = match[min(offset, total):min(offset+limit, total)]
	const all, some, none = "All selected agents information was returned", "Some agents information was not returned", "No agent information was returned"
	if fields == nil {
		writeJSON(w, r, http.StatusOK, result(match, total, f, all, some, none))
		return nil
	}
	sel := make([]map[string]json.RawMessage, 0, len(match))
	for _, a := range match {
		b, _ := json.Marshal(a)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("selecting fields: %w", err)
		}
		for k := range m {
			if !slices.Contains(fields, k) {
				delete(m, k)
			}
		}
		sel = append(sel, m)
	}
	writeJSON(w, r, http.StatusOK, result(sel, total, f, all, some, none))
	return nil
}

// paging reads offset and limit: limit defaults to def and may not exceed
// max.
func paging(off, lim string, def, maxLimit int) (offset, limit int, err error) {
	limit = def
	if off != "" {
		if offset, err = strconv.Atoi(off); err != nil || offset < 0 {
			return 0, 0, badRequest("offset: '%s' is not a non-negative integer", off)
		}
	}
	if lim != "" {
		if limit, err = strconv.Atoi(lim); err != nil || limit < 1 {
			return 0, 0, badRequest("limit: '%s' is not a positive integer", lim)
		}
		if limit > maxLimit {
			return 0, 0, badRequest("limit: %d is more than the maximum, %d", limit, maxLimit)
		}
	}
	return offset, limit, nil
}

// who returns the name of the request's user.
func who(r *http.Request) string {
	u, _ := UserFrom(r.Context())
	return u.Name
}
