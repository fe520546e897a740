package collect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const testTimeout = 10 * time.Second

// waitFor polls cond until it holds, failing the test after testTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func numbered(prefix string, from, to int) (lines []string, text string) {
	var b strings.Builder
	for i := from; i <= to; i++ {
		s := fmt.Sprintf("%s-%d", prefix, i)
		lines = append(lines, s)
		b.WriteString(s + "\n")
	}
	return lines, b.String()
}

// memStore is an in-memory OffsetStore.
type memStore struct {
	mu  sync.Mutex
	pos map[string]Position
}

func newMemStore() *memStore { return &memStore{pos: make(map[string]Position)} }

func (s *memStore) Load(path string) (Position, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pos[path]
	return p, ok, nil
}

func (s *memStore) Save(path string, p Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pos[path] = p
	return nil
}

// tailRun is a Tailer running in the background, recording what it sees.
type tailRun struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan error

	mu      sync.Mutex
	lines   []Line // Text copied
	errs    []error
	polls   int
	stopped bool
	err     error
}

// startTail runs a Tailer on path. fn, if not nil, is called after a line
// has been recorded and its error returned to Run; a line whose fn fails is
// removed from the record.
func startTail(t *testing.T, path string, store OffsetStore, opts TailerOptions, fn func(Line) error) *tailRun {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = 10 * time.Millisecond
	}
	r := &tailRun{t: t, done: make(chan error, 1)}
	opts.OnError = func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.errs = append(r.errs, err)
	}
	tl := NewTailer(path, store, opts)
	tl.pollHook = func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.polls++
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.done <- tl.Run(ctx, func(l Line) error {
			if fn != nil {
				if err := fn(l); err != nil {
					return err
				}
			}
			l.Text = slices.Clone(l.Text)
			r.mu.Lock()
			defer r.mu.Unlock()
			r.lines = append(r.lines, l)
			return nil
		})
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *tailRun) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, l := range r.lines {
		s = append(s, string(l.Text))
	}
	return s
}

func (r *tailRun) delivered() []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

func (r *tailRun) errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errs)
}

// waitLines waits until n lines have been delivered and returns them all.
func (r *tailRun) waitLines(n int) []string {
	r.t.Helper()
	waitFor(r.t, fmt.Sprintf("%d lines", n), func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.lines) >= n
	})
	return r.texts()
}

// waitIdle waits until the Tailer has read everything written before the
// call: two polls after it means one full read pass started after it.
func (r *tailRun) waitIdle() {
	r.t.Helper()
	r.mu.Lock()
	target := r.polls + 2
	r.mu.Unlock()
	waitFor(r.t, "tailer to go idle", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.polls >= target
	})
}

// wantLines waits until exactly want has been delivered: it waits for as
// many lines, then for the tailer to go idle, and checks there are no more.
func (r *tailRun) wantLines(want []string) {
	r.t.Helper()
	r.waitLines(len(want))
	r.waitIdle()
	if got := r.texts(); !slices.Equal(got, want) {
		r.t.Fatalf("lines:\n got %q\nwant %q", got, want)
	}
}

// stop cancels the Tailer and returns what Run returned.
func (r *tailRun) stop() error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return r.err
	}
	r.mu.Unlock()
	r.cancel()
	var err error
	select {
	case err = <-r.done:
	case <-time.After(testTimeout):
		r.t.Fatal("Run did not return after cancel")
	}
	r.mu.Lock()
	r.stopped, r.err = true, err
	r.mu.Unlock()
	return err
}

// wait waits for Run to return on its own.
func (r *tailRun) wait() error {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.mu.Lock()
		r.stopped, r.err = true, err
		r.mu.Unlock()
		return err
	case <-time.After(testTimeout):
		r.t.Fatal("Run did not return")
		return nil
	}
}

func TestTailerDeliversLinesInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.json")
	first, text := numbered("a", 1, 3)
	appendFile(t, path, text)
	r := startTail(t, path, nil, TailerOptions{}, nil)
	r.wantLines(first)

	more, text := numbered("b", 1, 5000)
	// Append in uneven pieces so that lines straddle reads.
	for len(text) > 0 {
		n := min(len(text), 7919)
		appendFile(t, path, text[:n])
		text = text[n:]
	}
	r.wantLines(append(first, more...))

	var off int64
	for i, l := range r.delivered() {
		off += int64(len(l.Text)) + 1
		if l.Offset != off {
			t.Fatalf("line %d %q: Offset %d, want %d", i, l.Text, l.Offset, off)
		}
		if l.Path != path {
			t.Fatalf("line %d: Path %q, want %q", i, l.Path, path)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestTailerLineEndings(t *testing.T) {
	tests := []struct {
		name   string
		pieces []string // appended one after the other, idle in between
		want   []string
	}{
		{"lf", []string{"one\ntwo\n"}, []string{"one", "two"}},
		{"crlf", []string{"one\r\ntwo\r\n"}, []string{"one", "two"}},
		{"inner cr kept", []string{"a\rb\r\n"}, []string{"a\rb"}},
		{"empty lines", []string{"\n\r\nx\n"}, []string{"", "", "x"}},
		{"partial waits", []string{"one\ntw", "o\n"}, []string{"one", "two"}},
		{"cr split from lf", []string{"one\r", "\ntwo\n"}, []string{"one", "two"}},
		{"partial in pieces", []string{"a", "b", "c", "\n"}, []string{"abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			appendFile(t, path, "")
			r := startTail(t, path, nil, TailerOptions{}, nil)
			for _, p := range tt.pieces {
				appendFile(t, path, p)
				r.waitIdle()
			}
			r.wantLines(tt.want)
		})
	}
}

func TestTailerPartialLineNotDelivered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	appendFile(t, path, "done\nhalf")
	r := startTail(t, path, nil, TailerOptions{}, nil)
	r.wantLines([]string{"done"})
	appendFile(t, path, " more")
	r.wantLines([]string{"done"})
	appendFile(t, path, "\n")
	r.wantLines([]string{"done", "half more"})
}

func TestTailerFileAppearsLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.json")
	// StartAtEnd applies only to a file present when Run starts.
	r := startTail(t, path, newMemStore(), TailerOptions{StartAtEnd: true}, nil)
	r.waitIdle()
	want, text := numbered("x", 1, 3)
	appendFile(t, path, text)
	r.wantLines(want)
	if errs := r.errors(); len(errs) > 0 {
		t.Errorf("OnError called for a missing file: %v", errs)
	}
}

func TestTailerRotationByRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.json")
	old := filepath.Join(dir, "alerts.json.1")
	store := newMemStore()

	appendFile(t, path, "1\n2\n3\n")
	r := startTail(t, path, store, TailerOptions{SaveEvery: time.Millisecond}, nil)
	r.wantLines([]string{"1", "2", "3"})

	appendFile(t, path, "4\n5\n")
	if err := os.Rename(path, old); err != nil {
		t.Fatal(err)
	}
	// The writer has not reopened yet: it still appends to the old file,
	// ending with a line it never terminates.
	appendFile(t, old, "6\n7")
	r.waitIdle()
	appendFile(t, path, "8\n9\n")
	r.wantLines([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9"})

	appendFile(t, path, "10\n")
	r.wantLines([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"})

	lines := r.delivered()
	if got := lines[6].Offset; got != int64(len("1\n2\n3\n4\n5\n6\n7")) {
		t.Errorf("offset of the last line of the old file: %d", got)
	}
	if got := lines[7].Offset; got != 2 {
		t.Errorf("offset of the first line of the new file: %d, want 2", got)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dev, ino := fileID(fi)
	want := Position{Dev: dev, Inode: ino, Offset: fi.Size()}
	if p, _, _ := store.Load(path); p != want {
		t.Errorf("saved position %+v, want %+v", p, want)
	}
}

func TestTailerRotationRenameAndCreate(t *testing.T) {
	// The new file appears in the same instant the old one is renamed.
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.json")
	appendFile(t, path, "")
	r := startTail(t, path, nil, TailerOptions{}, nil)
	r.waitIdle()
	var want []string
	for round := range 20 {
		lines, text := numbered(fmt.Sprintf("r%d", round), 1, 50)
		want = append(want, lines...)
		appendFile(t, path, text)
		next := path + ".new"
		appendFile(t, next, "")
		if err := os.Rename(path, fmt.Sprintf("%s.%d", path, round)); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(next, path); err != nil {
			t.Fatal(err)
		}
		// A file rotated away before the Tailer ever opened it is not
		// followed: let it switch before the next rotation.
		r.waitLines(len(want))
		r.waitIdle()
	}
	last, text := numbered("last", 1, 3)
	want = append(want, last...)
	appendFile(t, path, text)
	r.wantLines(want)
}

func TestTailerCopyTruncate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	appendFile(t, path, "line-1\nline-2\nline-3\n")
	r := startTail(t, path, nil, TailerOptions{}, nil)
	r.wantLines([]string{"line-1", "line-2", "line-3"})

	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "x\n")
	r.wantLines([]string{"line-1", "line-2", "line-3", "x"})
	appendFile(t, path, "y\n")
	r.wantLines([]string{"line-1", "line-2", "line-3", "x", "y"})
	if got := r.delivered()[4].Offset; got != 4 {
		t.Errorf("offset after truncation: %d, want 4", got)
	}
}

func TestTailerRestartResumes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.json")
	offsets := filepath.Join(dir, "offsets.json")
	opts := TailerOptions{StartAtEnd: true}

	store, err := OpenFileOffsets(offsets)
	if err != nil {
		t.Fatal(err)
	}
	// No saved position: StartAtEnd skips what is already there.
	appendFile(t, path, "old-1\nold-2\n")
	r := startTail(t, path, store, opts, nil)
	r.waitIdle()
	first, text := numbered("a", 1, 5)
	appendFile(t, path, text)
	r.wantLines(first)
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Written while stopped.
	second, text := numbered("b", 1, 3)
	appendFile(t, path, text)

	store, err = OpenFileOffsets(offsets)
	if err != nil {
		t.Fatal(err)
	}
	r = startTail(t, path, store, opts, nil)
	r.wantLines(second)
	third, text := numbered("c", 1, 2)
	appendFile(t, path, text)
	r.wantLines(append(second, third...))
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Nothing new: a third run delivers nothing.
	store, err = OpenFileOffsets(offsets)
	if err != nil {
		t.Fatal(err)
	}
	r = startTail(t, path, store, opts, nil)
	r.waitIdle()
	if got := r.texts(); len(got) != 0 {
		t.Fatalf("third run delivered %q", got)
	}
}

func TestTailerSavesWhileRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	store := newMemStore()
	r := startTail(t, path, store, TailerOptions{SaveEvery: time.Millisecond}, nil)
	appendFile(t, path, "a\nb\nc")
	r.waitLines(2)
	waitFor(t, "position saved", func() bool {
		p, ok, _ := store.Load(path)
		return ok && p.Offset == 4
	})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dev, ino := fileID(fi)
	p, _, _ := store.Load(path)
	if p.Dev != dev || p.Inode != ino {
		t.Errorf("saved identity %d/%d, want %d/%d", p.Dev, p.Inode, dev, ino)
	}
}

func TestTailerChangedWhileStopped(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
		want   []string
	}{
		{
			name: "rotated",
			change: func(t *testing.T, path string) {
				appendFile(t, path, "lost\n") // left behind in the rotated file
				if err := os.Rename(path, path+".1"); err != nil {
					t.Fatal(err)
				}
				appendFile(t, path, "new-1\nnew-2\n")
			},
			want: []string{"new-1", "new-2"},
		},
		{
			name: "truncated",
			change: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte("t\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"t"},
		},
		{
			name:   "removed",
			change: func(t *testing.T, path string) { os.Remove(path) },
			want:   nil,
		},
		{
			name:   "unchanged",
			change: func(t *testing.T, path string) {},
			want:   nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			store := newMemStore()
			opts := TailerOptions{StartAtEnd: true}
			appendFile(t, path, "skipped\n")
			r := startTail(t, path, store, opts, nil)
			r.waitIdle()
			appendFile(t, path, "first-1\nfirst-2\n")
			r.wantLines([]string{"first-1", "first-2"})
			if err := r.stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}

			tt.change(t, path)
			r = startTail(t, path, store, opts, nil)
			r.wantLines(tt.want)
			appendFile(t, path, "after\n")
			r.wantLines(append(tt.want, "after"))
		})
	}
}

