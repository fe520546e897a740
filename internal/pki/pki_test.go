package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newCA(t *testing.T) (*CA, string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ca, dir
}

func TestLoadOrCreateCA(t *testing.T) {
	ca, dir := newCA(t)
	cert := ca.Certificate()
	if !cert.IsCA || !strings.HasPrefix(cert.Subject.CommonName, "Riposte manager CA ") {
		t.Errorf("CA certificate: IsCA=%v CN=%q", cert.IsCA, cert.Subject.CommonName)
	}
	if got := cert.NotAfter.Sub(cert.NotBefore); got < 9*365*24*time.Hour {
		t.Errorf("CA validity %v, want about ten years", got)
	}
	st, err := os.Stat(filepath.Join(dir, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", st.Mode().Perm())
	}

	again, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Pin() != ca.Pin() {
		t.Errorf("reloaded CA pin %s, want %s", again.Pin(), ca.Pin())
	}
	if !strings.HasPrefix(ca.Pin(), "sha256:") || len(ca.Pin()) != len("sha256:")+64 {
		t.Errorf("pin %q", ca.Pin())
	}
	if c, err := ParseCertPEM(ca.CertPEM()); err != nil || CertPin(c) != ca.Pin() {
		t.Errorf("CertPEM does not hold the CA: %v", err)
	}

	other, _ := newCA(t)
	if other.Pin() == ca.Pin() || other.Certificate().Subject.CommonName == cert.Subject.CommonName {
		t.Error("two CAs share a pin or a name")
	}
}

func TestLoadOrCreateCAErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"key missing", func(dir string) { os.Remove(filepath.Join(dir, CAKeyFile)) }, CAKeyFile},
		{"cert missing", func(dir string) { os.Remove(filepath.Join(dir, CACertFile)) }, CACertFile},
		{"bad cert", func(dir string) { os.WriteFile(filepath.Join(dir, CACertFile), []byte("junk"), 0o644) }, CACertFile},
		{"bad key", func(dir string) { os.WriteFile(filepath.Join(dir, CAKeyFile), []byte("junk"), 0o600) }, CAKeyFile},
		{"foreign key", func(dir string) {
			key, _, err := NewKeyAndCSR("x")
			if err != nil {
				panic(err)
			}
			os.WriteFile(filepath.Join(dir, CAKeyFile), key, 0o600)
		}, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir := newCA(t)
			tt.setup(dir)
			_, err := LoadOrCreateCA(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestServerCertificate(t *testing.T) {
	ca, dir := newCA(t)
	sdir := filepath.Join(dir, "server")
	tc, err := ca.ServerCertificate(sdir, []string{"manager.example", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tc.Certificate) != 2 {
		t.Fatalf("chain of %d certificates, want leaf and CA", len(tc.Certificate))
	}
	leaf := tc.Leaf
	for _, h := range []string{"manager.example", "192.0.2.7", "localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("server certificate does not name %s: %v", h, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("server certificate does not verify: %v", err)
	}
	if st, err := os.Stat(filepath.Join(sdir, ServerKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("server key: %v %v", st, err)
	}

	// Same hosts (a subset): kept.
	kept, err := ca.ServerCertificate(sdir, []string{"192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if kept.Leaf.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Error("certificate reissued although it names every host")
	}
	// A new host: reissued.
	re, err := ca.ServerCertificate(sdir, []string{"192.0.2.8"})
	if err != nil {
		t.Fatal(err)
	}
	if re.Leaf.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Error("certificate kept although a host is missing")
	}
	if !containsIP(re.Leaf.IPAddresses, net.ParseIP("192.0.2.8")) {
		t.Error("reissued certificate lacks the new host")
	}
	// Signed by another CA: reissued.
	other, _ := newCA(t)
	if _, err := other.ServerCertificate(sdir, nil); err != nil {
		t.Fatal(err)
	}
	mine, err := ca.ServerCertificate(sdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ServerVerifier(ca.Pool())(tls.ConnectionState{PeerCertificates: []*x509.Certificate{mine.Leaf}}); err != nil {
		t.Errorf("certificate of another CA kept: %v", err)
	}
}

func TestSignAgent(t *testing.T) {
	ca, _ := newCA(t)
	keyPEM, csrPEM, err := NewKeyAndCSR("web-01")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignAgent(csrPEM, "001", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("certificate does not match the key: %v", err)
	}
	cert, err := ParseCertPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := AgentID(cert); !ok || id != "001" {
		t.Errorf("AgentID = %q, %v; want 001", id, ok)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != "riposte:agent:001" {
		t.Errorf("URIs = %v", cert.URIs)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("ExtKeyUsage = %v, want client auth only", cert.ExtKeyUsage)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("agent certificate does not verify: %v", err)
	}
	fp, err := CSRKeyFingerprint(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	if fp != KeyFingerprint(cert) || !strings.HasPrefix(fp, "sha256:") {
		t.Errorf("CSR fingerprint %s, certificate %s", fp, KeyFingerprint(cert))
	}

	// An agent certificate is no server certificate.
	err = ServerVerifier(ca.Pool())(tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}})
	if err == nil {
		t.Error("ServerVerifier accepted an agent certificate")
	}
}

func TestSignAgentRefuses(t *testing.T) {
	ca, _ := newCA(t)
	_, csrPEM, err := NewKeyAndCSR("web-01")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(csrPEM)
	bad := append([]byte(nil), block.Bytes...)
	bad[len(bad)-3] ^= 0xff // in the signature
	badPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: bad})

	tests := []struct {
		name     string
		csr      []byte
		id       string
		validity time.Duration
	}{
		{"bad signature", badPEM, "001", time.Hour},
		{"not PEM", []byte("hello"), "001", time.Hour},
		{"certificate instead", ca.CertPEM(), "001", time.Hour},
		{"id not digits", csrPEM, "00a", time.Hour},
		{"empty id", csrPEM, "", time.Hour},
		{"no validity", csrPEM, "001", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ca.SignAgent(tt.csr, tt.id, tt.validity); err == nil {
				t.Error("SignAgent succeeded")
			}
		})
	}
	if _, err := CSRKeyFingerprint(badPEM); err == nil {
		t.Error("CSRKeyFingerprint accepted a bad signature")
	}
}

func TestAgentID(t *testing.T) {
	tests := []struct {
		cn   string
		want string
		ok   bool
	}{
		{"agent:001", "001", true},
		{"agent:12345678", "12345678", true},
		{"agent:", "", false},
		{"agent:01x", "", false},
		{"Agent:001", "", false},
		{"001", "", false},
		{"agent:001 ", "", false},
	}
	for _, tt := range tests {
		c := &x509.Certificate{}
		c.Subject.CommonName = tt.cn
		got, ok := AgentID(c)
		if got != tt.want || ok != tt.ok {
			t.Errorf("AgentID(%q) = %q, %v; want %q, %v", tt.cn, got, ok, tt.want, tt.ok)
		}
	}
}

func TestServerVerifier(t *testing.T) {
	ca, dir := newCA(t)
	tc, err := ca.ServerCertificate(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, odir := newCA(t)
	otc, err := other.ServerCertificate(odir, nil)
	if err != nil {
		t.Fatal(err)
	}
	verify := ServerVerifier(ca.Pool())
	if err := verify(tls.ConnectionState{PeerCertificates: []*x509.Certificate{tc.Leaf}}); err != nil {
		t.Errorf("own server certificate refused: %v", err)
	}
	if err := verify(tls.ConnectionState{PeerCertificates: []*x509.Certificate{otc.Leaf}}); err == nil {
		t.Error("server certificate of another CA accepted")
	}
	if err := verify(tls.ConnectionState{}); err == nil {
		t.Error("no certificate accepted")
	}

	// Over a real handshake, reaching the server by a name it lacks.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{tc}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		ServerName:         "not-in-the-certificate.example",
		InsecureSkipVerify: true,
		VerifyConnection:   ServerVerifier(ca.Pool()),
	})
	if err != nil {
		t.Errorf("handshake with the pinned CA: %v", err)
	} else {
		c.Close()
	}
	_, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, VerifyConnection: ServerVerifier(other.Pool())})
	if err == nil {
		t.Error("handshake with another CA's pin succeeded")
	}
}
