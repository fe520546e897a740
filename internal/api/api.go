package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/respond"
)

// MaxBody is the largest request body accepted, in bytes.
const MaxBody = 16 << 20

// IngestOptions modify how a batch of alerts is handled.
type IngestOptions struct {
	// Explain asks for an explanation of every <active-response> block.
	Explain bool
	// DryRun decides without running anything.
	DryRun bool
	// Source names where the alerts came from, for the metrics (socket,
	// http, api, alerts_json, analysis); empty means the HTTPS API.
	Source string
}

// DecisionReport is one decision as the API shows it.
type DecisionReport struct {
	ID      string   `json:"id"`
	Command string   `json:"command"`
	Outcome string   `json:"outcome"`
	Reason  string   `json:"reason"`
	Targets []string `json:"targets,omitempty"`
	// Delivery says, per target agent, whether it was handed to an
	// executor ("submitted") or why not.
	Delivery map[string]string `json:"delivery,omitempty"`
}

// AlertReport is what happened to one alert.
type AlertReport struct {
	Item         int                   `json:"item"`
	RuleID       string                `json:"rule_id"`
	RuleLevel    int                   `json:"rule_level"`
	AgentID      string                `json:"agent_id"`
	SrcIP        string                `json:"srcip,omitempty"`
	Decisions    []DecisionReport      `json:"decisions"`
	Explanations []respond.Explanation `json:"explanations,omitempty"`
}

// Stats are counters of the running instance.
type Stats struct {
	AlertsAccepted  uint64 `json:"alerts_accepted"`
	AlertsMalformed uint64 `json:"alerts_malformed"`
	Decisions       uint64 `json:"decisions"`
	InputErrors     uint64 `json:"input_errors"` // problems reading inputs (files), not alerts
	Runs            uint64 `json:"runs"`
	RunsFailed      uint64 `json:"runs_failed"`
}

// Status is what every Riposte process serves about itself: an agent as
// well as a manager or an all-in-one instance.
type Status interface {
	// Pending lists active stateful responses of this host.
	Pending() []execd.Pending
	// Runs lists recent run results, newest last.
	Runs() []execd.Result
	// Stats returns the counters.
	Stats() Stats
}

// Backend is what the API of a deciding process (manager or all-in-one)
// serves.
type Backend interface {
	Status
	// Ingest handles alerts that have all been parsed successfully.
	Ingest(ctx context.Context, alerts []*alert.Alert, opts IngestOptions) []AlertReport
	// Rejected counts alerts that could not be parsed.
	Rejected(n int)
}

// Handler returns the HTTP handler of the control socket's own endpoints
// for b.
func Handler(b Backend, log *slog.Logger) http.Handler {
	s, mux := newMux(b, log)
	s.b, s.source = b, "socket"
	mux.HandleFunc("POST /v1/alerts", s.postAlerts)
	return mux
}

// StatusHandler returns the HTTP handler of an agent's control socket: its
// health, runs and active responses.
func StatusHandler(st Status, log *slog.Logger) http.Handler {
	_, mux := newMux(st, log)
	return mux
}

func newMux(st Status, log *slog.Logger) (*server, *http.ServeMux) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &server{st: st, log: log.With("component", "api")}
	mux := http.NewServeMux()
	// Profiles of the running process, for the operator on the socket
	// (mode 0600) only.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /v1/responses/active", s.getActive)
	mux.HandleFunc("GET /v1/runs", s.getRuns)
	mux.HandleFunc("GET /v1/health", s.getHealth)
	return s, mux
}

// LoopbackHandler returns the handler for the loopback TCP listener: only
// POST /v1/alerts, and only with a JSON content type and a loopback Host, so
// a web page in a local browser cannot post alerts (a cross-site form cannot
// send application/json without a preflight, and DNS rebinding shows a
// foreign Host).
func LoopbackHandler(b Backend, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &server{b: b, st: b, source: "http", log: log.With("component", "api")}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/alerts", func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			writeJSON(w, http.StatusForbidden, ErrorBody{Error: fmt.Sprintf("Host %q is not a loopback address", r.Host)})
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, ErrorBody{Error: "Content-Type must be application/json"})
			return
		}
		s.postAlerts(w, r)
	})
	return mux
}

// loopbackHost reports whether a Host header names this machine.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

type server struct {
	source string // for the metrics: socket or http
	st     Status
	b      Backend // nil on an agent
	log    *slog.Logger
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error string      `json:"error"`
	Items []ItemError `json:"items,omitempty"`
}

// ItemError names one bad document of a batch.
type ItemError struct {
	Item  int    `json:"item"`
	Line  int    `json:"line,omitempty"`
	Error string `json:"error"`
}

// IngestResponse is the body of a successful POST /v1/alerts.
type IngestResponse struct {
	Accepted int           `json:"accepted"`
	Results  []AlertReport `json:"results"`
}

func (s *server) postAlerts(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.b.Rejected(1)
			writeJSON(w, http.StatusRequestEntityTooLarge, ErrorBody{Error: fmt.Sprintf("request body larger than %d bytes", MaxBody)})
			return
		}
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "reading request body: " + err.Error()})
		return
	}
	alerts, errs := alert.ParseBatch(body)
	if len(errs) > 0 {
		s.b.Rejected(len(errs))
		eb := ErrorBody{Error: fmt.Sprintf("%d of %d alerts are malformed; none was accepted", len(errs), len(errs)+len(alerts))}
		for _, e := range errs {
			eb.Items = append(eb.Items, ItemError{Item: e.Item, Line: e.Line, Error: e.Err.Error()})
			s.log.Warn("malformed alert", "item", e.Item, "line", e.Line, "err", e.Err)
		}
		writeJSON(w, http.StatusBadRequest, eb)
		return
	}
	if len(alerts) == 0 {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "no alert in the request body"})
		return
	}
	q := r.URL.Query()
	opts := IngestOptions{Explain: isTrue(q.Get("explain")), DryRun: isTrue(q.Get("dry_run")), Source: s.source}
	reports := s.b.Ingest(r.Context(), alerts, opts)
	writeJSON(w, http.StatusOK, IngestResponse{Accepted: len(alerts), Results: reports})
}

func (s *server) getActive(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.st.Pending())
}

func (s *server) getRuns(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.st.Runs())
}

func (s *server) getHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "stats": s.st.Stats()})
}

func isTrue(v string) bool { return v == "1" || v == "true" || v == "yes" }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