func TestTailerStartAtEnd(t *testing.T) {
	tests := []struct {
		name     string
		existing string
		appended string
		want     []string
	}{
		{"complete lines skipped", "old-1\nold-2\n", "new\n", []string{"new"}},
		{"line being written delivered", "old\npart", "ial\nnew\n", []string{"partial", "new"}},
		{"only a partial line", "part", "ial\n", []string{"partial"}},
		{"empty file", "", "new\n", []string{"new"}},
		{"overlong partial line dropped", "old\n" + strings.Repeat("x", 40), "xx\nnew\n", []string{"new"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "alerts.json")
			appendFile(t, path, tt.existing)
			r := startTail(t, path, nil, TailerOptions{StartAtEnd: true, MaxLineBytes: 16}, nil)
			r.waitIdle()
			appendFile(t, path, tt.appended)
			r.wantLines(tt.want)
		})
	}
}

func TestTailerLongLines(t *testing.T) {
	const maxLen = 16
	ok := strings.Repeat("k", maxLen)
	long := strings.Repeat("L", maxLen+1)
	tests := []struct {
		name     string
		pieces   []string
		want     []string
		tooLong  []int64 // offsets reported
		maxBytes int
	}{
		{
			name:    "skipped",
			pieces:  []string{"short\n" + long + "\nafter\n"},
			want:    []string{"short", "after"},
			tooLong: []int64{6},
		},
		{
			name:   "exactly max",
			pieces: []string{ok + "\n" + ok + "\r\n"},
			want:   []string{ok, ok},
		},
		{
			name:    "arrives in pieces",
			pieces:  []string{"a\n" + long + long, long, "\nb\n"},
			want:    []string{"a", "b"},
			tooLong: []int64{2},
		},
		{
			name:    "two in a row",
			pieces:  []string{long + "\n" + long + "\nc\n"},
			want:    []string{"c"},
			tooLong: []int64{0, maxLen + 2},
		},
		{
			name:     "longer than the read buffer",
			pieces:   []string{"a\n" + strings.Repeat("y", 3*readBufferSize+5) + "\nb\n"},
			want:     []string{"a", strings.Repeat("y", 3*readBufferSize+5), "b"},
			maxBytes: 4 * readBufferSize,
		},
		{
			name:     "longer than the read buffer and max",
			pieces:   []string{"a\n" + strings.Repeat("z", 3*readBufferSize) + "\nb\n"},
			want:     []string{"a", "b"},
			tooLong:  []int64{2},
			maxBytes: 2 * readBufferSize,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			appendFile(t, path, "")
			maxBytes := tt.maxBytes
			if maxBytes == 0 {
				maxBytes = maxLen
			}
			r := startTail(t, path, nil, TailerOptions{MaxLineBytes: maxBytes}, nil)
			for _, p := range tt.pieces {
				appendFile(t, path, p)
				r.waitIdle()
			}
			r.wantLines(tt.want)
			errs := r.errors()
			if len(errs) != len(tt.tooLong) {
				t.Fatalf("OnError called %d times, want %d: %v", len(errs), len(tt.tooLong), errs)
			}
			for i, err := range errs {
				if !errors.Is(err, ErrLineTooLong) {
					t.Errorf("error %v does not wrap ErrLineTooLong", err)
				}
				msg := err.Error()
				if !strings.Contains(msg, path) || !strings.Contains(msg, fmt.Sprintf("offset %d ", tt.tooLong[i])) {
					t.Errorf("error %q does not name %s and offset %d", msg, path, tt.tooLong[i])
				}
			}
		})
	}
}

