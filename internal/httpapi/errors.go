package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/users"
)

// Error is the body of every error answer, in the shape of Wazuh's API
// errors: {"title":"Bad Request","detail":"...","error":1650}.
type Error struct {
	Status      int    `json:"-"`
	Title       string `json:"title"`
	Detail      string `json:"detail"`
	Remediation string `json:"remediation,omitempty"`
	// Code is Wazuh's error code, when one applies.
	Code int `json:"error,omitempty"`
	// Items name the bad documents of an alert batch.
	Items []api.ItemError `json:"items,omitempty"`

	cause error // logged, never shown
}

func (e *Error) Error() string {
	if e.cause != nil {
		return e.Detail + ": " + e.cause.Error()
	}
	return e.Detail
}

func (e *Error) Unwrap() error { return e.cause }

// badRequest returns a 400 error with a formatted detail.
func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Detail: fmt.Sprintf(format, args...)}
}

// fail answers err: an *Error as it is, errors of the backend and the user
// store by their kind, anything else as a 500 whose cause is logged with
// the request id and kept out of the answer.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, api.ErrBadRequest), errors.Is(err, users.ErrInvalid):
		e = &Error{Status: http.StatusBadRequest, Detail: err.Error()}
	case errors.Is(err, api.ErrNotFound), errors.Is(err, users.ErrNotFound):
		e = &Error{Status: http.StatusNotFound, Detail: err.Error()}
	case errors.Is(err, users.ErrExists), errors.Is(err, users.ErrLastAdmin):
		e = &Error{Status: http.StatusConflict, Detail: err.Error()}
	case errors.Is(err, context.Canceled):
		return // the client left
	default:
		id := requestID(r.Context())
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", id, "err", err)
		e = &Error{Status: http.StatusInternalServerError, Code: 1000,
			Detail: "internal error; see the server log, request id " + id}
	}
	if e.Status == http.StatusUnauthorized && e.cause != nil {
		s.log.Debug("authentication failed", "path", r.URL.Path, "remote", r.RemoteAddr, "err", e.cause)
	}
	writeError(w, r, e)
}

func writeError(w http.ResponseWriter, r *http.Request, e *Error) {
	if e.Status == 0 {
		e.Status = http.StatusInternalServerError
	}
	if e.Title == "" {
		e.Title = http.StatusText(e.Status)
		if e.Status == http.StatusForbidden {
			e.Title = "Permission Denied"
		}
	}
	if e.Status == http.StatusUnauthorized && r.URL.Path != "/security/user/authenticate" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="riposte"`)
	}
	writeJSONType(w, r, e.Status, "application/problem+json", e)
}

// writeJSON answers v as compact JSON (indented with ?pretty=true), without
// HTML escaping and without a trailing newline, as Wazuh's API does.
func writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	writeJSONType(w, r, code, "application/json", v)
}

func writeJSONType(w http.ResponseWriter, r *http.Request, code int, ctype string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if isTrue(r.URL.Query().Get("pretty")) {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"title":"Internal Server Error","detail":"encoding the answer failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(code)
	_, _ = w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func isTrue(v string) bool { return v == "1" || v == "true" || v == "yes" }

// decodeJSON reads one JSON value from the request body into v. strict
// refuses unknown fields. Errors name the field and are answered 400, or
// 413 for a body over MaxBody.
func decodeJSON(r *http.Request, v any, strict bool) error {
	dec := json.NewDecoder(r.Body)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return bodyError(err)
		}
		return badRequest("request body: more than one JSON value")
	}
	return nil
}

// bodyError turns a JSON decoding error into an answer naming the problem.
func bodyError(err error) *Error {
	var (
		tooBig *http.MaxBytesError
		syn    *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return &Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("request body larger than %d bytes", MaxBody)}
	case errors.Is(err, io.EOF):
		return badRequest("request body: empty; a JSON object is expected")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("request body: truncated JSON")
	case errors.As(err, &syn):
		return badRequest("request body: invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("request body: want a JSON %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return badRequest("request body: field %q: want %s, got %s", typ.Field, jsonKind(typ.Type.String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("request body: unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("request body: %v", err)
}

// jsonKind names a Go type the way a JSON user would read it.
func jsonKind(t string) string {
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"), t == "slice", t == "array":
		return "an array"
	case strings.HasPrefix(t, "map"), t == "struct", t == "map":
		return "an object"
	case t == "time.Time":
		return "an RFC 3339 time"
	}
	return t
}
