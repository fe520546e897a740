package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/pki"
)

// registry is a test stand-in for the manager's agent registry.
type registry struct {
	mu      sync.Mutex
	keys    map[string]string // id → key fingerprint
	revoked map[string]bool
}

func (r *registry) authorize(id, fp string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	want, ok := r.keys[id]
	switch {
	case !ok:
		return errors.New("unknown agent")
	case r.revoked[id]:
		return errors.New("revoked")
	case want != fp:
		return errors.New("key fingerprint mismatch")
	}
	return nil
}

func (r *registry) revoke(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoked[id] = true
}

type fixture struct {
	ca     *pki.CA
	server tls.Certificate
	reg    *registry
	b      *Broker
}

// wideAgent is given every subject by the test's Permissions, to show
// that the JetStream API stays denied.
const wideAgent = "009"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.ServerCertificate(filepath.Join(dir, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := &registry{keys: map[string]string{}, revoked: map[string]bool{}}
	b, err := Start(Options{
		StoreDir:  filepath.Join(dir, "js"),
		Listen:    "127.0.0.1:0",
		TLS:       &tls.Config{Certificates: []tls.Certificate{sc}, ClientCAs: ca.Pool()},
		Authorize: reg.authorize,
		Permissions: func(id string) ([]string, []string) {
			if id == wideAgent {
				return []string{">"}, []string{">"}
			}
			return fleet.Subjects{}.AgentPermissions(id)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Shutdown)
	return &fixture{ca: ca, server: sc, reg: reg, b: b}
}

// enroll issues a certificate for id from ca and, when register is set,
// records its key in the registry.
func (f *fixture) enroll(t *testing.T, ca *pki.CA, id string, register bool) tls.Certificate {
	t.Helper()
	keyPEM, csrPEM, err := pki.NewKeyAndCSR("host-" + id)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignAgent(csrPEM, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if register {
		fp, err := pki.CSRKeyFingerprint(csrPEM)
		if err != nil {
			t.Fatal(err)
		}
		f.reg.mu.Lock()
		f.reg.keys[id] = fp
		f.reg.mu.Unlock()
	}
	return tc
}

// agentConn connects as an agent with cert (nil for none); asyncErrs
// receives the server's asynchronous errors.
func (f *fixture) agentConn(cert *tls.Certificate, asyncErrs chan<- error) (*nats.Conn, error) {
	pool := f.ca.Pool()
	tc := &tls.Config{
		RootCAs:            pool,
		InsecureSkipVerify: true,
		VerifyConnection:   pki.ServerVerifier(pool),
	}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return nats.Connect(f.b.AgentURL(),
		nats.Secure(tc),
		nats.NoReconnect(),
		nats.Timeout(5*time.Second),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if asyncErrs != nil {
				select {
				case asyncErrs <- err:
				default:
				}
			}
		}),
	)
}

func (f *fixture) manager(t *testing.T) *nats.Conn {
	t.Helper()
	nc, err := f.b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func waitErr(t *testing.T, errs <-chan error, want string) {
	t.Helper()
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), want) {
			t.Errorf("async error %q, want one containing %q", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("no async error containing %q", want)
	}
}

func TestManagerJetStream(t *testing.T) {
	f := newFixture(t)
	nc := f.manager(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: fleet.BucketAgents})
	if err != nil {
		t.Fatalf("create KV bucket: %v", err)
	}
	if _, err := kv.Put(ctx, "001", []byte(`{"id":"001"}`)); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "001")
	if err != nil || string(e.Value()) != `{"id":"001"}` {
		t.Fatalf("get: %v %q", err, e)
	}
}

func TestInProcessOnly(t *testing.T) {
	b, err := Start(Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	if u := b.AgentURL(); u != "" {
		t.Errorf("AgentURL = %q without a listener", u)
	}
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("riposte.result.*")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("riposte.result.000", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Errorf("in-process round trip: %v", err)
	}

	// The in-process path still needs the token. (Checked directly: a
	// refused in-process connection waits for the server's write deadline.)
	for _, tok := range []string{"", "guess", b.token + "x"} {
		c := &fakeClient{token: tok}
		if b.check(c) || c.user != nil {
			t.Errorf("in-process connection with token %q accepted", tok)
		}
	}
	c := &fakeClient{token: b.token}
	if !b.check(c) || c.user == nil || c.user.Permissions != nil {
		t.Errorf("in-process connection with the token: user %+v, want full permissions", c.user)
	}
}

// fakeClient is an in-process connection as the server presents it to
// the authenticator.
type fakeClient struct {
	token string
	user  *server.User
}

func (c *fakeClient) GetOpts() *server.ClientOpts                 { return &server.ClientOpts{Token: c.token} }
func (c *fakeClient) GetTLSConnectionState() *tls.ConnectionState { return nil }
func (c *fakeClient) RegisterUser(u *server.User)                 { c.user = u }
func (c *fakeClient) RemoteAddress() net.Addr                     { return nil }
func (c *fakeClient) GetNonce() []byte                            { return nil }
func (c *fakeClient) Kind() int                                   { return server.CLIENT }
func (c *fakeClient) GetID() uint64                               { return 1 }

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		opts Options
	}{
		{"no store", Options{}},
		{"listener without TLS", Options{StoreDir: dir, Listen: "127.0.0.1:0", Authorize: func(string, string) error { return nil }, Permissions: fleet.Subjects{}.AgentPermissions}},
		{"listener without ClientCAs", Options{StoreDir: dir, Listen: "127.0.0.1:0", TLS: &tls.Config{}, Authorize: func(string, string) error { return nil }, Permissions: fleet.Subjects{}.AgentPermissions}},
		{"listener without Authorize", Options{StoreDir: dir, Listen: "127.0.0.1:0", TLS: &tls.Config{ClientCAs: x509.NewCertPool()}, Permissions: fleet.Subjects{}.AgentPermissions}},
		{"bad listen address", Options{StoreDir: dir, Listen: "127.0.0.1", TLS: &tls.Config{ClientCAs: x509.NewCertPool()}, Authorize: func(string, string) error { return nil }, Permissions: fleet.Subjects{}.AgentPermissions}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Start(tt.opts)
			if err == nil {
				b.Shutdown()
				t.Fatal("Start succeeded")
			}
		})
	}
}

