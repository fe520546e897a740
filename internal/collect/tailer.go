package collect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults for the zero values of TailerOptions.
const (
	DefaultPollInterval = 200 * time.Millisecond
	DefaultMaxLineBytes = 1 << 20
	DefaultSaveEvery    = time.Second
)

// readBufferSize is the initial size of a Tailer's read buffer. It grows, up
// to MaxLineBytes plus a line ending, when a line does not fit.
const readBufferSize = 128 << 10

// ErrLineTooLong is wrapped by the error reported through
// TailerOptions.OnError when a line longer than MaxLineBytes is skipped.
var ErrLineTooLong = errors.New("line too long")

// Line is one complete line read from a file, without its line ending
// ("\n" or "\r\n").
type Line struct {
	Path   string // the followed path
	Text   []byte // valid only during the callback
	Offset int64  // file offset just after this line
}

// TailerOptions configures a Tailer. The zero value is usable.
type TailerOptions struct {
	// PollInterval is how often the file is checked for new data,
	// rotation and truncation once everything has been read.
	// Zero means DefaultPollInterval.
	PollInterval time.Duration

	// MaxLineBytes is the longest line delivered, not counting its line
	// ending. Longer lines are skipped, reported through OnError with an
	// error wrapping ErrLineTooLong, and reading goes on after their
	// newline. Zero means DefaultMaxLineBytes.
	MaxLineBytes int

	// StartAtEnd makes a Tailer with no saved position start at the end
	// of the file found when Run starts, so that only lines written from
	// then on are delivered. A line being written at that moment (the
	// file does not end in a newline) is delivered once complete. Files
	// that appear later, or replace the followed one, are always read
	// from the beginning. The zero value false starts at the beginning.
	StartAtEnd bool

	// SaveEvery is the shortest interval between two saves of the
	// position while lines flow. The position is also saved when Run
	// returns. Zero means DefaultSaveEvery.
	SaveEvery time.Duration

	// OnError, if not nil, is called with problems that do not stop Run:
	// a line too long, a path that cannot be opened for a reason other
	// than not existing, a failed periodic save of the position. It is
	// called from the goroutine running Run.
	OnError func(error)
}

// A Tailer follows one file, delivering each complete line once, in order,
// across rotation, truncation and restarts.
//
// While the path does not exist the Tailer waits for it silently. When the
// path is renamed away and a new file created in its place, the old file is
// read to its end, including a last line without a newline, before the new
// file is read from its beginning. When the file shrinks below the read
// offset (copytruncate) it is read again from its beginning. Changes are
// found by polling: a truncation is missed if the file grows back past the
// read offset between two polls, and a file rotated away before the Tailer
// opened it (two rotations within one poll) is never read.
//
// Positions are saved in the OffsetStore, if not nil, and Run resumes from
// the saved one when the path still names the same file (same device and
// inode) and that file is not shorter than the saved offset; otherwise the
// file is read from its beginning. Lines left unread in a file rotated away
// while the Tailer was stopped are not delivered.
type Tailer struct {
	path  string
	store OffsetStore
	opts  TailerOptions

	// pollHook, if not nil, is called each time Run is about to sleep
	// because the file is missing or fully read. Tests use it to know
	// that everything written so far has been seen.
	pollHook func()
}

// NewTailer returns a Tailer that follows path and keeps its position in
// store, which may be nil to keep no position.
func NewTailer(path string, store OffsetStore, opts TailerOptions) *Tailer {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	if opts.SaveEvery <= 0 {
		opts.SaveEvery = DefaultSaveEvery
	}
	return &Tailer{path: path, store: store, opts: opts}
}

// Path returns the followed path.
func (t *Tailer) Path() string { return t.path }

