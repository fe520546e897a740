package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PagesOptions configure Pages.
type PagesOptions struct {
	// Path is the list read. Default "/api/v1/responses".
	Path string
	// Limit is the page size. Default 50.
	Limit int
	// Clients is how many requests are in flight at once. Default 1.
	Clients int
	// Requests is how many pages are read (required).
	Requests int
}

// Pages reads o.Requests pages of o.Path (GET ?offset=&limit=) from
// o.Clients concurrent clients, at offsets drawn at random below the total
// the first page reports, and reports. Items counts the items read. The
// answer is read in Wazuh's envelope (data.affected_items,
// data.total_affected_items) or as {items, total}.
func Pages(ctx context.Context, c *Client, o PagesOptions) (*Report, error) {
	if o.Requests <= 0 {
		return nil, errors.New("loadgen: no requests to send")
	}
	if o.Path == "" {
		o.Path = "/api/v1/responses"
	}
	if o.Limit <= 0 {
		o.Limit = 50
	}
	sep := "?"
	if strings.Contains(o.Path, "?") {
		sep = "&"
	}
	page := func(offset int) string {
		return o.Path + sep + "offset=" + strconv.Itoa(offset) + "&limit=" + strconv.Itoa(o.Limit)
	}
	if err := c.Authenticate(ctx); err != nil {
		return nil, err
	}
	// The first page, not counted, gives the total.
	resp, err := c.Do(ctx, http.MethodGet, page(0), nil)
	if err != nil {
		return nil, fmt.Errorf("loadgen: first page: %w", err)
	}
	if resp.Status != http.StatusOK {
		return nil, fmt.Errorf("loadgen: first page: HTTP %d: %s", resp.Status, snippet(resp.Body))
	}
	first := pageSample(Sample{}, resp)
	total := first.Items
	var ans wazuhAnswer
	if json.Unmarshal(resp.Body, &ans) == nil {
		if ans.Data.Total != nil {
			total = *ans.Data.Total
		} else if ans.Total != nil {
			total = *ans.Total
		}
	}
	before := c.Reauths()
	r := run(ctx, o.Clients, o.Requests, func(ctx context.Context, _ int, rng *rand.Rand) Sample {
		offset := 0
		if total > 0 {
			offset = rng.IntN(total)
		}
		start := time.Now()
		resp, err := c.Do(ctx, http.MethodGet, page(offset), nil)
		s := Sample{Latency: time.Since(start)}
		if err != nil {
			s.Err, s.Failed = err, true
			return s
		}
		return pageSample(s, resp)
	})
	r.Reauths = c.Reauths() - before
	r.What, r.ItemsName = "GET "+o.Path+" pages of "+strconv.Itoa(o.Limit)+" (of "+strconv.Itoa(total)+")", "items"
	return r, nil
}

// pageSample reads the answer of a page into s.
func pageSample(s Sample, resp *Response) Sample {
	s.Status = resp.Status
	var ans wazuhAnswer
	decoded := json.Unmarshal(resp.Body, &ans) == nil
	if resp.Status < 200 || resp.Status > 299 || !decoded || ans.Error != 0 {
		s.Failed = true
		if decoded && ans.Error != 0 {
			s.Codes = append(s.Codes, ans.Error)
		}
		return s
	}
	items := ans.Data.AffectedItems
	if len(items) == 0 {
		items = ans.Items
	}
	var list []json.RawMessage
	if len(items) > 0 && json.Unmarshal(items, &list) != nil {
		s.Failed = true
		return s
	}
	s.Items = len(list)
	return s
}
