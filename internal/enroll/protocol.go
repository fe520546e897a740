package enroll

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultPort is the enrollment port, Wazuh's authd port.
const DefaultPort = "1515"

// Path is the enrollment endpoint.
const Path = "/enroll"

// maxBody bounds a request body.
const maxBody = 64 << 10

// Limits on what an applicant sends.
const (
	maxNameLen   = 128
	maxListItems = 64
	maxLabelLen  = 256
)

// request is the JSON body of POST /enroll.
type request struct {
	Name   string   `json:"name"`
	CSR    string   `json:"csr"`
	Groups []string `json:"groups,omitempty"`
	Labels []string `json:"labels,omitempty"`
	Force  bool     `json:"force,omitempty"`
}

// response is the JSON answer to a successful enrollment.
type response struct {
	AgentID     string   `json:"agent_id"`
	Name        string   `json:"name"`
	Certificate string   `json:"certificate"`
	CA          string   `json:"ca"`
	NATSURLs    []string `json:"nats_urls"`
	Prefix      string   `json:"prefix,omitempty"`
}

// errorResponse is the JSON answer to a refused enrollment.
type errorResponse struct {
	Error string `json:"error"`
}

// Error is an enrollment the manager refused: its HTTP status and message.
type Error struct {
	StatusCode int
	Message    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("enroll: manager refused (%d): %s", e.StatusCode, e.Message)
}

// ValidName reports whether name is a valid agent name: 1 to 128 letters,
// digits, dots, underscores and dashes.
func ValidName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validate checks a request's name, groups and labels.
func (r *request) validate() error {
	if !ValidName(r.Name) {
		return fmt.Errorf("invalid agent name %q: want 1 to %d of A-Z a-z 0-9 . _ -", r.Name, maxNameLen)
	}
	if len(r.Groups) > maxListItems || len(r.Labels) > maxListItems {
		return fmt.Errorf("at most %d groups and %d labels", maxListItems, maxListItems)
	}
	for _, g := range r.Groups {
		if !ValidName(g) {
			return fmt.Errorf("invalid group name %q", g)
		}
	}
	for _, l := range r.Labels {
		if l == "" || len(l) > maxLabelLen || strings.ContainsFunc(l, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("invalid label %q", l)
		}
	}
	if r.CSR == "" {
		return errors.New("no certificate request")
	}
	return nil
}
