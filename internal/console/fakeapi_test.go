package console

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/fleet/manager"
)

// allowEntry mirrors httpapi.AllowEntry (which this package cannot import:
// httpapi mounts the console).
type allowEntry struct {
	Entry   string    `json:"entry"`
	Source  string    `json:"source"`
	Comment string    `json:"comment,omitempty"`
	AddedBy string    `json:"added_by,omitempty"`
	Added   time.Time `json:"added,omitzero"`
}

// fakeAPI is a small in-memory implementation of the HTTPS API the
// console talks to, with the real wire types, recording what it was asked.
type fakeAPI struct {
	mu      sync.Mutex
	tokens  map[string]bool
	logins  int
	agents  []manager.AgentStatus
	active  []manager.Active // sorted by Until, permanent ones last
	runs    []execd.Result   // oldest first
	allow   []allowEntry
	changed chan struct{} // closed at the next change
	done    chan struct{} // closed when the test ends: streams return

	// refuseStream answers the stream 503, as a server that does not
	// offer one.
	refuseStream bool
	// undoGate, if set, holds undo requests until it is closed.
	undoGate chan struct{}

	// What the console asked for.
	queries  []string // raw query strings of GET /api/v1/responses
	maxLimit int
	undone   []string
	extended []api.ExtendRequest
	manual   []api.ManualRun
	allowed  []string
	removed  []string
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{
		tokens:  make(map[string]bool),
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
}

func (f *fakeAPI) close() { close(f.done) }

// changeLocked wakes the streams; f.mu must be held.
func (f *fakeAPI) changeLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeAPI) changes() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func (f *fakeAPI) sortLocked() {
	slices.SortStableFunc(f.active, func(a, b manager.Active) int {
		switch {
		case a.Until.IsZero() && b.Until.IsZero():
			return 0
		case a.Until.IsZero():
			return 1
		case b.Until.IsZero():
			return -1
		}
		return a.Until.Compare(b.Until)
	})
}

// addActive adds active responses, as alerts coming in would.
func (f *fakeAPI) addActive(as ...manager.Active) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active = append(f.active, as...)
	f.sortLocked()
	f.changeLocked()
}

func (f *fakeAPI) hasActive(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(f.active, func(a manager.Active) bool { return a.ID == id })
}

// expireTokens forgets every token, as if they had all timed out.
func (f *fakeAPI) expireTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

func (f *fakeAPI) setRefuseStream(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuseStream = v
}

// snapshot runs fn with the state locked, to read what was recorded.
func (f *fakeAPI) snapshot(fn func(f *fakeAPI)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.HandleFunc("POST /security/user/authenticate", f.authenticate)
	mux.HandleFunc("GET /api/v1/agents", f.auth(f.listAgents))
	mux.HandleFunc("GET /api/v1/responses", f.auth(f.listActive))
	mux.HandleFunc("POST /api/v1/responses/undo", f.auth(f.undo))
	mux.HandleFunc("POST /api/v1/responses/extend", f.auth(f.extend))
	mux.HandleFunc("POST /api/v1/responses/permanent", f.auth(f.extend))
	mux.HandleFunc("POST /api/v1/responses/run", f.auth(f.run))
	mux.HandleFunc("GET /api/v1/runs", f.auth(f.listRuns))
	mux.HandleFunc("GET /api/v1/allowlist", f.auth(f.listAllow))
	mux.HandleFunc("POST /api/v1/allowlist", f.auth(f.addAllow))
	mux.HandleFunc("DELETE /api/v1/allowlist", f.auth(f.removeAllow))
	mux.HandleFunc("GET /api/v1/stream", f.auth(f.stream))
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func (f *fakeAPI) authenticate(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != "admin" || pass != "secret" {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"title": "Unauthorized", "detail": "Invalid credentials", "error": 1})
		return
	}
	token := rand.Text()
	f.mu.Lock()
	f.tokens[token] = true
	f.logins++
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]string{"token": token}, "error": 0})
}

// auth checks the bearer token (or, for the stream, access_token).
func (f *fakeAPI) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			token = r.URL.Query().Get("access_token")
		}
		f.mu.Lock()
		valid := f.tokens[token]
		f.mu.Unlock()
		if !valid {
			writeError(w, http.StatusUnauthorized, "invalid or expired token")
			return
		}
		h(w, r)
	}
}

func (f *fakeAPI) listAgents(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.agents)
}

func matchActive(a *manager.Active, agent, command, q string, ip netip.Prefix) bool {
	if agent != "" && a.Agent != agent {
		return false
	}
	if command != "" && a.Name != command {
		return false
	}
	if ip.IsValid() {
		hit := false
		for _, k := range append([]string{a.SrcIP}, a.Keys...) {
			if addr, err := netip.ParseAddr(k); err == nil && ip.Contains(addr) {
				hit = true
			}
		}
		if !hit {
			return false
		}
	}
	if q != "" {
		return strings.Contains(a.ID, q) || strings.Contains(a.Agent, q) || strings.Contains(a.Name, q) ||
			slices.ContainsFunc(a.Keys, func(k string) bool { return strings.Contains(k, q) })
	}
	return true
}

