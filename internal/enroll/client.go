package enroll

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte/riposte/internal/pki"
)

// Files in the agent's data directory.
const (
	IdentityFile = "enrollment.json"
	KeyFile      = "agent.key"
	CertFile     = "agent.pem"
	CAFile       = "ca.pem"
)

// ClientOptions configure [Enroll].
type ClientOptions struct {
	// Manager is the enrollment server's "host:port" (port 1515 when
	// omitted).
	Manager string
	// Token is the enrollment token.
	Token string
	// CAFile is the manager's CA certificate, as copied from the manager.
	// The server's certificate must chain to it; the host name is not
	// checked.
	CAFile string
	// CAPin is the manager's CA pin ("sha256:<hex>", pki.CA.Pin): the CA
	// certificate the server sends must have it. One of CAFile and CAPin is
	// required; with both, both must hold.
	CAPin string
	// Name is the agent's name; Groups and Labels what it asks for.
	Name           string
	Groups, Labels []string
	// Force replaces an agent enrolled under the same name.
	Force bool
	// Dir is the agent's data directory, where the identity is stored.
	Dir string
}

// Identity is what an agent keeps of its enrollment, in Dir/enrollment.json
// beside its key (agent.key, mode 0600), certificate (agent.pem) and the
// manager's CA (ca.pem).
type Identity struct {
	AgentID  string   `json:"agent_id"`
	Name     string   `json:"name"`
	Manager  string   `json:"manager"`
	NATSURLs []string `json:"nats_urls"`
	// Prefix is the subject prefix; empty for the default.
	Prefix string `json:"prefix,omitempty"`
	// Groups and Labels are the ones the agent enrolled with; its
	// heartbeats carry them.
	Groups []string `json:"groups,omitempty"`
	Labels []string `json:"labels,omitempty"`
	// Paths of the files; relative ones are relative to the directory of
	// enrollment.json.
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	CAFile   string `json:"ca_file"`
}

// Enroll enrolls the agent with the manager and stores its identity in
// o.Dir, replacing any earlier one. The key is generated here and never
// sent; the token is sent only after the manager's certificate checked out.
func Enroll(ctx context.Context, o ClientOptions) (*Identity, error) {
	if o.Manager == "" || o.Token == "" || o.Dir == "" {
		return nil, errors.New("enroll: manager, token and directory are required")
	}
	if o.CAFile == "" && o.CAPin == "" {
		return nil, errors.New("enroll: a CA file or a CA pin is required to authenticate the manager")
	}
	if !ValidName(o.Name) {
		return nil, fmt.Errorf("enroll: invalid agent name %q: want 1 to %d of A-Z a-z 0-9 . _ -", o.Name, maxNameLen)
	}
	manager := o.Manager
	if _, _, err := net.SplitHostPort(manager); err != nil {
		manager = net.JoinHostPort(strings.Trim(manager, "[]"), DefaultPort)
	}

	var fileCA *x509.Certificate
	if o.CAFile != "" {
		b, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("enroll: CA file: %w", err)
		}
		if fileCA, err = pki.ParseCertPEM(b); err != nil {
			return nil, fmt.Errorf("enroll: CA file %s: %w", o.CAFile, err)
		}
		if o.CAPin != "" && pki.CertPin(fileCA) != o.CAPin {
			return nil, fmt.Errorf("enroll: CA file %s does not have pin %s", o.CAFile, o.CAPin)
		}
	}
	var serverCA *x509.Certificate // the CA the manager proved it holds
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Go's own check needs the host name; VerifyConnection checks the
		// chain instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			ca := fileCA
			if ca == nil {
				for _, c := range cs.PeerCertificates {
					if c.IsCA && pki.CertPin(c) == o.CAPin {
						ca = c
						break
					}
				}
				if ca == nil {
					return fmt.Errorf("enroll: the manager's CA does not have pin %s", o.CAPin)
				}
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			if err := pki.ServerVerifier(pool)(cs); err != nil {
				return err
			}
			serverCA = ca
			return nil
		},
	}

	keyPEM, csrPEM, err := pki.NewKeyAndCSR(o.Name)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(request{Name: o.Name, CSR: string(csrPEM), Groups: o.Groups, Labels: o.Labels, Force: o.Force})
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+manager+Path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+o.Token)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{TLSClientConfig: tc, TLSHandshakeTimeout: 10 * time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("enroll: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorResponse
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return nil, &Error{StatusCode: resp.StatusCode, Message: e.Error}
	}
	var ans response
	if err := json.Unmarshal(data, &ans); err != nil {
		return nil, fmt.Errorf("enroll: bad answer: %w", err)
	}
	if err := checkAnswer(&ans, serverCA, keyPEM); err != nil {
		return nil, err
	}
	id := &Identity{
		AgentID:  ans.AgentID,
		Name:     ans.Name,
		Manager:  manager,
		NATSURLs: ans.NATSURLs,
		Prefix:   ans.Prefix,
		Groups:   o.Groups,
		Labels:   o.Labels,
		CertFile: CertFile,
		KeyFile:  KeyFile,
		CAFile:   CAFile,
	}
	if err := id.save(o.Dir, keyPEM, []byte(ans.Certificate), pemCert(serverCA)); err != nil {
		return nil, err
	}
	id.resolve(o.Dir)
	return id, nil
}

