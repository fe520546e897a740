package config

import (
	"fmt"
	"strings"
)

// Severity says whether a [Problem] stops the configuration from being used.
type Severity int

// Severities of problems.
const (
	// SeverityError makes Load and Parse fail.
	SeverityError Severity = iota
	// SeverityWarning is reported but the configuration is still used.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// Problem is one thing wrong with a configuration, at a place in a file.
// Line is 0 for problems with a whole file, such as one that cannot be read.
type Problem struct {
	Pos
	Severity Severity
	Msg      string
}

// String formats p as "file:line: error: msg" or "file:line: warning: msg".
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Severity, p.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", p.File, p.Severity, p.Msg)
}

// Problems is the error returned by [Load] and [Parse] when a configuration
// has errors. It holds the problems of severity error only; warnings are in
// the []Problem those functions also return.
type Problems []Problem

// Error returns one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func newProblem(file string, line int, sev Severity, format string, args ...any) Problem {
	return Problem{Pos: Pos{File: file, Line: line}, Severity: sev, Msg: fmt.Sprintf(format, args...)}
}
