package enroll

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/riposte/riposte/internal/pki"
)

// Defaults of [ServerOptions].
const (
	DefaultListen   = ":" + DefaultPort
	DefaultValidity = 365 * 24 * time.Hour
)

// Rate limit of failed tokens.
const (
	maxFailures   = 10
	failureWindow = time.Minute
	// maxTracked bounds the addresses the limiter remembers.
	maxTracked = 10000
)

// Applicant is an agent asking to enroll, as handed to the registry.
type Applicant struct {
	// Name is the agent's name (valid by [ValidName]).
	Name string
	// RemoteIP is the address the request came from.
	RemoteIP string
	// Groups and Labels are what the agent asked for.
	Groups, Labels []string
	// KeyFingerprint is the [pki.KeyFingerprint] of the agent's key, which
	// the broker checks at every connection.
	KeyFingerprint string
	// Force asks to replace an agent enrolled under the same name.
	Force bool
}

// ServerOptions configure a [Server].
type ServerOptions struct {
	// Listen is the address of ListenAndServe; default ":1515".
	Listen string
	// CA signs the agents' certificates. Required.
	CA *pki.CA
	// Cert is the server certificate (from CA.ServerCertificate). Required.
	// The CA certificate is appended to its chain if missing, so that an
	// agent holding only the CA's pin can check it.
	Cert tls.Certificate
	// TokenFile holds the enrollment token (see [EnsureToken]); it is read
	// again at every request, so a new token takes effect without a
	// restart. Required.
	TokenFile string
	// Register records an applicant in the manager's registry and returns
	// its agent id ("001", ...). Its error is returned to the agent (409),
	// so it should read well (e.g. a duplicate name). Required.
	Register func(ctx context.Context, a Applicant) (agentID string, err error)
	// AgentURLs returns the NATS URLs handed to the agent, given the host
	// the agent reached the enrollment server by (e.g. tls://<host>:1514).
	AgentURLs func(requestHost string) []string
	// Prefix is the subject prefix handed to the agent; empty for the
	// default.
	Prefix string
	// Validity is how long agent certificates are valid; default one year.
	Validity time.Duration
	// Logger receives a line for every enrollment and refusal (never the
	// token); default discard.
	Logger *slog.Logger
}

// Server answers enrollment requests.
type Server struct {
	opts ServerOptions
	cert tls.Certificate
	log  *slog.Logger
	now  func() time.Time

	mu       sync.Mutex
	failures map[string]*failureCount // by remote IP
}

type failureCount struct {
	n     int
	start time.Time
}

// EnsureToken returns the enrollment token stored at path, creating the
// file (32 random bytes in hex, mode 0600, in a directory created 0700)
// when it is missing; created reports whether it did.
func EnsureToken(path string) (token string, created bool, err error) {
	tok, err := readToken(path)
	if err == nil {
		return tok, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("enroll: %w", err)
	}
	tok = hex.EncodeToString(b)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("enroll: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Created meanwhile by another process: use that one.
			tok, err := readToken(path)
			return tok, false, err
		}
		return "", false, fmt.Errorf("enroll: create token: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("enroll: write token: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("enroll: write token: %w", err)
	}
	return tok, true, nil
}

// readToken reads a token file; surrounding white space is ignored.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("enroll: token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("enroll: token file %s is empty", path)
	}
	return tok, nil
}