func TestAgentPermissions(t *testing.T) {
	f := newFixture(t)
	mgr := f.manager(t)
	cert := f.enroll(t, f.ca, "001", true)
	errs := make(chan error, 10)
	nc, err := f.agentConn(&cert, errs)
	if err != nil {
		t.Fatalf("agent 001 refused: %v", err)
	}
	defer nc.Close()

	results, err := mgr.SubscribeSync("riposte.result.*")
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Flush(); err != nil {
		t.Fatal(err)
	}

	// Its own command subject: received.
	cmds, err := nc.SubscribeSync("riposte.cmd.001")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := mgr.Publish("riposte.cmd.001", []byte("run")); err != nil {
		t.Fatal(err)
	}
	if m, err := cmds.NextMsg(5 * time.Second); err != nil || string(m.Data) != "run" {
		t.Fatalf("agent did not receive its command: %v", err)
	}

	// A forged result, then its own: the manager sees only its own.
	if err := nc.Publish("riposte.result.002", []byte("forged")); err != nil {
		t.Fatal(err)
	}
	waitErr(t, errs, "Permissions Violation")
	if err := nc.Publish("riposte.result.001", []byte("genuine")); err != nil {
		t.Fatal(err)
	}
	m, err := results.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("manager did not receive the result: %v", err)
	}
	if m.Subject != "riposte.result.001" || string(m.Data) != "genuine" {
		t.Errorf("manager received %s %q, want only the genuine result", m.Subject, m.Data)
	}

	// Another agent's commands.
	if _, err := nc.SubscribeSync("riposte.cmd.002"); err != nil {
		t.Fatal(err)
	}
	waitErr(t, errs, "Permissions Violation")
	if err := nc.LastError(); err == nil || !strings.Contains(err.Error(), "Permissions Violation") {
		t.Errorf("LastError = %v", err)
	}

	// No inbox, so no request/reply.
	if _, err := nc.SubscribeSync("_INBOX.x"); err != nil {
		t.Fatal(err)
	}
	waitErr(t, errs, "Permissions Violation")
}

func TestAgentJetStreamDenied(t *testing.T) {
	f := newFixture(t)
	f.manager(t) // JetStream is up
	for _, id := range []string{"001", wideAgent} {
		t.Run(id, func(t *testing.T) {
			cert := f.enroll(t, f.ca, id, true)
			errs := make(chan error, 10)
			nc, err := f.agentConn(&cert, errs)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if err := nc.Publish("$JS.API.INFO", nil); err != nil {
				t.Fatal(err)
			}
			waitErr(t, errs, "Permissions Violation")
			if _, err := nc.SubscribeSync("$JS.API.>"); err != nil {
				t.Fatal(err)
			}
			waitErr(t, errs, "Permissions Violation")
			if err := nc.Publish("$KV."+fleet.BucketAgents+".001", []byte("{}")); err != nil {
				t.Fatal(err)
			}
			waitErr(t, errs, "Permissions Violation")
		})
	}
}

func TestAgentRefused(t *testing.T) {
	f := newFixture(t)
	other, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := f.enroll(t, f.ca, "001", true)
	foreign := f.enroll(t, other, "001", false)
	unknown := f.enroll(t, f.ca, "003", false)
	rekeyed := f.enroll(t, f.ca, "001", false) // same id, key not in the registry

	tests := []struct {
		name string
		cert *tls.Certificate
	}{
		{"no certificate", nil},
		{"another CA", &foreign},
		{"unknown agent", &unknown},
		{"fingerprint mismatch", &rekeyed},
		{"server certificate as client", &f.server},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := f.agentConn(tt.cert, nil)
			if err == nil {
				nc.Close()
				t.Fatal("connection accepted")
			}
		})
	}
	// The good one still connects.
	nc, err := f.agentConn(&good, nil)
	if err != nil {
		t.Fatalf("registered agent refused: %v", err)
	}
	nc.Close()
}

func TestDisconnect(t *testing.T) {
	f := newFixture(t)
	cert := f.enroll(t, f.ca, "001", true)
	closed := make(chan struct{}, 2)
	var conns []*nats.Conn
	for range 2 {
		nc, err := f.agentConn(&cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetClosedHandler(func(*nats.Conn) { closed <- struct{}{} })
		conns = append(conns, nc)
		defer nc.Close()
	}
	other := f.enroll(t, f.ca, "002", true)
	bystander, err := f.agentConn(&other, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bystander.Close()

	f.reg.revoke("001")
	if n := f.b.Disconnect("001"); n != 2 {
		t.Errorf("Disconnect = %d, want 2", n)
	}
	for range conns {
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("agent connection not closed")
		}
	}
	if nc, err := f.agentConn(&cert, nil); err == nil {
		nc.Close()
		t.Error("revoked agent reconnected")
	}
	if err := bystander.Flush(); err != nil {
		t.Errorf("another agent lost its connection: %v", err)
	}
	if n := f.b.Disconnect("001"); n != 0 {
		t.Errorf("second Disconnect = %d, want 0", n)
	}
}
