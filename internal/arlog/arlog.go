// Package arlog writes active-responses.log in Wazuh's line format:
//
//	YYYY/MM/DD HH:MM:SS <program>: <text>
//
// in local time, where program is the path the response was run as
// ("active-response/bin/firewall-drop"). The file is opened in append mode
// and lines are written whole (a burst of them in one write, by a
// background goroutine, so that a thousand concurrent runs do not queue
// for the file), so several processes (execd and the scripts it runs) can
// share it.
package arlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/riposte/riposte/internal/groupwrite"
)

// Logger appends lines to one active-responses.log file. It is safe for
// concurrent use.
type Logger struct {
	path string
	now  func() time.Time

	mu sync.Mutex
	f  *os.File
	w  *groupwrite.Writer
}

// Open opens (creating it and its directory if needed) the log at path.
func Open(path string) (*Logger, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("active response log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("active response log: %w", err)
	}
	return &Logger{path: path, now: time.Now, f: f, w: groupwrite.New(f, 0)}, nil
}

// Path returns the file the logger writes to.
func (l *Logger) Path() string { return l.path }

// Line formats one log line for program and text, without writing it. Text
// that does not end in a newline gets one; embedded newlines are kept, as
// Wazuh keeps them.
func Line(t time.Time, program, text string) string {
	var sb strings.Builder
	sb.Grow(len(program) + len(text) + 24)
	sb.WriteString(t.Format("2006/01/02 15:04:05"))
	sb.WriteByte(' ')
	sb.WriteString(program)
	sb.WriteString(": ")
	sb.WriteString(text)
	if !strings.HasSuffix(text, "\n") {
		sb.WriteByte('\n')
	}
	return sb.String()
}

// Log queues one line for program. It returns the error of an earlier
// write that failed, once. A nil Logger does nothing.
func (l *Logger) Log(program, text string) error {
	if l == nil {
		return nil
	}
	line := Line(l.now(), program, text)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("active response log %s: closed", l.path)
	}
	if _, err := l.w.Write([]byte(line)); err != nil {
		return fmt.Errorf("active response log %s: %w", l.path, err)
	}
	return nil
}

// Flush waits until the lines logged so far are in the file.
func (l *Logger) Flush() error {
	if l == nil {
		return nil
	}
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("active response log %s: %w", l.path, err)
	}
	return nil
}

// Logf is Log with a format.
func (l *Logger) Logf(program, format string, args ...any) error {
	return l.Log(program, fmt.Sprintf(format, args...))
}

// Close closes the file.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := errors.Join(l.w.Close(), l.f.Close())
	l.f = nil
	return err
}
