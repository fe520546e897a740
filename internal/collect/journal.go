package collect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults for the zero values of JournalOptions.
const (
	DefaultJournalCommand    = "journalctl"
	DefaultMinRestartDelay   = time.Second
	DefaultMaxRestartDelay   = 30 * time.Second
	DefaultJournalStopDelay  = 3 * time.Second
	DefaultJournalEntryBytes = 1 << 20
)

// journalFields are the fields asked of journalctl (--output-fields);
// __CURSOR and __REALTIME_TIMESTAMP are always included.
var journalFields = []string{"_HOSTNAME", "SYSLOG_IDENTIFIER", "_COMM", "_PID", "SYSLOG_PID", "MESSAGE", "_SYSTEMD_UNIT"}

// JournalOptions configures a Journal. The zero value follows the whole
// journal from the moment Run starts.
type JournalOptions struct {
	// Command is the journalctl binary: a path, or a name looked up in
	// PATH. Empty means DefaultJournalCommand.
	Command string

	// Units are systemd units to follow, one -u argument each (for sshd:
	// "ssh.service" on Debian, "sshd.service" elsewhere).
	Units []string

	// SyslogIdentifiers are syslog identifiers to follow, one -t argument
	// each (for sshd: "sshd", and "sshd-session" from OpenSSH 9.8 on).
	// journalctl ORs the values of one option; set Units or
	// SyslogIdentifiers, not both.
	SyslogIdentifiers []string

	// ExtraArgs are added to journalctl's arguments as given (journal
	// matches such as "_COMM=sshd", or --directory=...).
	ExtraArgs []string

	// CursorFile keeps the journal position across restarts. It is passed
	// to journalctl as --cursor-file (journalctl 242 or later) and also
	// written by Run itself with the cursor of the last entry fn accepted:
	// periodically, before journalctl is restarted and when Run returns,
	// since journalctl only saves it when it exits cleanly. While the file
	// does not exist, and always when CursorFile is empty, Run starts at
	// the end of the journal (-n 0): old entries are not replayed.
	CursorFile string

	// SaveEvery is the shortest interval between two writes of CursorFile
	// while entries flow. Zero means DefaultSaveEvery.
	SaveEvery time.Duration

	// MinRestartDelay and MaxRestartDelay bound the delay before
	// journalctl is started again after it exits; the delay doubles after
	// each run that delivered nothing. Zero means DefaultMinRestartDelay
	// and DefaultMaxRestartDelay.
	MinRestartDelay time.Duration
	MaxRestartDelay time.Duration

	// MaxEntryBytes is the longest JSON line accepted from journalctl.
	// Longer entries are skipped and reported through OnError with an
	// error wrapping ErrLineTooLong. Zero means DefaultJournalEntryBytes.
	MaxEntryBytes int

	// OnError, if not nil, is called with problems that do not stop Run:
	// journalctl failing to start or exiting, an entry that cannot be
	// parsed or is too long, a failed write of CursorFile. It is called
	// from the goroutine running Run.
	OnError func(error)
}

// JournalEntry is one journal entry, reduced to what a syslog line holds.
type JournalEntry struct {
	Time       time.Time // __REALTIME_TIMESTAMP
	Hostname   string    // _HOSTNAME
	Identifier string    // SYSLOG_IDENTIFIER, else _COMM
	PID        string    // _PID, else SYSLOG_PID
	Message    string    // MESSAGE
	Unit       string    // _SYSTEMD_UNIT
	Cursor     string    // __CURSOR
}

// SyslogLine formats the entry as a classic syslog line,
// "Mon _2 15:04:05 host ident[pid]: message", in the entry's time zone,
// which the analysis pre-decoder splits into timestamp, hostname, program
// name and message. A missing hostname is written as "localhost", a
// missing PID leaves out the brackets, line breaks in the message become
// spaces, and blanks, control characters, colons and brackets in the
// hostname and identifier become "_" so the header stays parseable.
func (e JournalEntry) SyslogLine() string {
	host := syslogToken(e.Hostname, true)
	if host == "" {
		host = "localhost"
	}
	ident := syslogToken(e.Identifier, false)
	var b strings.Builder
	b.Grow(32 + len(host) + len(e.Identifier) + len(e.PID) + len(e.Message))
	b.WriteString(e.Time.Format(time.Stamp))
	b.WriteByte(' ')
	b.WriteString(host)
	b.WriteByte(' ')
	if ident != "" {
		b.WriteString(ident)
		if e.PID != "" {
			b.WriteByte('[')
			b.WriteString(e.PID)
			b.WriteByte(']')
		}
		b.WriteString(": ")
	}
	msg := strings.TrimRight(e.Message, "\r\n")
	if strings.ContainsAny(msg, "\r\n") {
		msg = strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, msg)
	}
	b.WriteString(msg)
	return b.String()
}

