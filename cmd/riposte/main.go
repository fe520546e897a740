// Command riposte is the Riposte active-response system: `riposte run` starts
// the all-in-one instance; other subcommands check configurations and talk to
// a running instance. Run under the name of a built-in response (a link
// named firewall-drop, ...), it is that response, as riposte-ar is.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/riposte/riposte/cmd/riposte/cli"
	"github.com/riposte/riposte/internal/action"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if action.NameFromArgv0(os.Args[0]) != "" {
		// Installed as a response executable: behave as riposte-ar.
		code = action.Main(ctx, os.Args[0], os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	} else {
		code = cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}
