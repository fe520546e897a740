package alert

import (
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
// that must not half-apply a batch check len(errs) first. After a document
// that is not valid JSON, reading resumes at the next line that starts with
// '{', so one broken line is one error.
func ParseBatch(b []byte) (alerts []*Alert, errs []*ItemError) {
	off, item := 0, 0
	for {
		for off < len(b) && isSpace(b[off]) {
			off++
		}
		if off >= len(b) {
			return alerts, errs
		}
		item++
		line := lineOf(b, off)
		dec := json.NewDecoder(bytes.NewReader(b[off:]))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = errors.New("invalid alert JSON: unexpected end of input")
			} else {
				err = fmt.Errorf("invalid alert JSON: %w", err)
			}
			errs = append(errs, &ItemError{Item: item, Line: line, Err: err})
			next := nextDocLine(b, off)
			if next < 0 {
				return alerts, errs
			}
			off = next
			continue
		}
		off += int(dec.InputOffset())
		a, err := Parse(raw)
		if err != nil {
			errs = append(errs, &ItemError{Item: item, Line: line, Err: err})
			continue
		}
		alerts = append(alerts, a)
	}
}

// nextDocLine returns the offset of the next line after off that starts
// with '{', or -1.
func nextDocLine(b []byte, off int) int {
	for {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
		if off < len(b) && b[off] == '{' {
			return off
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func lineOf(b []byte, off int) int {
	return bytes.Count(b[:off], []byte("\n")) + 1
}