// syslogToken replaces the bytes that would end a header field.
func syslogToken(s string, host bool) string {
	bad := func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '[' || r == ']' || (!host && r == ':')
	}
	if !strings.ContainsFunc(s, bad) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if bad(r) {
			return '_'
		}
		return r
	}, s)
}

// journalJSON is an entry as journalctl --output=json writes it. A field
// is a string, an array of byte values (not valid UTF-8 or unprintable),
// null (too large without --all) or, when the entry has the field several
// times, an array of those.
type journalJSON struct {
	Cursor     json.RawMessage `json:"__CURSOR"`
	Realtime   json.RawMessage `json:"__REALTIME_TIMESTAMP"`
	Hostname   json.RawMessage `json:"_HOSTNAME"`
	Identifier json.RawMessage `json:"SYSLOG_IDENTIFIER"`
	Comm       json.RawMessage `json:"_COMM"`
	PID        json.RawMessage `json:"_PID"`
	SyslogPID  json.RawMessage `json:"SYSLOG_PID"`
	Message    json.RawMessage `json:"MESSAGE"`
	Unit       json.RawMessage `json:"_SYSTEMD_UNIT"`
}

// ParseJournalEntry parses one line of journalctl --output=json.
func ParseJournalEntry(line []byte) (JournalEntry, error) {
	var j journalJSON
	if err := json.Unmarshal(line, &j); err != nil {
		return JournalEntry{}, fmt.Errorf("collect: journal entry: %w", err)
	}
	var e JournalEntry
	var err error
	field := func(raw json.RawMessage, name string) string {
		s, ferr := journalValue(raw)
		if ferr != nil && err == nil {
			err = fmt.Errorf("collect: journal entry: %s: %w", name, ferr)
		}
		return s
	}
	e.Cursor = field(j.Cursor, "__CURSOR")
	e.Hostname = field(j.Hostname, "_HOSTNAME")
	e.Identifier = field(j.Identifier, "SYSLOG_IDENTIFIER")
	if e.Identifier == "" {
		e.Identifier = field(j.Comm, "_COMM")
	}
	e.PID = field(j.PID, "_PID")
	if e.PID == "" {
		e.PID = field(j.SyslogPID, "SYSLOG_PID")
	}
	e.Message = field(j.Message, "MESSAGE")
	e.Unit = field(j.Unit, "_SYSTEMD_UNIT")
	if ts := field(j.Realtime, "__REALTIME_TIMESTAMP"); ts != "" {
		us, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil {
			return JournalEntry{}, fmt.Errorf("collect: journal entry: __REALTIME_TIMESTAMP %q: %w", ts, perr)
		}
		e.Time = time.UnixMicro(us)
	}
	if err != nil {
		return JournalEntry{}, err
	}
	return e, nil
}

// journalValue decodes one field value: a string, an array of bytes, null,
// or an array of those (the first is taken).
func journalValue(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return "", err
		}
		if len(items) == 0 {
			return "", nil
		}
		if first := bytes.TrimSpace(items[0]); len(first) > 0 && (first[0] == '"' || first[0] == '[' || first[0] == 'n') {
			return journalValue(items[0]) // the field occurs several times
		}
		b := make([]byte, len(items))
		for i, it := range items {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(it)), 10, 8)
			if err != nil {
				return "", fmt.Errorf("byte array: %w", err)
			}
			b[i] = byte(n)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("unexpected value %.20s", raw)
}

// Journal follows the systemd journal through journalctl, for hosts where
// programs such as sshd log only there (Debian without rsyslog has no
// /var/log/auth.log).
type Journal struct {
	opts JournalOptions
}

// NewJournal returns a Journal; nothing runs before Run.
func NewJournal(opts JournalOptions) *Journal {
	return &Journal{opts: opts}
}