// Run follows the file until ctx is done, calling fn for every complete
// line in order. If fn returns an error, Run stops and returns it; that line
// is not counted as consumed and is delivered again by the next Run. Run
// returns nil when ctx is done, after saving the position; an error saving
// it at that point is returned. Run also stops with an error when the saved
// position cannot be loaded or the file cannot be read (a directory at the
// path, an I/O error). Run must not be called concurrently on one Tailer.
func (t *Tailer) Run(ctx context.Context, fn func(Line) error) (err error) {
	f := &follower{
		t:        t,
		fn:       fn,
		buf:      make([]byte, readBufferSize),
		maxBuf:   max(readBufferSize, t.opts.MaxLineBytes+2),
		lastSave: time.Now(),
	}
	if t.store != nil {
		p, ok, err := t.store.Load(t.path)
		if err != nil {
			return fmt.Errorf("collect: load position of %s: %w", t.path, err)
		}
		if ok {
			f.saved, f.haveSaved, f.persisted = p, true, p
		}
	}
	// Changes to the file wake the follower at once; polling stays as the
	// safety net (and the only mechanism where inotify is unavailable).
	if w, werr := fsnotify.NewWatcher(); werr == nil {
		if w.Add(filepath.Dir(t.path)) == nil {
			f.wake = make(chan struct{}, 1)
			go f.watch(ctx, w)
		}
		defer w.Close()
	}
	defer func() {
		f.closeFile()
		if serr := f.save(); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	return f.run(ctx)
}

// watch turns file-system events on the followed path into wake-ups.
func (f *follower) watch(ctx context.Context, w *fsnotify.Watcher) {
	name := filepath.Clean(f.t.path)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if filepath.Clean(ev.Name) != name {
				continue
			}
			select {
			case f.wake <- struct{}{}:
			default:
			}
		case _, ok := <-w.Errors:
			if !ok {
				return
			}
		}
	}
}

// follower is the state of one call to Run.
type follower struct {
	t  *Tailer
	fn func(Line) error

	saved     Position // position loaded from the store
	haveSaved bool
	opened    bool // a file has been opened at least once

	file     *os.File
	info     os.FileInfo // of file, as opened
	dev, ino uint64      // identity of the current or last file

	// buf[start:end] holds bytes read but not yet consumed. readOff is the
	// file offset of buf[end], off the offset just after the last consumed
	// line. They differ by end-start except while discarding the rest of
	// an overlong line, when off stays at that line's start.
	buf        []byte
	maxBuf     int
	start, end int
	readOff    int64
	off        int64
	discard    bool

	wake chan struct{} // file-system events; nil without a watcher

	persisted    Position // last position saved, or loaded
	lastSave     time.Time
	pathReported bool // a problem with the path has been reported
	timer        *time.Timer
}

func (f *follower) run(ctx context.Context) error {
	firstAttempt := true
	for {
		if ctx.Err() != nil {
			return nil
		}
		if f.file == nil {
			ok, err := f.open(firstAttempt)
			firstAttempt = false
			if err != nil {
				return err
			}
			if !ok {
				if !f.wait(ctx) {
					return nil
				}
				continue
			}
		}
		n, err := f.read()
		if err != nil {
			return err
		}
		if n > 0 {
			f.maybeSave()
			continue
		}
		// At the end of the file: has it been replaced or truncated?
		changed, err := f.check(ctx)
		if err != nil {
			return err
		}
		if changed {
			continue
		}
		f.maybeSave()
		if !f.wait(ctx) {
			return nil
		}
	}
}

