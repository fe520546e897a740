package execd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// maxKeysLine is the longest check_keys line read from a script.
const maxKeysLine = 64 << 10

// stderrTail is how much of a script's stderr is kept.
const stderrTail = 4 << 10

// tail keeps the last bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// proc is one running external script, spoken to through its stdin and
// stdout.
type proc struct {
	stdin   io.WriteCloser // nil once closed
	stdout  io.Closer      // nil when closed or not wanted
	reader  *bufio.Reader
	stderr  *tail
	started time.Time
	done    chan struct{}
	code    int // exit status, valid after done; -1 if killed
	cmd     *exec.Cmd
	ctx     context.Context // the run is killed when it ends
}

// startProc runs path with argv0 in dir, stdin a pipe, stdout a pipe when
// wantStdout, stderr captured, in a new session so the whole process group
// can be killed.
func startProc(ctx context.Context, path, argv0, dir string, wantStdout bool) (*proc, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	p := &proc{stdin: inW, stderr: &tail{max: stderrTail}, done: make(chan struct{}), ctx: ctx, code: -1}
	cmd := &exec.Cmd{Path: path, Args: []string{argv0}, Dir: dir, Stdin: inR, Stderr: p.stderr}
	cmd.WaitDelay = time.Second
	setProcGroup(cmd)
	var outW *os.File
	if wantStdout {
		var outR *os.File
		outR, outW, err = os.Pipe()
		if err != nil {
			inR.Close()
			inW.Close()
			return nil, fmt.Errorf("stdout pipe: %w", err)
		}
		cmd.Stdout = outW
		p.stdout = outR
		p.reader = bufio.NewReaderSize(outR, 4096)
	}
	err = cmd.Start()
	inR.Close()
	if outW != nil {
		outW.Close()
	}
	if err != nil {
		inW.Close()
		if p.stdout != nil {
			p.stdout.Close()
		}
		return nil, err
	}
	p.started = time.Now()
	p.cmd = cmd
	go func() {
		_ = cmd.Wait()
		if cmd.ProcessState != nil {
			p.code = cmd.ProcessState.ExitCode()
		}
		close(p.done)
	}()
	return p, nil
}

// write sends one line to the script's stdin.
func (p *proc) write(line []byte) error {
	if p.stdin == nil {
		return errors.New("stdin closed")
	}
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	_, err := p.stdin.Write(buf)
	return err
}

func (p *proc) closeStdin() {
	if p.stdin != nil {
		p.stdin.Close()
		p.stdin = nil
	}
}

func (p *proc) closeStdout() {
	if p.stdout != nil {
		p.stdout.Close()
		p.stdout = nil
	}
}

// readLine reads one line from the script's stdout, waiting at most d. It
// returns io.EOF when the script closed stdout without a line, and
// errTimeout when d passed.
func (p *proc) readLine(d time.Duration) ([]byte, error) {
	type res struct {
		line []byte
		err  error
	}
	ch := make(chan res, 1)
	reader := p.reader
	go func() {
		var line []byte
		for {
			frag, err := reader.ReadSlice('\n')
			line = append(line, frag...)
			if err == bufio.ErrBufferFull {
				if len(line) > maxKeysLine {
					ch <- res{nil, fmt.Errorf("line longer than %d bytes", maxKeysLine)}
					return
				}
				continue
			}
			if err != nil && len(line) == 0 {
				ch <- res{nil, io.EOF}
				return
			}
			ch <- res{trimEOL(line), nil}
			return
		}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-t.C:
		return nil, errTimeout
	case <-p.ctx.Done():
		return nil, errTimeout
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

var errTimeout = errors.New("timed out")

// wait waits for the script to exit, at most d; past it the process group is
// killed. It reports whether the script had to be killed.
func (p *proc) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return false
	case <-t.C:
	case <-p.ctx.Done():
	}
	p.kill()
	<-p.done
	return true
}

// kill ends the run: the script's whole process group.
func (p *proc) kill() {
	killGroup(p.cmd)
	p.closeStdin()
	p.closeStdout()
}

// exitCode is the exit status, or -1 if the run was killed or did not end
// normally. Valid once done is closed.
func (p *proc) exitCode() int { return p.code }
