package broker

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/riposte/riposte/internal/pki"
)

// Defaults of [Options].
const (
	DefaultServerName = "riposte"
	DefaultMaxPayload = 1 << 20
)

// readyTimeout bounds how long Start waits for the server.
const readyTimeout = 10 * time.Second

// agentDeny is denied to every agent, for publishing and subscribing, even
// if its permissions were to allow it: the JetStream API and acks, the
// key-value and object stores' subjects and the system account's.
var agentDeny = []string{"$JS.>", "$KV.>", "$O.>", "$SYS.>"}

// Options configure a [Broker].
type Options struct {
	// StoreDir is the JetStream file storage directory. Required.
	StoreDir string
	// Listen is the "host:port" agents connect to (port 0 picks one); empty
	// for no network listener, in process only (the all-in-one
	// `riposte run`).
	Listen string
	// TLS holds the server certificate and, in ClientCAs, the CA agent
	// certificates must chain to. Client certificates are always required
	// and verified, whatever ClientAuth says. Required when Listen is set.
	TLS *tls.Config
	// Authorize is called for every agent connection with the agent id read
	// from its client certificate ([pki.AgentID]) and the fingerprint of its
	// key ([pki.KeyFingerprint]); a non-nil error refuses the connection
	// (unknown or revoked agent, fingerprint mismatch). Required when Listen
	// is set. It runs on the connection's goroutine and may block briefly.
	Authorize func(agentID, keyFingerprint string) error
	// Permissions returns the subjects the agent may publish and subscribe
	// to (the wiring passes fleet.Subjects.AgentPermissions). Nothing else is
	// allowed: no inbox, no JetStream. Required when Listen is set.
	Permissions func(agentID string) (publish, subscribe []string)
	// ServerName is the NATS server name; default "riposte".
	ServerName string
	// Logger receives nats-server's own log; default discard.
	Logger *slog.Logger
	// MaxPayload bounds a message in bytes; default 1 MiB.
	MaxPayload int32
}

// Broker is a running embedded NATS server.
type Broker struct {
	srv    *server.Server
	token  string
	opts   Options
	logger *slog.Logger

	mu sync.Mutex
	// conns holds the client ids of each agent's connections; ids of
	// closed connections are pruned as new ones arrive.
	conns map[string]map[uint64]struct{}
	// gen counts each agent's Disconnect calls, so that a connection
	// authorised before a Disconnect but tracked after it is refused.
	gen map[string]uint64
}

// Start starts the server and waits until it accepts connections (at most
// ten seconds).
func Start(opts Options) (*Broker, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("broker: no JetStream store directory")
	}
	if opts.ServerName == "" {
		opts.ServerName = DefaultServerName
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = DefaultMaxPayload
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	b := &Broker{
		token:  hex.EncodeToString(secret),
		opts:   opts,
		logger: logger,
		conns:  make(map[string]map[uint64]struct{}),
		gen:    make(map[string]uint64),
	}

	sopts := &server.Options{
		ServerName:                 opts.ServerName,
		JetStream:                  true,
		StoreDir:                   opts.StoreDir,
		MaxPayload:                 opts.MaxPayload,
		NoSigs:                     true,
		CustomClientAuthentication: authFunc(b.check),
	}
	if opts.Listen == "" {
		sopts.DontListen = true
	} else {
		if opts.TLS == nil || opts.TLS.ClientCAs == nil {
			return nil, errors.New("broker: a listener needs a TLS configuration with ClientCAs")
		}
		if opts.Authorize == nil || opts.Permissions == nil {
			return nil, errors.New("broker: a listener needs Authorize and Permissions")
		}
		host, port, err := splitHostPort(opts.Listen)
		if err != nil {
			return nil, err
		}
		tc := opts.TLS.Clone()
		tc.ClientAuth = tls.RequireAndVerifyClientCert
		sopts.Host, sopts.Port = host, port
		sopts.TLSConfig = tc
		sopts.TLS = true
		sopts.TLSVerify = true
	}

	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	fatal := make(chan string, 1)
	srv.SetLoggerV2(&natsLogger{l: logger.With("component", "nats"), fatal: fatal}, logger.Enabled(context.Background(), slog.LevelDebug), false, false)
	b.srv = srv
	srv.Start()

	ready := make(chan bool, 1)
	go func() { ready <- srv.ReadyForConnections(readyTimeout) }()
	select {
	case ok := <-ready:
		if ok {
			logger.Info("broker ready", "name", opts.ServerName, "agents", b.AgentURL(), "store", opts.StoreDir)
			return b, nil
		}
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("broker: server not ready after %v", readyTimeout)
	case msg := <-fatal:
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("broker: %s", msg)
	}
}

