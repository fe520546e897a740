package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/riposte/riposte/internal/users"
)

// MaxBody is the largest request body accepted, in bytes; a larger one is
// answered 413.
const MaxBody = 1 << 20

// Options configure a Server.
type Options struct {
	// Backend serves the requests. Required.
	Backend Backend
	// Users authenticates and authorises. Required.
	Users *users.Store
	// Logger receives request failures; nil discards.
	Logger *slog.Logger
	// Node is the cluster node name, shown as the agents' manager in
	// Wazuh's GET /agents.
	Node string
	// Console, if set, is served for GET requests outside the API
	// ("/", "/app.js", ...) without authentication: the page logs in
	// itself.
	Console http.Handler
	// Metrics, if set, is served at GET /metrics: without authentication to
	// loopback clients (a local Prometheus), with a token of any role to
	// others.
	Metrics http.Handler
}

// Server is the HTTPS API.
type Server struct {
	b       Backend
	users   *users.Store
	log     *slog.Logger
	node    string
	console http.Handler
	metrics http.Handler
	mux     *http.ServeMux
	routes  []route

	// Stream timing; tests shorten them.
	coalesce  time.Duration // at most one change event per coalesce
	keepAlive time.Duration // comment line when idle

	login *loginLimiter

	// shutdown is closed when Serve stops, so streams end.
	shutdown     chan struct{}
	shutdownOnce sync.Once
}

// New builds the server and its routes.
func New(o Options) (*Server, error) {
	if o.Backend == nil {
		return nil, errors.New("httpapi: no backend")
	}
	if o.Users == nil {
		return nil, errors.New("httpapi: no user store")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		b:         o.Backend,
		users:     o.Users,
		log:       log.With("component", "httpapi"),
		node:      o.Node,
		console:   o.Console,
		metrics:   o.Metrics,
		mux:       http.NewServeMux(),
		coalesce:  250 * time.Millisecond,
		keepAlive: 15 * time.Second,
		login:     newLoginLimiter(),
		shutdown:  make(chan struct{}),
	}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	return s, nil
}

// Handler returns the server's HTTP handler (without TLS), for tests and
// for mounting behind another listener.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if _, pattern := s.mux.Handler(r); pattern != "" {
		h.Set("Cache-Control", "no-store")
		s.mux.ServeHTTP(w, r)
		return
	}
	if s.console != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !isAPIPath(r.URL.Path) {
		s.console.ServeHTTP(w, r)
		return
	}
	// No route: let the mux decide between 404 and 405 (it sets Allow),
	// and answer in JSON.
	s.mux.ServeHTTP(&notFoundWriter{ResponseWriter: w, r: r}, r)
}

// isAPIPath reports whether p belongs to the API rather than the console.
func isAPIPath(p string) bool {
	for _, prefix := range []string{"/api/", "/security/", "/active-response", "/agents", "/metrics"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// notFoundWriter replaces the mux's plain-text 404 and 405 with JSON.
type notFoundWriter struct {
	http.ResponseWriter
	r       *http.Request
	written bool
}

func (w *notFoundWriter) WriteHeader(code int) {
	if w.written {
		return
	}
	w.written = true
	switch code {
	case http.StatusNotFound:
		writeError(w.ResponseWriter, w.r, &Error{Status: code, Detail: fmt.Sprintf("no such endpoint: %s %s", w.r.Method, w.r.URL.Path)})
	case http.StatusMethodNotAllowed:
		writeError(w.ResponseWriter, w.r, &Error{Status: code, Detail: fmt.Sprintf("method %s is not allowed on %s", w.r.Method, w.r.URL.Path)})
	default:
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *notFoundWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return len(b), nil // the mux's text is replaced
}

// Serve serves HTTPS (TLS 1.2 or later) with cert on ln until ctx ends,
// then stops gracefully: it stops accepting, ends event streams and waits
// up to 5 seconds for requests in flight. It closes ln. Call it once.
func (s *Server) Serve(ctx context.Context, ln net.Listener, cert tls.Certificate) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second, // the stream lifts it for itself
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    256 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("httpapi: %w", err)
	case <-ctx.Done():
	}
	s.shutdownOnce.Do(func() { close(s.shutdown) })
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	if err != nil {
		srv.Close()
		return fmt.Errorf("httpapi: shutdown: %w", err)
	}
	return nil
}

type ctxKey struct{}

// localKey marks a request that arrived on a trusted local listener.
type localKey struct{}

// LocalHandler serves the API without authentication, every request acting
// as u: for the control socket, whose file mode (0600) already limits it to
// the administrator of the host. Changes are recorded in the audit trail
// under u's name.
func (s *Server) LocalHandler(u users.User) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveHTTP(w, r.WithContext(context.WithValue(r.Context(), localKey{}, u)))
	})
}

type reqInfo struct {
	user users.User
	id   string
}

// UserFrom returns the authenticated user of a request's context.
func UserFrom(ctx context.Context) (users.User, bool) {
	ri, ok := ctx.Value(ctxKey{}).(*reqInfo)
	if !ok || ri.user.Name == "" {
		return users.User{}, false
	}
	return ri.user, true
}

func requestID(ctx context.Context) string {
	if ri, ok := ctx.Value(ctxKey{}).(*reqInfo); ok {
		return ri.id
	}
	return ""
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// wrap adds the body limit, authentication, authorisation and error
// handling to a route's handler.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := &reqInfo{id: newRequestID()}
		w.Header().Set("X-Request-Id", ri.id)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		if err := s.authorize(r, rt, ri); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := rt.h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// authorize checks the request's token against the route's action.
func (s *Server) authorize(r *http.Request, rt route, ri *reqInfo) error {
	if u, ok := r.Context().Value(localKey{}).(users.User); ok {
		// A request on the control socket: its user is the one the
		// listener stands for.
		ri.user = u
		return nil
	}
	switch rt.auth {
	case authNone:
		return nil
	case authLoopbackOrToken:
		if isLoopback(r.RemoteAddr) {
			return nil
		}
	}
	tok, ok := bearer(r)
	if !ok && rt.auth == authQueryToken {
		tok = r.URL.Query().Get("access_token")
		ok = tok != ""
	}
	if !ok {
		return &Error{Status: http.StatusUnauthorized, Detail: "No authorization token provided"}
	}
	u, err := s.users.Verify(tok)
	if err != nil {
		return &Error{Status: http.StatusUnauthorized, Detail: "Invalid token", cause: err}
	}
	ri.user = u
	if !u.Role.Allows(rt.action) {
		return &Error{Status: http.StatusForbidden, Code: 4000, Detail: "Permission denied",
			Remediation: fmt.Sprintf("role %s may not %s; ask an administrator", u.Role, rt.action)}
	}
	return nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

func isLoopback(remote string) bool {
	return remoteAddr(remote).IsLoopback()
}