// JournalAvailable reports whether journalctl is installed and can read the
// journal (journalctl -n 0 succeeds).
func JournalAvailable() bool {
	bin, err := exec.LookPath(DefaultJournalCommand)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, bin, "-n", "0", "--no-pager", "-q").Run() == nil
}

// args returns the arguments journalctl is started with, given whether a
// cursor to resume from exists.
func (j *Journal) args(haveCursor bool) []string {
	args := []string{"--follow", "--output=json", "--no-pager", "--all",
		"--output-fields=" + strings.Join(journalFields, ",")}
	for _, u := range j.opts.Units {
		args = append(args, "-u", u)
	}
	for _, t := range j.opts.SyslogIdentifiers {
		args = append(args, "-t", t)
	}
	if j.opts.CursorFile != "" {
		args = append(args, "--cursor-file="+j.opts.CursorFile)
	}
	if !haveCursor {
		args = append(args, "-n", "0")
	}
	return append(args, j.opts.ExtraArgs...)
}

// errFn marks an error returned by Run's callback.
type errFn struct{ err error }

func (e errFn) Error() string { return e.err.Error() }

// Run starts journalctl and calls fn with every entry, in order, until ctx
// is done; it then returns nil, or the error of the last write of
// CursorFile. If fn returns an error, Run stops and returns it; that entry
// is not counted as consumed. When journalctl exits, the problem is
// reported through OnError and journalctl is started again, after a delay
// that grows while runs deliver nothing, from the last entry fn accepted.
// Run returns an error at once if the journalctl binary is not found. Run
// must not be called concurrently on one Journal.
func (j *Journal) Run(ctx context.Context, fn func(JournalEntry) error) error {
	name := j.opts.Command
	if name == "" {
		name = DefaultJournalCommand
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("collect: journal: %w", err)
	}
	minDelay := cmpOr(j.opts.MinRestartDelay, DefaultMinRestartDelay)
	maxDelay := max(cmpOr(j.opts.MaxRestartDelay, DefaultMaxRestartDelay), minDelay)
	r := &journalRun{j: j, bin: bin, fn: fn}
	delay := minDelay
	for {
		started := time.Now()
		n, err := r.once(ctx)
		var fe errFn
		if errors.As(err, &fe) {
			return errors.Join(fe.err, r.save(true))
		}
		if ctx.Err() != nil {
			return r.save(true)
		}
		if err != nil {
			j.report(err)
		}
		if n > 0 || time.Since(started) > maxDelay {
			delay = minDelay
		}
		if err := r.save(true); err != nil {
			j.report(err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, maxDelay)
	}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (j *Journal) report(err error) {
	if j.opts.OnError != nil {
		j.opts.OnError(err)
	}
}

// journalRun is the state of one call to Run.
type journalRun struct {
	j        *Journal
	bin      string
	fn       func(JournalEntry) error
	cursor   string // last entry fn accepted
	saved    string // last cursor written to CursorFile
	lastSave time.Time
}

// readCursorFile returns the cursor stored in CursorFile, "" if none.
func (r *journalRun) readCursorFile() string {
	if r.j.opts.CursorFile == "" {
		return ""
	}
	b, err := os.ReadFile(r.j.opts.CursorFile)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			r.j.report(fmt.Errorf("collect: journal cursor: %w", err))
		}
		return ""
	}
	return strings.TrimSpace(string(b))
}

// save writes the last accepted cursor to CursorFile if it changed since
// the last save or, with force, after journalctl exited: journalctl may
// have stored the cursor of entries it printed but fn never saw.
func (r *journalRun) save(force bool) error {
	if r.j.opts.CursorFile == "" || r.cursor == "" || r.cursor == r.saved && !force {
		return nil
	}
	if err := writeCursor(r.j.opts.CursorFile, r.cursor); err != nil {
		return err
	}
	r.saved, r.lastSave = r.cursor, time.Now()
	return nil
}

// writeCursor replaces the cursor file through a temporary file.
func writeCursor(name, cursor string) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return fmt.Errorf("collect: journal cursor: %w", err)
	}
	_, err = tmp.WriteString(cursor + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("collect: journal cursor: %w", err)
	}
	return nil
}

