package httpapi

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
	"github.com/riposte/riposte/internal/users"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "riposte test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// serve runs e's server over TLS on a random loopback port; it returns the
// base URL, a client trusting the server, and a function that stops the
// server and returns Serve's error.
func (e *env) serve(t testing.TB) (string, *http.Client, func() error) {
	t.Helper()
	cert, pool := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.s.Serve(ctx, ln, cert) }()
	var once sync.Once
	var serr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case serr = <-done:
			case <-time.After(10 * time.Second):
				serr = fmt.Errorf("Serve did not return")
			}
		})
		return serr
	}
	t.Cleanup(func() { _ = stop() })
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool},
		MaxIdleConnsPerHost: 64,
	}}
	t.Cleanup(client.CloseIdleConnections)
	return "https://" + ln.Addr().String(), client, stop
}

func TestServeTLS(t *testing.T) {
	e := newEnv(t)
	base, client, stop := e.serve(t)

	// Log in over HTTPS, then use the token.
	req, _ := http.NewRequest("POST", base+"/security/user/authenticate?raw=true", nil)
	req.SetBasicAuth("reader", testPassword)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, tok)
	}
	req, _ = http.NewRequest("GET", base+"/agents?select=id", nil)
	req.Header.Set("Authorization", "Bearer "+string(tok))
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `{"id":"001"}`) {
		t.Fatalf("GET /agents: %d %s", resp.StatusCode, body)
	}
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state %+v", resp.TLS)
	}

	// TLS 1.1 is refused.
	addr := strings.TrimPrefix(base, "https://")
	old := &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10}
	if c, err := tls.Dial("tcp", addr, old); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
	// Plain HTTP gets no API.
	if resp, err := http.Get("http://" + addr + "/agents"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served the API")
		}
	}

	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := client.Get(base + "/agents"); err == nil {
		t.Fatal("server still answers after stop")
	}
}

// sseReader reads events from a stream.
type sseReader struct {
	sc *bufio.Scanner
}

// next returns the next event name, or "comment" for a comment block.
func (r *sseReader) next() (string, error) {
	name := ""
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case line == "":
			if name != "" {
				return name, nil
			}
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, ":") && name == "":
			name = "comment" + line
		}
	}
	if err := r.sc.Err(); err != nil {
		return "", err
	}
	return "", io.EOF
}

func TestStream(t *testing.T) {
	e := newEnv(t)
	e.s.coalesce = 50 * time.Millisecond
	e.s.keepAlive = 100 * time.Millisecond
	base, client, stop := e.serve(t)

	open := func(target string, hdr string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+target, nil)
		if hdr != "" {
			req.Header.Set("Authorization", "Bearer "+hdr)
		}
		return client.Do(req)
	}
	// Without a token, or with the token in the query of another endpoint.
	for _, target := range []string{"/api/v1/stream", "/api/v1/stats?access_token=" + e.tok[users.ReadOnly]} {
		resp, err := open(target, "")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("%s without a header token: %d", target, resp.StatusCode)
		}
	}

	resp, err := open("/api/v1/stream?access_token="+e.tok[users.ReadOnly], "")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := &sseReader{sc: bufio.NewScanner(resp.Body)}
	if ev, err := r.next(); err != nil || ev != "comment: connected" {
		t.Fatalf("first block %q, %v", ev, err)
	}

	// A burst of changes makes at least one change event, and the stream
	// goes on with keep-alives.
	for range 5 {
		e.b.fire()
	}
	gotChange, gotKeepAlive := false, false
	for !(gotChange && gotKeepAlive) {
		ev, err := r.next()
		if err != nil {
			t.Fatalf("reading stream: %v (change %v, keep-alive %v)", err, gotChange, gotKeepAlive)
		}
		switch ev {
		case "change":
			gotChange = true
		case "comment: keep-alive":
			gotKeepAlive = gotChange
		}
	}

	// Removing the user ends the stream at the next keep-alive.
	if err := e.users.Add("temp", testPassword, users.ReadOnly); err != nil {
		t.Fatal(err)
	}
	u, _ := e.users.Get("temp")
	tok, _, _ := e.users.Issue(u)
	resp2, err := open("/api/v1/stream", tok)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	r2 := &sseReader{sc: bufio.NewScanner(resp2.Body)}
	if ev, err := r2.next(); err != nil || ev != "comment: connected" {
		t.Fatalf("second stream: %q, %v", ev, err)
	}
	if err := e.users.Remove("temp"); err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := r2.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		_ = ev // keep-alives, then "expired"
	}

	// Stopping the server ends the first stream and Serve returns.
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	for {
		if _, err := r.next(); err != nil {
			break
		}
	}
}