// open opens the followed path and chooses where to start reading. It
// reports false, with no error, when the file is not there yet.
func (f *follower) open(firstAttempt bool) (bool, error) {
	path := f.t.path
	file, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			f.reportPath(fmt.Errorf("collect: open %s: %w", path, err))
		}
		return false, nil
	}
	f.pathReported = false
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return false, fmt.Errorf("collect: stat %s: %w", path, err)
	}
	if fi.IsDir() {
		file.Close()
		return false, fmt.Errorf("collect: follow %s: is a directory", path)
	}
	dev, ino := fileID(fi)
	var off int64
	discard := false
	switch {
	case !f.opened && f.haveSaved:
		off = resumeOffset(f.saved, dev, ino, fi.Size())
	case !f.opened && firstAttempt && f.t.opts.StartAtEnd:
		off, discard, err = endOffset(file, fi.Size(), f.t.opts.MaxLineBytes)
		if err != nil {
			file.Close()
			return false, fmt.Errorf("collect: read %s: %w", path, err)
		}
	}
	if off > 0 {
		if _, err := file.Seek(off, io.SeekStart); err != nil {
			file.Close()
			return false, fmt.Errorf("collect: seek %s: %w", path, err)
		}
	}
	f.file, f.info, f.dev, f.ino = file, fi, dev, ino
	f.start, f.end = 0, 0
	f.readOff, f.off = off, off
	f.discard = discard
	f.opened = true
	return true, nil
}

// resumeOffset returns where to resume reading a file of the given identity
// and size from the saved position p.
func resumeOffset(p Position, dev, ino uint64, size int64) int64 {
	known := p.Dev != 0 || p.Inode != 0
	if known && (p.Dev != dev || p.Inode != ino) {
		return 0 // rotated while stopped
	}
	if p.Offset < 0 || p.Offset > size {
		return 0 // truncated while stopped
	}
	return p.Offset
}

// endOffset returns where to start reading a file of the given size so that
// only lines completed from now on are delivered: just after its last
// newline. If that newline lies more than maxLine bytes back, the last line
// is too long to deliver anyway and reading starts at size, discarding up to
// the next newline.
func endOffset(file *os.File, size int64, maxLine int) (off int64, discard bool, err error) {
	if size == 0 {
		return 0, false, nil
	}
	window := min(size, int64(maxLine)+2)
	buf := make([]byte, window)
	if _, err := file.ReadAt(buf, size-window); err != nil {
		return 0, false, err
	}
	switch i := bytes.LastIndexByte(buf, '\n'); {
	case i >= 0:
		return size - window + int64(i) + 1, false, nil
	case window == size:
		return 0, false, nil
	default:
		return size, true, nil
	}
}

// read reads once from the file and delivers the complete lines now in the
// buffer. It returns the number of bytes read, 0 at the end of the file.
func (f *follower) read() (int, error) {
	if f.start == f.end {
		f.start, f.end = 0, 0
	}
	if f.end == len(f.buf) {
		if f.start > 0 {
			f.end = copy(f.buf, f.buf[f.start:f.end])
			f.start = 0
		} else {
			// process keeps fewer than maxBuf bytes pending, so the
			// buffer is below maxBuf here.
			nb := make([]byte, min(2*len(f.buf), f.maxBuf))
			f.end = copy(nb, f.buf[:f.end])
			f.buf = nb
		}
	}
	n, err := f.file.Read(f.buf[f.end:])
	f.end += n
	f.readOff += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("collect: read %s: %w", f.t.path, err)
	}
	if n == 0 {
		return 0, nil
	}
	return n, f.process()
}

// process delivers the complete lines in the buffer.
func (f *follower) process() error {
	maxLine := f.t.opts.MaxLineBytes
	for f.start < f.end {
		data := f.buf[f.start:f.end]
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			// Allow for a "\r" before the newline still to come.
			if !f.discard && len(data) > maxLine+1 {
				f.reportTooLong()
				f.discard = true
			}
			if f.discard {
				f.start, f.end = 0, 0
			}
			return nil
		}
		next := f.readOff - int64(len(data)) + int64(i) + 1
		if f.discard {
			f.discard = false
		} else if err := f.deliver(data[:i], next); err != nil {
			return err
		}
		f.start += i + 1
		f.off = next
	}
	return nil
}

// deliver hands one line, which ends at file offset next, to fn.
func (f *follower) deliver(text []byte, next int64) error {
	if n := len(text); n > 0 && text[n-1] == '\r' {
		text = text[:n-1]
	}
	if len(text) > f.t.opts.MaxLineBytes {
		f.reportTooLong()
		return nil
	}
	return f.fn(Line{Path: f.t.path, Text: text, Offset: next})
}