// once runs journalctl until it exits, ctx is done or fn fails, and returns
// the number of entries delivered and why it stopped (an errFn when fn
// failed).
func (r *journalRun) once(ctx context.Context) (int, error) {
	opts := &r.j.opts
	start := r.cursor
	if opts.CursorFile != "" {
		// Our position wins over whatever journalctl stored at its exit:
		// it may have printed entries fn never saw.
		if start != "" {
			if err := writeCursor(opts.CursorFile, start); err != nil {
				r.j.report(err)
			} else {
				r.saved = start
			}
		} else {
			start = r.readCursorFile()
		}
	}
	args := r.j.args(start != "")
	if opts.CursorFile == "" && start != "" {
		args = append(args, "--after-cursor="+start)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(runCtx, r.bin, args...)
	// SIGTERM lets journalctl exit cleanly; WaitDelay bounds the wait.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = DefaultJournalStopDelay
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, fmt.Errorf("collect: journal: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("collect: journal: start %s: %w", r.bin, err)
	}

	maxLine := cmpOrInt(opts.MaxEntryBytes, DefaultJournalEntryBytes)
	lines := make(chan journalLine)
	readDone := make(chan error, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		readDone <- readLines(stdout, maxLine, lines, stop)
	}()

	saveEvery := cmpOr(opts.SaveEvery, DefaultSaveEvery)
	ticker := time.NewTicker(saveEvery)
	defer ticker.Stop()
	n := 0
	var stopErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-ticker.C:
			if time.Since(r.lastSave) >= saveEvery {
				if err := r.save(false); err != nil {
					r.j.report(err)
				}
			}
		case line := <-lines:
			if line.err != nil {
				r.j.report(line.err)
				continue
			}
			e, err := ParseJournalEntry(line.text)
			if err != nil {
				r.j.report(err)
				continue
			}
			if err := r.fn(e); err != nil {
				stopErr = errFn{err}
				break loop
			}
			n++
			if e.Cursor != "" {
				r.cursor = e.Cursor
			}
		case err := <-readDone:
			readDone <- err
			break loop
		}
	}
	close(stop)
	if stopErr != nil || ctx.Err() != nil {
		// Stopping on our side. When journalctl exited by itself it is
		// not signalled, so that Wait reports its exit status.
		cancel()
	}
	werr := cmd.Wait()
	wg.Wait()
	if stopErr != nil || ctx.Err() != nil {
		return n, stopErr
	}
	if rerr := <-readDone; rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, os.ErrClosed) {
		werr = errors.Join(werr, rerr)
	}
	msg := strings.TrimSpace(stderr.String())
	if n == 0 && start != "" && strings.Contains(strings.ToLower(msg), "cursor") {
		// A cursor journalctl rejects would fail every restart: forget it
		// and start again at the end of the journal.
		r.cursor, r.saved = "", ""
		if opts.CursorFile != "" {
			if err := os.Remove(opts.CursorFile); err != nil && !errors.Is(err, os.ErrNotExist) {
				r.j.report(fmt.Errorf("collect: journal cursor: %w", err))
			}
		}
	}
	if werr == nil {
		werr = errors.New("exited")
	}
	if msg != "" {
		return n, fmt.Errorf("collect: journal: journalctl: %w: %s", werr, msg)
	}
	return n, fmt.Errorf("collect: journal: journalctl: %w", werr)
}

func cmpOrInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// journalLine is a line read from journalctl, or the error of a line
// skipped.
type journalLine struct {
	text []byte
	err  error
}

// readLines sends copies of r's lines (without line endings) to out until
// r fails or stop is closed. Lines longer than max are skipped and
// reported through out.
func readLines(r io.Reader, max int, out chan<- journalLine, stop <-chan struct{}) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
		if !tooLong {
			if len(line)+len(chunk) > max+1 {
				tooLong, line = true, line[:0]
			} else {
				line = append(line, chunk...)
			}
		}
		if err != nil { // buffer full: the line goes on
			continue
		}
		var l journalLine
		if tooLong {
			tooLong = false
			l.err = fmt.Errorf("collect: journal entry longer than %d bytes skipped: %w", max, ErrLineTooLong)
		} else {
			text := bytes.TrimRight(line, "\r\n")
			line = line[:0]
			if len(text) == 0 {
				continue
			}
			l.text = bytes.Clone(text)
		}
		select {
		case out <- l:
		case <-stop:
			return nil
		}
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
