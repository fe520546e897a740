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

	lines sync.Pool // *[]byte buffers lines are built in
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

// timeLayout is the time at the start of each line, in local time.
const timeLayout = "2006/01/02 15:04:05"

// appendHeader appends the start of a line, up to its text.
func appendHeader(b []byte, t time.Time, program string) []byte {
	b = t.AppendFormat(b, timeLayout)
	b = append(b, ' ')
	b = append(b, program...)
	return append(b, ": "...)
}

// endLine ends a line whose text starts at offset text of b: text that does
// not end in a newline gets one; embedded newlines are kept, as Wazuh
// keeps them.
func endLine(b []byte, text int) []byte {
	if len(b) == text || b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b
}

// Log queues one line for program. It returns the error of an earlier
// write that failed, once. A nil Logger does nothing.
func (l *Logger) Log(program, text string) error {
	if l == nil {
		return nil
	}
	bp := l.buffer()
	b := appendHeader(*bp, l.now(), program)
	n := len(b)
	b = append(b, text...)
	*bp = endLine(b, n)
	return l.write(bp)
}

// Logf is Log with a format.
func (l *Logger) Logf(program, format string, args ...any) error {
	if l == nil {
		return nil
	}
	bp := l.buffer()
	b := appendHeader(*bp, l.now(), program)
	n := len(b)
	b = fmt.Appendf(b, format, args...)
	*bp = endLine(b, n)
	return l.write(bp)
}

// buffer returns an empty buffer for one line, to hand to write.
func (l *Logger) buffer() *[]byte {
	if bp, ok := l.lines.Get().(*[]byte); ok {
		*bp = (*bp)[:0]
		return bp
	}
	b := make([]byte, 0, 512)
	return &b
}

// write queues the line built in bp, a buffer from buffer, and keeps the
// buffer for the next line.
func (l *Logger) write(bp *[]byte) error {
	line := *bp
	l.mu.Lock()
	var err error
	if l.f == nil {
		err = fmt.Errorf("active response log %s: closed", l.path)
	} else if _, werr := l.w.Write(line); werr != nil {
		err = fmt.Errorf("active response log %s: %w", l.path, werr)
	}
	l.mu.Unlock()
	if cap(line) <= maxPooled {
		l.lines.Put(bp)
	}
	return err
}

// maxPooled is the largest line buffer kept for reuse.
const maxPooled = 64 << 10

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