func (f *fakeAPI) listActive(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	var ip netip.Prefix
	if s := v.Get("ip"); s != "" {
		var err error
		if ip, err = netip.ParsePrefix(s); err != nil {
			addr, err := netip.ParseAddr(s)
			if err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("ip %q: not an address or prefix", s))
				return
			}
			ip = netip.PrefixFrom(addr, addr.BitLen())
		}
	}
	offset, _ := strconv.Atoi(v.Get("offset"))
	limit, _ := strconv.Atoi(v.Get("limit"))
	if limit <= 0 {
		limit = 500
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, r.URL.RawQuery)
	f.maxLimit = max(f.maxLimit, limit)
	items := []manager.Active{}
	total := 0
	for i := range f.active {
		if !matchActive(&f.active[i], v.Get("agent"), v.Get("command"), v.Get("q"), ip) {
			continue
		}
		if total >= offset && len(items) < limit {
			items = append(items, f.active[i])
		}
		total++
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "total": total, "offset": offset, "limit": limit})
}

func (f *fakeAPI) undo(w http.ResponseWriter, r *http.Request) {
	var req api.UndoRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ID == "" {
		writeError(w, http.StatusBadRequest, "want an id")
		return
	}
	f.mu.Lock()
	gate := f.undoGate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.undone = append(f.undone, req.ID)
	var out []manager.Active
	f.active = slices.DeleteFunc(f.active, func(a manager.Active) bool {
		if a.ID == req.ID {
			out = append(out, a)
			return true
		}
		return false
	})
	if out == nil {
		writeError(w, http.StatusNotFound, "no active response "+req.ID)
		return
	}
	f.changeLocked()
	writeJSON(w, http.StatusOK, out)
}

// extend serves both extend (by) and permanent (no by: no end).
func (f *fakeAPI) extend(w http.ResponseWriter, r *http.Request) {
	var req api.ExtendRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ID == "" {
		writeError(w, http.StatusBadRequest, "want an id")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.extended = append(f.extended, req)
	i := slices.IndexFunc(f.active, func(a manager.Active) bool { return a.ID == req.ID })
	if i < 0 {
		writeError(w, http.StatusNotFound, "no active response "+req.ID)
		return
	}
	a := &f.active[i]
	if strings.HasSuffix(r.URL.Path, "/permanent") {
		a.Until = time.Time{}
	} else {
		a.Until = a.Until.Add(req.By.D())
	}
	out := []manager.Active{*a}
	f.sortLocked()
	f.changeLocked()
	writeJSON(w, http.StatusOK, out)
}

func (f *fakeAPI) allowedLocked(ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, e := range f.allow {
		if p, err := netip.ParsePrefix(e.Entry); err == nil && p.Contains(addr) {
			return true
		}
		if e.Entry == ip {
			return true
		}
	}
	return false
}

func (f *fakeAPI) run(w http.ResponseWriter, r *http.Request) {
	var req api.ManualRun
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.manual = append(f.manual, req)
	if f.allowedLocked(req.SrcIP) && !req.Force {
		writeError(w, http.StatusBadRequest, req.SrcIP+" is white-listed")
		return
	}
	rep := api.ManualReport{Command: req.Command, Delivery: map[string]string{}}
	if req.Timeout != nil {
		rep.Timeout = *req.Timeout
	}
	for _, id := range req.Agents {
		if slices.ContainsFunc(f.agents, func(a manager.AgentStatus) bool { return a.ID == id }) {
			rep.Delivery[id] = manager.Sent
		} else {
			rep.Delivery[id] = "unknown agent"
		}
	}
	writeJSON(w, http.StatusOK, rep)
}

func (f *fakeAPI) listRuns(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.runs)
}

func (f *fakeAPI) listAllow(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.allow)
}

func (f *fakeAPI) addAllow(w http.ResponseWriter, r *http.Request) {
	var req struct{ Entry, Comment string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Entry == "" {
		writeError(w, http.StatusBadRequest, "want an entry")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allowed = append(f.allowed, req.Entry)
	f.allow = append(f.allow, allowEntry{Entry: req.Entry, Source: "api", Comment: req.Comment, AddedBy: "admin", Added: time.Now()})
	f.changeLocked()
	writeJSON(w, http.StatusOK, []manager.Active{})
}

func (f *fakeAPI) removeAllow(w http.ResponseWriter, r *http.Request) {
	entry := r.URL.Query().Get("entry")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, entry)
	i := slices.IndexFunc(f.allow, func(e allowEntry) bool { return e.Entry == entry && e.Source == "api" })
	if i < 0 {
		writeError(w, http.StatusNotFound, "no API entry "+entry)
		return
	}
	f.allow = slices.Delete(f.allow, i, i+1)
	f.changeLocked()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeAPI) stream(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	refuse := f.refuseStream
	f.mu.Unlock()
	if refuse {
		writeError(w, http.StatusServiceUnavailable, "no stream here")
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "cannot stream")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	ch := f.changes()
	fmt.Fprint(w, ": hello\n\n")
	fl.Flush()
	for {
		select {
		case <-ch:
			ch = f.changes()
			fmt.Fprint(w, "event: change\ndata: {}\n\n")
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-f.done:
			return
		}
	}
}

// fakeActive makes n active responses on agents 001-003, one address each
// (10.x.y.z), added an hour and a minute before base and ending one second
// apart from base on.
func fakeActive(n int, base time.Time) []manager.Active {
	out := make([]manager.Active, n)
	for i := range out {
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		agent := fmt.Sprintf("%03d", 1+i%3)
		out[i] = manager.Active{
			ID:      agent + "." + hex.EncodeToString([]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}),
			Agent:   agent,
			Name:    "firewall-drop",
			Key:     ip,
			Keys:    []string{ip},
			SrcIP:   ip,
			Added:   base.Add(-time.Hour - time.Minute),
			Until:   base.Add(time.Duration(i) * time.Second),
			Backend: "nftables",
		}
	}
	return out
}