func TestTailerCallbackError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	store, err := OpenFileOffsets(filepath.Join(dir, "offsets.json"))
	if err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	appendFile(t, path, "a\nb\nc\n")
	r := startTail(t, path, store, TailerOptions{}, func(l Line) error {
		if string(l.Text) == "b" {
			return errBoom
		}
		return nil
	})
	if err := r.wait(); !errors.Is(err, errBoom) {
		t.Fatalf("Run returned %v, want %v", err, errBoom)
	}
	if got := r.texts(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("lines before the error: %q", got)
	}
	if p, _, _ := store.Load(path); p.Offset != 2 {
		t.Fatalf("saved offset %d, want 2", p.Offset)
	}

	r = startTail(t, path, store, TailerOptions{}, nil)
	r.wantLines([]string{"b", "c"})
}

func TestTailerErrorOnRotation(t *testing.T) {
	// A callback error on the last, unterminated line of a rotated file.
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	errBoom := errors.New("boom")
	appendFile(t, path, "a\nb")
	r := startTail(t, path, nil, TailerOptions{}, func(l Line) error {
		if string(l.Text) == "b" {
			return errBoom
		}
		return nil
	})
	r.wantLines([]string{"a"})
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "c\n")
	if err := r.wait(); !errors.Is(err, errBoom) {
		t.Fatalf("Run returned %v, want %v", err, errBoom)
	}
}

// failingStore is an OffsetStore that cannot save.
type failingStore struct{}

var errStore = errors.New("store broken")

func (failingStore) Load(string) (Position, bool, error) { return Position{}, false, nil }
func (failingStore) Save(string, Position) error         { return errStore }

func TestTailerSaveFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	store := failingStore{}
	appendFile(t, path, "a\n")
	r := startTail(t, path, store, TailerOptions{SaveEvery: time.Millisecond}, nil)
	r.wantLines([]string{"a"})
	waitFor(t, "save failure reported", func() bool { return len(r.errors()) > 0 })
	if err := r.errors()[0]; !errors.Is(err, errStore) {
		t.Errorf("reported %v, want %v", err, errStore)
	}
	if err := r.stop(); !errors.Is(err, errStore) {
		t.Errorf("Run returned %v, want %v", err, errStore)
	}
}

func TestTailerDirectory(t *testing.T) {
	dir := t.TempDir()
	r := startTail(t, dir, nil, TailerOptions{}, nil)
	if err := r.wait(); err == nil {
		t.Fatal("Run on a directory returned nil")
	}
}

// BenchmarkTailer measures lines per second through Run, with a Tailer
// reading a file already written ("written") and following a file while
// another goroutine appends to it ("appending"). Each operation is
// benchLines lines.
func BenchmarkTailer(b *testing.B) {
	const benchLines = 100_000
	line := `{"timestamp":"2024-01-01T00:00:00.000+0000","rule":{"level":10,"id":"5712","groups":["sshd"]},"agent":{"id":"001"},"data":{"srcip":"192.0.2.1"}}` + "\n"
	chunk := []byte(strings.Repeat(line, 1000))

	// appendLines appends benchLines lines to path, 1000 per write.
	appendLines := func(path string) error {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		for range benchLines / 1000 {
			if _, err := f.Write(chunk); err != nil {
				f.Close()
				return err
			}
		}
		return f.Close()
	}
	// follow runs a Tailer on path until it has delivered benchLines lines.
	follow := func(b *testing.B, path string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tl := NewTailer(path, newMemStore(), TailerOptions{PollInterval: time.Millisecond})
		count := 0
		err := tl.Run(ctx, func(l Line) error {
			if count++; count == benchLines {
				cancel()
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if count != benchLines {
			b.Fatalf("delivered %d lines, want %d", count, benchLines)
		}
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N)*benchLines/b.Elapsed().Seconds(), "lines/s")
	}

	b.Run("written", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "alerts.json")
		if err := appendLines(path); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(benchLines * int64(len(line)))
		for b.Loop() {
			follow(b, path)
		}
		report(b)
	})

	b.Run("appending", func(b *testing.B) {
		dir := b.TempDir()
		b.SetBytes(benchLines * int64(len(line)))
		i := 0
		for b.Loop() {
			path := filepath.Join(dir, fmt.Sprintf("alerts-%d.json", i))
			i++
			errc := make(chan error, 1)
			go func() { errc <- appendLines(path) }()
			follow(b, path)
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := os.Remove(path); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		report(b)
	})
}
