package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBody bounds the response body read from the API.
const maxBody = 16 << 20

// ClientOptions configure a Client.
type ClientOptions struct {
	// API is the base URL of the manager's HTTPS API
	// ("https://127.0.0.1:55000"; required).
	API string
	// User and Password are the API user's credentials (required).
	User, Password string
	// CAFile is a PEM file of the certificates to trust for the API's
	// certificate instead of the system's.
	CAFile string
	// Insecure skips the verification of the API's certificate.
	Insecure bool
	// Conns is how many connections may be kept open to the API (one per
	// concurrent client). Default 2.
	Conns int
	// Timeout bounds each request. Default 30s.
	Timeout time.Duration
}

// Client talks to the manager's API with a JWT, shared by every goroutine
// that uses the Client. It speaks HTTP/1.1, one connection per concurrent
// request, as Wazuh's API clients do.
type Client struct {
	base *url.URL
	o    ClientOptions
	hc   *http.Client

	mu    sync.Mutex // serialises authentications
	token atomic.Pointer[token]
	// reauths counts authentications after the first.
	reauths atomic.Int64
}

// token is a JWT and its generation, so that of many requests refused
// with the same token only one authenticates again.
type token struct {
	jwt string
	gen int
}

// NewClient checks the options and prepares a Client; it does not connect.
func NewClient(o ClientOptions) (*Client, error) {
	if o.API == "" || o.User == "" || o.Password == "" {
		return nil, errors.New("loadgen: the API URL, user and password are required")
	}
	base, err := url.Parse(strings.TrimRight(o.API, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("loadgen: API URL %q: want https://host:port", o.API)
	}
	if o.Conns <= 0 {
		o.Conns = 2
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.Insecure}
	if o.CAFile != "" {
		b, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("loadgen: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("loadgen: CA file %s: no certificate", o.CAFile)
		}
		tc.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        o.Conns,
		MaxIdleConnsPerHost: o.Conns,
		IdleConnTimeout:     90 * time.Second,
	}
	c := &Client{base: base, o: o, hc: &http.Client{Transport: tr, Timeout: o.Timeout}}
	c.token.Store(&token{})
	return c, nil
}

// Close closes the idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Reauths is how many times the client authenticated again after a 401.
func (c *Client) Reauths() int64 { return c.reauths.Load() }

// Authenticate gets a JWT with POST /security/user/authenticate and basic
// authentication.
func (c *Client) Authenticate(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authenticate(ctx)
}

// authenticate does Authenticate's work; c.mu is held.
func (c *Client) authenticate(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/security/user/authenticate"), nil)
	if err != nil {
		return fmt.Errorf("loadgen: authenticate: %w", err)
	}
	req.SetBasicAuth(c.o.User, c.o.Password)
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("loadgen: authenticate: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("loadgen: authenticate: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("loadgen: authenticate: %s: %s", resp.Status, snippet(b))
	}
	var ans struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &ans); err != nil || ans.Data.Token == "" {
		return fmt.Errorf("loadgen: authenticate: no token in the answer: %s", snippet(b))
	}
	old := c.token.Load()
	c.token.Store(&token{jwt: ans.Data.Token, gen: old.gen + 1})
	return nil
}

// reauthenticate authenticates after a 401 with the token of generation
// gen (again: true) or for lack of a token, unless another request already
// did.
func (c *Client) reauthenticate(ctx context.Context, gen int, again bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token.Load().gen != gen {
		return nil
	}
	if again {
		c.reauths.Add(1)
	}
	return c.authenticate(ctx)
}

// Response is an answer of the API.
type Response struct {
	Status int
	Body   []byte
}

// Do sends a request with the JWT (authenticating first if the client has
// none) and reads the answer. On 401 it authenticates again and sends the
// request once more. body may be nil; a non-nil body is sent as JSON. An
// error means no answer was read (or the authentication failed).
func (c *Client) Do(ctx context.Context, method, path string, body []byte) (*Response, error) {
	tok := c.token.Load()
	if tok.jwt == "" {
		if err := c.reauthenticate(ctx, tok.gen, false); err != nil {
			return nil, err
		}
		tok = c.token.Load()
	}
	resp, err := c.send(ctx, method, path, body, tok.jwt)
	if err != nil || resp.Status != http.StatusUnauthorized {
		return resp, err
	}
	if err := c.reauthenticate(ctx, tok.gen, true); err != nil {
		return nil, err
	}
	return c.send(ctx, method, path, body, c.token.Load().jwt)
}

func (c *Client) send(ctx context.Context, method, path string, body []byte, jwt string) (*Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), r)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+jwt)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Body: b}, nil
}

func (c *Client) url(path string) string { return c.base.String() + path }

// Agents lists the ids of the agents GET /agents reports as active, but
// the manager (000), which PUT /active-response refuses (Wazuh error
// 1703); inactive agents would only add error 1707.
func (c *Client) Agents(ctx context.Context) ([]string, error) {
	const limit = 500
	var ids []string
	seen := make(map[string]bool)
	for offset := 0; ; {
		resp, err := c.Do(ctx, http.MethodGet, "/agents?offset="+strconv.Itoa(offset)+"&limit="+strconv.Itoa(limit), nil)
		if err != nil {
			return nil, fmt.Errorf("loadgen: listing agents: %w", err)
		}
		if resp.Status != http.StatusOK {
			return nil, fmt.Errorf("loadgen: listing agents: HTTP %d: %s", resp.Status, snippet(resp.Body))
		}
		var ans struct {
			Data struct {
				Items []struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				} `json:"affected_items"`
				Total int `json:"total_affected_items"`
			} `json:"data"`
		}
		if err := json.Unmarshal(resp.Body, &ans); err != nil {
			return nil, fmt.Errorf("loadgen: listing agents: %w", err)
		}
		for _, a := range ans.Data.Items {
			if a.ID != "000" && a.Status == "active" && !seen[a.ID] {
				seen[a.ID] = true
				ids = append(ids, a.ID)
			}
		}
		// The server may cap the limit: go on from what it gave.
		offset += len(ans.Data.Items)
		if len(ans.Data.Items) == 0 || offset >= ans.Data.Total {
			return ids, nil
		}
	}
}

// snippet shortens an answer for an error message.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
