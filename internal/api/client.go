package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Client talks to a running instance: over its control socket, or over
// its HTTPS API with a token.
type Client struct {
	hc    *http.Client
	base  string
	token string
}

// NewClient returns a client for the API at base ("https://host:55000"),
// through hc.
func NewClient(base string, hc *http.Client) *Client {
	return &Client{hc: hc, base: strings.TrimSuffix(base, "/")}
}

// Login authenticates as Wazuh's API clients do (basic auth, a JWT back);
// later requests carry the token.
func (c *Client) Login(ctx context.Context, user, password string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/security/user/authenticate?raw=true", nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, password)
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the API: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login as %s: %s", user, errorText(resp.Status, b))
	}
	c.token = strings.TrimSpace(string(b))
	return nil
}

// NewSocketClient returns a client for the control socket at path.
func NewSocketClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
	return &Client{hc: &http.Client{Transport: tr}, base: "http://riposte"}
}

// SendAlerts posts alert documents (one document or JSON lines).
func (c *Client) SendAlerts(ctx context.Context, body []byte, opts IngestOptions) (*IngestResponse, error) {
	q := url.Values{}
	if opts.Explain {
		q.Set("explain", "1")
	}
	if opts.DryRun {
		q.Set("dry_run", "1")
	}
	u := c.base + "/v1/alerts"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var out IngestResponse
	if err := c.do(ctx, http.MethodPost, u, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get decodes the JSON answer of a GET on path (such as "/v1/runs") into v.
func (c *Client) Get(ctx context.Context, path string, v any) error {
	return c.do(ctx, http.MethodGet, c.base+path, nil, v)
}

func (c *Client) do(ctx context.Context, method, u string, body []byte, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the running instance: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s", errorText(resp.Status, data))
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	return nil
}

// Post sends body as JSON to path and decodes the JSON answer into v (when
// not nil).
func (c *Client) Post(ctx context.Context, path string, body, v any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding the request: %w", err)
	}
	return c.do(ctx, http.MethodPost, c.base+path, b, v)
}

// Delete sends a DELETE on path and decodes the JSON answer into v (when
// not nil).
func (c *Client) Delete(ctx context.Context, path string, v any) error {
	return c.do(ctx, http.MethodDelete, c.base+path, nil, v)
}

// errorText is the message of an error answer: the control socket's
// {"error": ...} with its items, or the API's {"title", "detail"}.
func errorText(status string, data []byte) string {
	var eb struct {
		ErrorBody
		Detail      string `json:"detail"`
		Remediation string `json:"remediation"`
	}
	_ = json.Unmarshal(data, &eb)
	msg := eb.Error
	if msg == "" {
		msg = eb.Detail
	}
	if msg == "" {
		return status + ": " + strings.TrimSpace(string(data))
	}
	var sb strings.Builder
	sb.WriteString(msg)
	if eb.Remediation != "" {
		sb.WriteString(" (" + eb.Remediation + ")")
	}
	for _, it := range eb.Items {
		if it.Line > 0 {
			fmt.Fprintf(&sb, "\n  alert %d (line %d): %s", it.Item, it.Line, it.Error)
		} else {
			fmt.Fprintf(&sb, "\n  alert %d: %s", it.Item, it.Error)
		}
	}
	return sb.String()
}