// check looks, at the end of the file, whether the path now names another
// file or the file has been truncated, and if so switches to reading the new
// file or the truncated one from its beginning. It reports whether it did.
func (f *follower) check(ctx context.Context) (bool, error) {
	fi, err := os.Stat(f.t.path)
	switch {
	case err == nil && !os.SameFile(fi, f.info):
		return true, f.rotate(ctx)
	case err == nil || errors.Is(err, fs.ErrNotExist):
		// Unchanged, or rotated and not yet recreated: keep reading the
		// open file, whose writer may not have moved on yet.
		f.pathReported = false
	default:
		f.reportPath(fmt.Errorf("collect: stat %s: %w", f.t.path, err))
	}
	cur, err := f.file.Stat()
	if err != nil {
		return false, fmt.Errorf("collect: stat %s: %w", f.t.path, err)
	}
	if cur.Size() >= f.readOff {
		return false, nil
	}
	if _, err := f.file.Seek(0, io.SeekStart); err != nil {
		return false, fmt.Errorf("collect: seek %s: %w", f.t.path, err)
	}
	f.start, f.end = 0, 0
	f.readOff, f.off = 0, 0
	f.discard = false
	return true, nil
}

// rotate finishes reading the open file, including a last line without a
// newline, and opens the file now at the path.
func (f *follower) rotate(ctx context.Context) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		n, err := f.read()
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	if f.discard {
		f.discard = false
	} else if f.start < f.end {
		if err := f.deliver(f.buf[f.start:f.end], f.readOff); err != nil {
			return err
		}
	}
	f.start, f.end = 0, 0
	f.off = f.readOff
	f.closeFile()
	_, err := f.open(false)
	return err
}

func (f *follower) closeFile() {
	if f.file != nil {
		f.file.Close() // read-only: nothing to lose
		f.file = nil
	}
}

// wait sleeps for the poll interval. It returns false if ctx is done first.
func (f *follower) wait(ctx context.Context) bool {
	if f.t.pollHook != nil {
		f.t.pollHook()
	}
	if f.timer == nil {
		f.timer = time.NewTimer(f.t.opts.PollInterval)
	} else {
		f.timer.Reset(f.t.opts.PollInterval)
	}
	select {
	case <-ctx.Done():
		f.timer.Stop()
		return false
	case <-f.timer.C:
		return true
	case <-f.wake:
		if !f.timer.Stop() {
			<-f.timer.C
		}
		return true
	}
}

func (f *follower) position() Position {
	return Position{Dev: f.dev, Inode: f.ino, Offset: f.off}
}

func (f *follower) dirty() bool {
	return f.t.store != nil && f.opened && f.position() != f.persisted
}

// maybeSave saves the position if it changed and SaveEvery has passed since
// the last save, reporting a failure through OnError.
func (f *follower) maybeSave() {
	if !f.dirty() {
		return
	}
	now := time.Now()
	if now.Sub(f.lastSave) < f.t.opts.SaveEvery {
		return
	}
	f.lastSave = now
	if err := f.save(); err != nil {
		f.report(err)
	}
}

// save saves the position if it changed.
func (f *follower) save() error {
	if !f.dirty() {
		return nil
	}
	p := f.position()
	if err := f.t.store.Save(f.t.path, p); err != nil {
		return fmt.Errorf("collect: save position of %s: %w", f.t.path, err)
	}
	f.persisted = p
	return nil
}

func (f *follower) reportTooLong() {
	f.report(fmt.Errorf("collect: %s: line at offset %d longer than %d bytes skipped: %w",
		f.t.path, f.off, f.t.opts.MaxLineBytes, ErrLineTooLong))
}

// reportPath reports a problem with the path once until it goes away.
func (f *follower) reportPath(err error) {
	if !f.pathReported {
		f.pathReported = true
		f.report(err)
	}
}

func (f *follower) report(err error) {
	if f.t.opts.OnError != nil {
		f.t.opts.OnError(err)
	}
}
