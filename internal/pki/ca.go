package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside the directories given to [LoadOrCreateCA] and
// [CA.ServerCertificate].
const (
	CACertFile     = "ca.pem"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.pem"
	ServerKeyFile  = "server.key"
)

const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 365 * 24 * time.Hour
	// renewBefore is how long before its expiry a stored server certificate
	// is replaced.
	renewBefore = 30 * 24 * time.Hour
	// backdate allows for clocks of agents slightly behind the manager's.
	backdate = 5 * time.Minute
)

// CA is a manager's certificate authority: its certificate and private key.
// It is safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// LoadOrCreateCA loads the CA stored in dir (ca.pem and ca.key), or creates
// it there when neither file exists: an ECDSA P-256 key (mode 0600) and a
// self-signed certificate valid ten years. dir is created (mode 0700) if
// missing. A directory holding only one of the two files is an error: the
// CA is never silently replaced.
func LoadOrCreateCA(dir string) (*CA, error) {
	certPath := filepath.Join(dir, CACertFile)
	keyPath := filepath.Join(dir, CAKeyFile)
	certOK, err := exists(certPath)
	if err != nil {
		return nil, err
	}
	keyOK, err := exists(keyPath)
	if err != nil {
		return nil, err
	}
	switch {
	case certOK && keyOK:
		return loadCA(certPath, keyPath)
	case certOK:
		return nil, fmt.Errorf("pki: %s exists but its key %s is missing", certPath, keyPath)
	case keyOK:
		return nil, fmt.Errorf("pki: %s exists but its certificate %s is missing", keyPath, certPath)
	}
	return createCA(dir, certPath, keyPath)
}

func createCA(dir, certPath, keyPath string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: create CA directory: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate CA key: %w", err)
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Riposte manager CA " + hex.EncodeToString(suffix), Organization: []string{"Riposte"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	// The key first: a certificate without its key is refused at load.
	if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	certPEM := encodeCert(der)
	if err := writeFile(certPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse new CA certificate: %w", err)
	}
	return &CA{cert: cert, certPEM: certPEM, key: key}, nil
}

func loadCA(certPath, keyPath string) (*CA, error) {
	certs, err := readCerts(certPath)
	if err != nil {
		return nil, err
	}
	cert := certs[0]
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("pki: %s: not a CA certificate", certPath)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", keyPath, err)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("pki: %s does not match the certificate %s", keyPath, certPath)
	}
	return &CA{cert: cert, certPEM: encodeCert(cert.Raw), key: key}, nil
}

// Certificate returns the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate, PEM-encoded.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Pool returns a new pool holding only the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Pin returns "sha256:" followed by the hex SHA-256 of the CA certificate
// (DER), which an agent can be given instead of the CA file.
func (ca *CA) Pin() string { return CertPin(ca.cert) }

// CertPin returns "sha256:" followed by the hex SHA-256 of cert's DER, as
// [CA.Pin].
func CertPin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ServerCertificate loads the server certificate stored in dir (server.pem,
// holding the certificate and then the CA's, and server.key), or issues
// one, when missing, when it was not signed by ca, when it lacks one of
// hosts or expires within 30 days. The certificate names every host in
// hosts (IP addresses and DNS names) plus localhost, 127.0.0.1, ::1 and the
// machine's host name, and is for server authentication only. The returned
// chain includes the CA certificate, so that a client holding only the CA's
// pin can check it.
func (ca *CA) ServerCertificate(dir string, hosts []string) (tls.Certificate, error) {
	ips, names := serverNames(hosts)
	certPath := filepath.Join(dir, ServerCertFile)
	keyPath := filepath.Join(dir, ServerKeyFile)
	// A missing, damaged, foreign or outdated pair is replaced.
	if tc, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && ca.serverCertUsable(tc, ips, names) {
		return tc, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: create certificate directory: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: generate server key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Riposte manager", Organization: []string{"Riposte"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     ca.clamp(now.Add(serverValidity)),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: sign server certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := append(encodeCert(der), ca.certPEM...)
	if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFile(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	tc, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: new server certificate: %w", err)
	}
	return tc, nil
}

// serverCertUsable reports whether a stored server certificate can be kept.
func (ca *CA) serverCertUsable(tc tls.Certificate, ips []net.IP, names []string) bool {
	leaf := tc.Leaf
	if leaf == nil {
		return false
	}
	if time.Until(leaf.NotAfter) < renewBefore {
		return false
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return false
	}
	if len(tc.Certificate) < 2 {
		return false // written without the CA
	}
	for _, ip := range ips {
		if !containsIP(leaf.IPAddresses, ip) {
			return false
		}
	}
	for _, n := range names {
		if !containsFold(leaf.DNSNames, n) {
			return false
		}
	}
	return true
}

// serverNames splits hosts into addresses and DNS names, adding the local
// ones, without duplicates.
func serverNames(hosts []string) (ips []net.IP, names []string) {
	all := append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	if h, err := os.Hostname(); err == nil {
		all = append(all, h)
	}
	for _, h := range all {
		h = strings.TrimSpace(h)
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !containsIP(ips, ip) {
				ips = append(ips, ip)
			}
			continue
		}
		if !containsFold(names, h) {
			names = append(names, h)
		}
	}
	return ips, names
}

func containsIP(list []net.IP, ip net.IP) bool {
	for _, x := range list {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// SignAgent issues a client certificate for agent agentID from a
// PEM-encoded certificate signing request, after checking the request's
// signature. The certificate's subject is "agent:<id>", its URI SAN
// "riposte:agent:<id>", it is for client authentication only and valid for
// validity (never beyond the CA's own expiry). The name the request asked
// for is ignored: the manager decides who the agent is.
func (ca *CA) SignAgent(csrPEM []byte, agentID string, validity time.Duration) (certPEM []byte, err error) {
	if !validAgentID(agentID) {
		return nil, fmt.Errorf("pki: invalid agent id %q", agentID)
	}
	if validity <= 0 {
		return nil, fmt.Errorf("pki: validity %v must be positive", validity)
	}
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: agentPrefix + agentID, Organization: []string{"Riposte"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     ca.clamp(now.Add(validity)),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{{Scheme: "riposte", Opaque: "agent:" + agentID}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign agent %s: %w", agentID, err)
	}
	return encodeCert(der), nil
}

// clamp keeps t within the CA's validity.
func (ca *CA) clamp(t time.Time) time.Time {
	if t.After(ca.cert.NotAfter) {
		return ca.cert.NotAfter
	}
	return t
}

func checkPublicKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize < 256 {
			return fmt.Errorf("pki: ECDSA key of %d bits is too small", k.Curve.Params().BitSize)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("pki: RSA key of %d bits is too small", k.N.BitLen())
		}
	case interface{ Equal(crypto.PublicKey) bool }:
		// Ed25519 and future key types Go can verify.
	default:
		return fmt.Errorf("pki: unsupported public key type %T", pub)
	}
	return nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("pki: %w", err)
}