func splitHostPort(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("broker: listen address: %w", err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("broker: listen address %q: bad port", hp)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// Connect opens the manager's privileged in-process connection, with full
// permissions and JetStream. opts are applied after the broker's own.
func (b *Broker) Connect(opts ...nats.Option) (*nats.Conn, error) {
	all := append([]nats.Option{
		nats.InProcessServer(b.srv),
		nats.Token(b.token),
		nats.Name("riposte-manager"),
	}, opts...)
	nc, err := nats.Connect("", all...)
	if err != nil {
		return nil, fmt.Errorf("broker: connect in process: %w", err)
	}
	return nc, nil
}

// AgentURL returns the "tls://host:port" the server listens on for agents
// (with the port it picked), or "" without a listener. For a wildcard
// listen address the host is the wildcard; the wiring substitutes the
// address agents should use.
func (b *Broker) AgentURL() string {
	if b.opts.Listen == "" {
		return ""
	}
	addr, ok := b.srv.Addr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	return "tls://" + addr.String()
}

// Disconnect closes every current connection of agent agentID, as when it
// is revoked, and returns how many it closed. Connections the agent makes
// afterwards are authorised again.
func (b *Broker) Disconnect(agentID string) int {
	b.mu.Lock()
	b.gen[agentID]++
	ids := b.conns[agentID]
	delete(b.conns, agentID)
	b.mu.Unlock()

	n := 0
	for id := range ids {
		if b.srv.DisconnectClientByID(id) == nil {
			n++
		}
	}
	if n > 0 {
		b.logger.Info("agent disconnected", "agent", agentID, "connections", n)
	}
	return n
}

// Shutdown stops the server and waits until it has stopped.
func (b *Broker) Shutdown() {
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}

// authFunc adapts a function to [server.Authentication].
type authFunc func(server.ClientAuthentication) bool

// Check calls f.
func (f authFunc) Check(c server.ClientAuthentication) bool { return f(c) }

var _ server.Authentication = authFunc(nil)

// check authenticates a connection: the manager's in-process connection by
// its token, an agent's by its client certificate and the registry.
func (b *Broker) check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false
	}
	cs := c.GetTLSConnectionState()
	if cs == nil {
		// Only in-process connections come without TLS.
		tok := c.GetOpts().Token
		if subtle.ConstantTimeCompare([]byte(tok), []byte(b.token)) != 1 {
			b.logger.Warn("in-process connection refused: bad token")
			return false
		}
		c.RegisterUser(&server.User{Username: "manager"})
		return true
	}
	return b.checkAgent(c, cs)
}

func (b *Broker) checkAgent(c server.ClientAuthentication, cs *tls.ConnectionState) bool {
	remote := ""
	if a := c.RemoteAddress(); a != nil {
		remote = a.String()
	}
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		b.logger.Warn("agent connection refused: no verified client certificate", "remote", remote)
		return false
	}
	leaf := cs.PeerCertificates[0]
	id, ok := pki.AgentID(leaf)
	if !ok {
		b.logger.Warn("agent connection refused: certificate names no agent", "remote", remote, "subject", leaf.Subject.CommonName)
		return false
	}
	fp := pki.KeyFingerprint(leaf)

	b.mu.Lock()
	gen := b.gen[id]
	b.mu.Unlock()

	if err := b.opts.Authorize(id, fp); err != nil {
		b.logger.Warn("agent connection refused", "agent", id, "remote", remote, "err", err)
		return false
	}
	pub, sub := b.opts.Permissions(id)

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen[id] != gen {
		b.logger.Warn("agent connection refused: disconnected while authorising", "agent", id, "remote", remote)
		return false
	}
	c.RegisterUser(&server.User{
		Username: "agent:" + id,
		Permissions: &server.Permissions{
			Publish:   allowOnly(pub),
			Subscribe: allowOnly(sub),
		},
	})
	ids := b.conns[id]
	if ids == nil {
		ids = make(map[uint64]struct{})
		b.conns[id] = ids
	}
	for cid := range ids {
		if b.srv.GetClient(cid) == nil {
			delete(ids, cid)
		}
	}
	ids[c.GetID()] = struct{}{}
	b.logger.Debug("agent connected", "agent", id, "remote", remote)
	return true
}

// allowOnly allows exactly allow (nothing when empty) and denies agentDeny.
func allowOnly(allow []string) *server.SubjectPermission {
	if len(allow) == 0 {
		return &server.SubjectPermission{Deny: []string{">"}}
	}
	return &server.SubjectPermission{Allow: slices.Clone(allow), Deny: slices.Clone(agentDeny)}
}
