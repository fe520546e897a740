package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestCommandTree checks every command has a short help and a usage line.
func TestCommandTree(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		n++
		if c.Short == "" {
			t.Errorf("%q has no short help", c.CommandPath())
		}
		if !strings.HasPrefix(c.UseLine(), c.CommandPath()) {
			t.Errorf("%q: usage line %q does not start with the command path", c.CommandPath(), c.UseLine())
		}
		for _, sub := range c.Commands() {
			if !sub.Hidden && sub.Name() != "help" && sub.Name() != "completion" {
				walk(sub)
			}
		}
	}
	walk(newRoot(&streams{}))
	if n < 8 {
		t.Fatalf("only %d commands", n)
	}
}

func TestErrorsNameTheCommand(t *testing.T) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"config", "check", "/nonexistent/riposte.conf"}, strings.NewReader(""), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "/nonexistent/riposte.conf") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	code = Run(context.Background(), []string{"alert", "send", "--data-dir", t.TempDir()}, strings.NewReader(`{"rule":{"id":"1","level":3}}`), &out, &errb)
	if code != 1 || !strings.HasPrefix(errb.String(), "riposte alert send: cannot reach the running instance") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
