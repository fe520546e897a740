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

// Client talks to a running instance over its control socket.
type Client struct {
	hc   *http.Client
	base string
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
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the running instance: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			var sb strings.Builder
			sb.WriteString(eb.Error)
			for _, it := range eb.Items {
				if it.Line > 0 {
					fmt.Fprintf(&sb, "\n  alert %d (line %d): %s", it.Item, it.Line, it.Error)
				} else {
					fmt.Fprintf(&sb, "\n  alert %d: %s", it.Item, it.Error)
				}
			}
			return fmt.Errorf("%s", sb.String())
		}
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
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