func TestStreamCoalesces(t *testing.T) {
	e := newEnv(t)
	e.s.coalesce = 300 * time.Millisecond
	e.s.keepAlive = time.Hour
	base, client, _ := e.serve(t)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+e.tok[users.ReadOnly])
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := &sseReader{sc: bufio.NewScanner(resp.Body)}
	if _, err := r.next(); err != nil {
		t.Fatal(err)
	}
	// Ten changes in quick succession: the first makes an event at once,
	// the rest (within the interval) exactly one more.
	e.b.fire()
	if ev, err := r.next(); err != nil || ev != "change" {
		t.Fatalf("%q, %v", ev, err)
	}
	for range 9 {
		e.b.fire()
	}
	if ev, err := r.next(); err != nil || ev != "change" {
		t.Fatalf("%q, %v", ev, err)
	}
	// No third event: the next block is the one after a new change.
	marker := make(chan string, 1)
	go func() {
		ev, _ := r.next()
		marker <- ev
	}()
	select {
	case ev := <-marker:
		t.Fatalf("unexpected event %q after a coalesced burst", ev)
	case <-time.After(2 * e.s.coalesce):
	}
	e.b.fire()
	if ev := <-marker; ev != "change" {
		t.Fatalf("%q", ev)
	}
}

// BenchmarkPutActiveResponse100Agents sends PUT /active-response for 100
// active agents from 50 parallel clients over a real TLS listener and
// reports the 50th and 99th percentile latency per request.
func BenchmarkPutActiveResponse100Agents(b *testing.B) {
	e := newEnv(b)
	e.b.delivery = nil
	e.b.disabled = nil
	e.b.agents = e.b.agents[:1] // the manager
	for i := 1; i <= 100; i++ {
		e.b.agents = append(e.b.agents, manager.AgentStatus{Agent: fleet.Agent{ID: fleet.FormatAgentID(i), Name: fmt.Sprintf("a%d", i)}, Status: "active"})
	}
	bs := &benchBackend{fakeBackend: e.b}
	s, err := New(Options{Backend: bs, Users: e.users})
	if err != nil {
		b.Fatal(err)
	}
	e.s = s
	base, client, _ := e.serve(b)
	tok := e.tok[users.Operator]
	body := `{"command":"firewall-drop600","arguments":[],"alert":{"data":{"srcip":"203.0.113.7"}}}`

	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(max(1, 50/max(1, runtime.GOMAXPROCS(0))))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			req, _ := http.NewRequest("PUT", base+"/active-response", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(t0))
			if resp.StatusCode != 200 || !strings.Contains(string(out), `"total_affected_items":100,`) {
				b.Errorf("%d %.200s", resp.StatusCode, out)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// benchBackend keeps no record of sends, so memory stays flat.
type benchBackend struct {
	*fakeBackend
}

func (f *benchBackend) Send(ctx context.Context, agents []string, c ARCommand, extraArgs []string, alertDoc json.RawMessage) map[string]string {
	out := make(map[string]string, len(agents))
	for _, a := range agents {
		out[a] = manager.Sent
	}
	return out
}

func (f *benchBackend) Record(ctx context.Context, r AuditRecord) {}
