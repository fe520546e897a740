// Command riposte is the Riposte active-response system: `riposte run` starts
// the all-in-one instance; other subcommands check configurations and talk to
// a running instance.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/riposte/riposte/cmd/riposte/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
