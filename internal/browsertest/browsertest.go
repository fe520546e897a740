package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Find returns the path of a Chromium or Chrome binary, or skips the
// test.
func Find(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium, chromium-browser or google-chrome in PATH: skipping the browser test (apt-get install chromium)")
	return ""
}

// Browser drives one headless Chromium tab and saves screenshots.
type Browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
	n     int

	mu      sync.Mutex
	console []chromedp.ConsoleMessage // what the page wrote to its console
}

// New starts the browser exe with one tab, for the test's duration.
// Screenshots go to $RIPOSTE_SCREENSHOTS, else a temporary directory.
func New(t *testing.T, exe string) *Browser {
	t.Helper()
	// Chromium's helper processes may still write in its profile for a
	// moment after it stops: remove the directory with retries.
	profile, err := os.MkdirTemp("", "riposte-console-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if err := os.RemoveAll(profile); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("cannot remove %s", profile)
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.IgnoreCertErrors,
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(profile),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelTab)
	// The first run starts the browser, whose life is tied to the context
	// it is given: give it this one, not a step's shorter one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}

	b := &Browser{t: t, ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()

	shots := os.Getenv("RIPOSTE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)
	b.shots = shots
	return b
}

// CheckConsole fails the test on an uncaught exception or a blocked
// resource (a Content-Security-Policy violation) in the page. Failed
// requests are expected: the test makes the API refuse some.
func (b *Browser) CheckConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if m.IsException() || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") {
			b.t.Errorf("page console: %s", m)
		} else {
			b.t.Logf("page console: %s", m)
		}
	}
}

// Do runs steps, failing the test (after a screenshot) if they do not
// finish within 10 s.
func (b *Browser) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.Shot("failed")
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Wait waits until the JavaScript expression is true.
func (b *Browser) Wait(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!(`+expr+`)`, chromedp.WithPollingTimeout(8*time.Second))); err != nil {
		b.Shot("failed")
		b.t.Fatalf("%s: waiting for %s: %v", what, expr, err)
	}
}

// Eval evaluates a JavaScript expression.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// Shot saves a PNG screenshot of the page.
func (b *Browser) Shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.n++
	p := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Errorf("screenshot: %v", err)
	}
}

// Text is the text content of the first element matching sel.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	return Eval[string](b, `(document.querySelector(`+JSString(sel)+`) || {}).textContent || ''`)
}

// JSString quotes s for JavaScript.
func JSString(s string) string { return fmt.Sprintf("%q", s) }

// CSS is a CSS selector for chromedp.
func CSS(s string) chromedp.CSS { return chromedp.CSS(s) }

// Context is the tab's context, for chromedp calls of the test's own.
func (b *Browser) Context() context.Context { return b.ctx }
