package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// PutOptions configure Put.
type PutOptions struct {
	// Agents are the agent ids every request targets (agents_list;
	// required).
	Agents []string
	// Command is the ar.conf name or !script sent. Default
	// "firewall-drop0".
	Command string
	// Clients is how many requests are in flight at once. Default 1.
	Clients int
	// Requests is how many requests are sent (required).
	Requests int
	// Benchmark takes the addresses from 198.18.0.0/15, the range set
	// aside for benchmarks (RFC 2544; 131,072 addresses), rather than the
	// three TEST-NET blocks (762 addresses): for many distinct blocks.
	Benchmark bool
	// Rate paces the requests, in requests per second over all clients;
	// zero sends each as soon as a client is free (a closed loop, which
	// measures the saturation point rather than the latency at a load).
	Rate float64
}

// putBody is the body of PUT /active-response.
type putBody struct {
	Command   string   `json:"command"`
	Arguments []string `json:"arguments"`
	Alert     putAlert `json:"alert"`
}

type putAlert struct {
	Data struct {
		SrcIP string `json:"srcip"`
	} `json:"data"`
}

// wazuhAnswer is the envelope of Wazuh's API answers, and the fields of
// its error answers (problem+json with the code in "error").
type wazuhAnswer struct {
	Error int `json:"error"`
	Data  struct {
		AffectedItems json.RawMessage `json:"affected_items"`
		Total         *int            `json:"total_affected_items"`
		FailedItems   []struct {
			Error struct {
				Code int `json:"code"`
			} `json:"error"`
			ID []json.RawMessage `json:"id"`
		} `json:"failed_items"`
	} `json:"data"`
	// Riposte's own lists may carry these at the top.
	Items json.RawMessage `json:"items"`
	Total *int            `json:"total"`
}

// Put sends o.Requests PUT /active-response?agents_list=<o.Agents> from
// o.Clients concurrent clients, each with a random TEST-NET (RFC 5737)
// source address in the alert, and reports. Items counts the agents the
// commands were sent to (total_affected_items).
func Put(ctx context.Context, c *Client, o PutOptions) (*Report, error) {
	if len(o.Agents) == 0 {
		return nil, errors.New("loadgen: no agents to send to")
	}
	if o.Requests <= 0 {
		return nil, errors.New("loadgen: no requests to send")
	}
	if o.Command == "" {
		o.Command = "firewall-drop0"
	}
	if err := c.Authenticate(ctx); err != nil {
		return nil, err
	}
	path := "/active-response?agents_list=" + url.QueryEscape(strings.Join(o.Agents, ","))
	before := c.Reauths()
	var lim *rate.Limiter
	if o.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(o.Rate), 1)
	}
	r := run(ctx, o.Clients, o.Requests, func(ctx context.Context, _ int, rng *rand.Rand) Sample {
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return Sample{Err: err, Failed: true}
			}
		}
		body := putBody{Command: o.Command, Arguments: []string{}}
		addr := testNetAddr(rng)
		if o.Benchmark {
			addr = benchmarkAddr(rng)
		}
		body.Alert.Data.SrcIP = addr.String()
		b, err := json.Marshal(body)
		if err != nil {
			return Sample{Err: err, Failed: true}
		}
		start := time.Now()
		resp, err := c.Do(ctx, http.MethodPut, path, b)
		s := Sample{Latency: time.Since(start)}
		if err != nil {
			s.Err, s.Failed = err, true
			return s
		}
		return putSample(s, resp)
	})
	r.Reauths = c.Reauths() - before
	r.What, r.ItemsName = "PUT /active-response", "commands"
	return r, nil
}

// putSample reads the answer of PUT /active-response into s.
func putSample(s Sample, resp *Response) Sample {
	s.Status = resp.Status
	var ans wazuhAnswer
	decoded := json.Unmarshal(resp.Body, &ans) == nil
	if resp.Status < 200 || resp.Status > 299 {
		s.Failed = true
		if decoded && ans.Error != 0 {
			s.Codes = append(s.Codes, ans.Error)
		}
		return s
	}
	if !decoded {
		s.Failed = true
		return s
	}
	s.Failed = ans.Error != 0
	if ans.Data.Total != nil {
		s.Items = *ans.Data.Total
	}
	for _, f := range ans.Data.FailedItems {
		for range max(1, len(f.ID)) {
			s.Codes = append(s.Codes, f.Error.Code)
		}
	}
	return s
}

// testNetAddr returns a random host address of the documentation ranges
// of RFC 5737 (TEST-NET-1, -2 and -3).
// benchmarkAddr is a random host address of 198.18.0.0/15.
func benchmarkAddr(rng *rand.Rand) netip.Addr {
	return netip.AddrFrom4([4]byte{198, byte(18 + rng.IntN(2)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
}

func testNetAddr(rng *rand.Rand) netip.Addr {
	host := byte(1 + rng.IntN(254))
	switch rng.IntN(3) {
	case 0:
		return netip.AddrFrom4([4]byte{192, 0, 2, host})
	case 1:
		return netip.AddrFrom4([4]byte{198, 51, 100, host})
	}
	return netip.AddrFrom4([4]byte{203, 0, 113, host})
}