// NewServer checks opts and returns a server.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.CA == nil {
		return nil, errors.New("enroll: no CA")
	}
	if len(opts.Cert.Certificate) == 0 || opts.Cert.PrivateKey == nil {
		return nil, errors.New("enroll: no server certificate")
	}
	if opts.TokenFile == "" {
		return nil, errors.New("enroll: no token file")
	}
	if opts.Register == nil {
		return nil, errors.New("enroll: no Register function")
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.Validity <= 0 {
		opts.Validity = DefaultValidity
	}
	if opts.AgentURLs == nil {
		opts.AgentURLs = func(string) []string { return nil }
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cert := opts.Cert
	caDER := opts.CA.Certificate().Raw
	if !bytes.Equal(cert.Certificate[len(cert.Certificate)-1], caDER) {
		cert.Certificate = append(cert.Certificate[:len(cert.Certificate):len(cert.Certificate)], caDER)
	}
	return &Server{
		opts:     opts,
		cert:     cert,
		log:      logger,
		now:      time.Now,
		failures: make(map[string]*failureCount),
	}, nil
}

// ListenAndServe listens on the configured address and serves until ctx
// ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves HTTPS on ln until ctx ends, then shuts down (waiting up to
// five seconds for requests in flight) and returns nil. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	tc := &tls.Config{
		Certificates: []tls.Certificate{s.cert},
		MinVersion:   tls.VersionTLS12,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+Path, s.handleEnroll)
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
	}()
	s.log.Info("enrollment listening", "addr", ln.Addr().String())
	err := hs.Serve(tls.NewListener(ln, tc))
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	hs.Close()
	return fmt.Errorf("enroll: %w", err)
}

func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) {
	ip := r.RemoteAddr
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ip = h
	}
	log := s.log.With("remote", ip)

	if s.limited(ip) {
		log.Warn("enrollment refused: too many failed tokens")
		writeError(w, http.StatusTooManyRequests, "too many failed attempts; try again later")
		return
	}
	want, err := readToken(s.opts.TokenFile)
	if err != nil {
		log.Error("enrollment refused: cannot read the token", "err", err)
		writeError(w, http.StatusInternalServerError, "enrollment is not available")
		return
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) != 1 {
		s.fail(ip)
		log.Warn("enrollment refused: bad token")
		writeError(w, http.StatusUnauthorized, "invalid enrollment token")
		return
	}

	var req request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&req); err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		log.Warn("enrollment refused: bad request", "err", err)
		writeError(w, status, "bad request: "+err.Error())
		return
	}
	log = log.With("name", req.Name)
	if err := req.validate(); err != nil {
		log.Warn("enrollment refused", "err", err)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	fp, err := pki.CSRKeyFingerprint([]byte(req.CSR))
	if err != nil {
		log.Warn("enrollment refused: bad certificate request", "err", err)
		writeError(w, http.StatusBadRequest, "bad certificate request: "+err.Error())
		return
	}
	id, err := s.opts.Register(r.Context(), Applicant{
		Name:           req.Name,
		RemoteIP:       ip,
		Groups:         req.Groups,
		Labels:         req.Labels,
		KeyFingerprint: fp,
		Force:          req.Force,
	})
	if err != nil {
		log.Warn("enrollment refused by the registry", "err", err)
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	certPEM, err := s.opts.CA.SignAgent([]byte(req.CSR), id, s.opts.Validity)
	if err != nil {
		log.Error("enrollment failed: signing", "agent", id, "err", err)
		writeError(w, http.StatusInternalServerError, "cannot sign the certificate")
		return
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	resp := response{
		AgentID:     id,
		Name:        req.Name,
		Certificate: string(certPEM),
		CA:          string(s.opts.CA.CertPEM()),
		NATSURLs:    s.opts.AgentURLs(host),
		Prefix:      s.opts.Prefix,
	}
	log.Info("agent enrolled", "agent", id, "key", fp, "force", req.Force)
	writeJSON(w, http.StatusOK, resp)
}

// limited reports whether ip failed too many tokens in the current window.
func (s *Server) limited(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failures[ip]
	if f == nil {
		return false
	}
	if s.now().Sub(f.start) >= failureWindow {
		delete(s.failures, ip)
		return false
	}
	return f.n >= maxFailures
}

// fail counts a failed token from ip.
func (s *Server) fail(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	f := s.failures[ip]
	if f == nil || now.Sub(f.start) >= failureWindow {
		if len(s.failures) >= maxTracked {
			for k, v := range s.failures {
				if now.Sub(v.start) >= failureWindow {
					delete(s.failures, k)
				}
			}
		}
		f = &failureCount{start: now}
		s.failures[ip] = f
	}
	f.n++
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorResponse{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