// checkAnswer checks that the certificate received is for the key and
// chains to the CA the manager proved it holds, and names the agent id.
func checkAnswer(ans *response, ca *x509.Certificate, keyPEM []byte) error {
	if ca == nil {
		return errors.New("enroll: manager not verified")
	}
	if _, err := tls.X509KeyPair([]byte(ans.Certificate), keyPEM); err != nil {
		return fmt.Errorf("enroll: certificate received does not match the key: %w", err)
	}
	cert, err := pki.ParseCertPEM([]byte(ans.Certificate))
	if err != nil {
		return fmt.Errorf("enroll: certificate received: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("enroll: certificate received: %w", err)
	}
	if id, ok := pki.AgentID(cert); !ok || id != ans.AgentID {
		return fmt.Errorf("enroll: certificate received is for %q, not agent %q", cert.Subject.CommonName, ans.AgentID)
	}
	if ans.CA != "" {
		got, err := pki.ParseCertPEM([]byte(ans.CA))
		if err != nil || !got.Equal(ca) {
			return errors.New("enroll: the CA in the answer is not the manager's")
		}
	}
	return nil
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// save writes the key, certificate, CA and identity into dir.
func (id *Identity) save(dir string, keyPEM, certPEM, caPEM []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	js, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	files := []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{KeyFile, keyPEM, 0o600},
		{CertFile, certPEM, 0o644},
		{CAFile, caPEM, 0o644},
		{IdentityFile, append(js, '\n'), 0o644}, // last: it marks a complete enrollment
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return err
		}
	}
	return nil
}

// resolve makes the file paths absolute against dir.
func (id *Identity) resolve(dir string) {
	for _, p := range []*string{&id.CertFile, &id.KeyFile, &id.CAFile} {
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// LoadIdentity reads the identity stored in dir by [Enroll], with its file
// paths made absolute.
func LoadIdentity(dir string) (*Identity, error) {
	b, err := os.ReadFile(filepath.Join(dir, IdentityFile))
	if err != nil {
		return nil, fmt.Errorf("enroll: not enrolled: %w", err)
	}
	var id Identity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, fmt.Errorf("enroll: %s: %w", filepath.Join(dir, IdentityFile), err)
	}
	if id.AgentID == "" || id.CertFile == "" || id.KeyFile == "" || id.CAFile == "" {
		return nil, fmt.Errorf("enroll: %s: incomplete identity", filepath.Join(dir, IdentityFile))
	}
	id.resolve(dir)
	return &id, nil
}

// NATSOptions returns the options to connect to the manager's broker: the
// agent's client certificate and a TLS configuration that trusts only the
// manager's CA, whatever address the manager is reached by.
func (id *Identity) NATSOptions() ([]nats.Option, error) {
	cert, err := tls.LoadX509KeyPair(id.CertFile, id.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("enroll: agent certificate: %w", err)
	}
	b, err := os.ReadFile(id.CAFile)
	if err != nil {
		return nil, fmt.Errorf("enroll: CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("enroll: %s: no CA certificate", id.CAFile)
	}
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		// Only together with VerifyConnection, which checks the chain
		// against the pinned CA without the host name.
		InsecureSkipVerify: true,
		VerifyConnection:   pki.ServerVerifier(pool),
	}
	return []nats.Option{
		nats.Secure(tc),
		nats.Name("riposte-agent " + id.AgentID),
	}, nil
}

// writeFile writes data to path through a temporary file in the same
// directory, so that a reader never sees half a file.
func writeFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("enroll: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("enroll: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("enroll: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	return nil
}
