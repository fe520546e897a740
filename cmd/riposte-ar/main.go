// Command riposte-ar holds Riposte's built-in responses in one binary, run
// under their Wazuh names (firewall-drop, host-deny, route-null, netsh.exe,
// ...) by a link of that name or as "riposte-ar NAME". Each reads Wazuh's
// stdin JSON (4.x add/delete or 5.x enable/disable), so they also run under a
// real Wazuh execd. "riposte-ar install DIR" puts the links in an
// active-response bin directory.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/riposte/riposte/internal/action"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := action.Main(ctx, os.Args[0], os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
