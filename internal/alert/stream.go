package alert

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ItemError is a problem with one document of a batch.
type ItemError struct {
	Item int   // 1-based position of the document in the batch
	Line int   // 1-based line where it starts, when known
	Err  error // what is wrong
}

func (e *ItemError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("alert %d (line %d): %v", e.Item, e.Line, e.Err)
	}
	return fmt.Sprintf("alert %d: %v", e.Item, e.Err)
}

func (e *ItemError) Unwrap() error { return e.Err }

// ParseBatch reads alert documents from b: one document (which may span
// several lines), JSON lines, or documents simply concatenated. It returns the
// alerts in order and an error for each document that cannot be used; callers
// that must not half-apply a batch check len(errs) first.
func ParseBatch(b []byte) (alerts []*Alert, errs []*ItemError) {
	// First try a stream of JSON values; this accepts both a pretty-printed
	// single document and JSON lines.
	dec := json.NewDecoder(bytes.NewReader(b))
	var raws []json.RawMessage
	var starts []int
	ok := true
	for {
		start := int(dec.InputOffset())
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			ok = false
			break
		}
		raws = append(raws, raw)
		starts = append(starts, lineOf(b, start))
	}
	if ok {
		for i, raw := range raws {
			a, err := Parse(raw)
			if err != nil {
				errs = append(errs, &ItemError{Item: i + 1, Line: starts[i], Err: err})
				continue
			}
			alerts = append(alerts, a)
		}
		return alerts, errs
	}
	// Malformed JSON somewhere: judge line by line so every bad line is named.
	alerts, errs = nil, nil
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line, item := 0, 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		item++
		a, err := Parse(text)
		if err != nil {
			errs = append(errs, &ItemError{Item: item, Line: line, Err: err})
			continue
		}
		alerts = append(alerts, a)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &ItemError{Item: item + 1, Line: line + 1, Err: err})
	}
	return alerts, errs
}

func lineOf(b []byte, off int) int {
	// Skip whitespace the decoder consumed before the value.
	for off < len(b) && (b[off] == ' ' || b[off] == '\n' || b[off] == '\r' || b[off] == '\t') {
		off++
	}
	if off > len(b) {
		off = len(b)
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}
