// Command riposte-load measures a running Riposte manager from another
// process: it sends PUT /active-response through the HTTPS API from many
// clients (put), reads pages of the active responses (pages), or keeps
// simulated agents enrolled and connected (sim). The logic is in
// internal/loadgen.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/riposte/riposte/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "riposte-load",
		Short:         "Load a running Riposte manager: API requests and simulated agents",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var cpuProfile string
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process to the file")
	// Stopped when run returns, whether the command failed or not.
	stopProfile := func() {}
	defer func() { stopProfile() }()
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		stopProfile = func() {
			pprof.StopCPUProfile()
			f.Close()
		}
		return nil
	}
	root.AddCommand(putCmd(stdout, stderr), pagesCmd(stdout, stderr), simCmd(stdout, stderr))
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		name := "riposte-load"
		if cmd != nil {
			name = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

// apiFlags are the flags of the commands that use the HTTPS API.
type apiFlags struct {
	api, user, passwordFile, ca string
	insecure, json              bool
	timeout                     time.Duration
	clients, requests           int
}

func (f *apiFlags) add(c *cobra.Command, clients, requests int) {
	c.Flags().StringVar(&f.api, "api", "https://127.0.0.1:55000", "base URL of the manager's HTTPS API")
	c.Flags().StringVar(&f.user, "user", "admin", "API user")
	c.Flags().StringVar(&f.passwordFile, "password-file", "", "file holding the API user's password (required)")
	c.Flags().StringVar(&f.ca, "ca", "", "PEM file of the CA to trust for the API's certificate")
	c.Flags().BoolVar(&f.insecure, "insecure", false, "do not verify the API's certificate")
	c.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "time limit of each request")
	c.Flags().IntVar(&f.clients, "clients", clients, "requests in flight at once")
	c.Flags().IntVar(&f.requests, "requests", requests, "requests to send")
	c.Flags().BoolVar(&f.json, "json", false, "print the report as JSON")
	c.MarkFlagRequired("password-file")
}

func (f *apiFlags) client() (*loadgen.Client, error) {
	pw, err := readSecret(f.passwordFile)
	if err != nil {
		return nil, err
	}
	return loadgen.NewClient(loadgen.ClientOptions{
		API: f.api, User: f.user, Password: pw, CAFile: f.ca, Insecure: f.insecure,
		Conns: f.clients, Timeout: f.timeout,
	})
}

func (f *apiFlags) print(w io.Writer, r *loadgen.Report) error {
	if f.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.WriteText(w)
}

func putCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		f       apiFlags
		agents  string
		fromAPI bool
		command string
		putRate float64
		bench   bool
	)
	c := &cobra.Command{
		Use:   "put",
		Short: "Send PUT /active-response from many clients and report throughput and latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (agents == "") == !fromAPI {
				return errors.New("give either --agents or --agents-from-api")
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			defer cl.Close()
			var ids []string
			if fromAPI {
				if ids, err = cl.Agents(cmd.Context()); err != nil {
					return err
				}
				if len(ids) == 0 {
					return errors.New("the API lists no active agent but the manager")
				}
			} else {
				for _, id := range strings.Split(agents, ",") {
					if id = strings.TrimSpace(id); id != "" {
						ids = append(ids, id)
					}
				}
			}
			fmt.Fprintf(stderr, "PUT /active-response %s to %d agents: %d requests from %d clients\n", command, len(ids), f.requests, f.clients)
			r, err := loadgen.Put(cmd.Context(), cl, loadgen.PutOptions{Agents: ids, Command: command, Clients: f.clients, Requests: f.requests, Rate: putRate, Benchmark: bench})
			if err != nil {
				return err
			}
			return f.print(stdout, r)
		},
	}
	f.add(c, 50, 5000)
	c.Flags().StringVar(&agents, "agents", "", "comma-separated agent ids to target (agents_list)")
	c.Flags().BoolVar(&fromAPI, "agents-from-api", false, "target every active agent GET /agents lists, but 000")
	c.Flags().StringVar(&command, "command", "firewall-drop0", "ar.conf name (or !script) to send")
	c.Flags().Float64Var(&putRate, "rate", 0, "requests per second over all clients (0: each as soon as a client is free)")
	c.Flags().BoolVar(&bench, "benchmark-addresses", false, "take source addresses from 198.18.0.0/15 (131,072) instead of TEST-NET (762)")
	return c
}

func pagesCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		f     apiFlags
		limit int
		path  string
	)
	c := &cobra.Command{
		Use:   "pages",
		Short: "Read pages of the active responses at random offsets and report throughput and latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			defer cl.Close()
			fmt.Fprintf(stderr, "GET %s pages of %d: %d requests from %d clients\n", path, limit, f.requests, f.clients)
			r, err := loadgen.Pages(cmd.Context(), cl, loadgen.PagesOptions{Path: path, Limit: limit, Clients: f.clients, Requests: f.requests})
			if err != nil {
				return err
			}
			return f.print(stdout, r)
		},
	}
	f.add(c, 10, 1000)
	c.Flags().IntVar(&limit, "limit", 50, "page size")
	c.Flags().StringVar(&path, "path", "/api/v1/responses", "list to page through")
	return c
}

func simCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		o         loadgen.SimOptions
		tokenFile string
		verbose   bool
	)
	c := &cobra.Command{
		Use:   "sim",
		Short: "Enroll simulated agents and keep them connected, acknowledging every command, until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := readSecret(tokenFile)
			if err != nil {
				return err
			}
			o.Token, o.Out = tok, stdout
			if verbose {
				o.Logger = slog.New(slog.NewTextHandler(stderr, nil))
			}
			return loadgen.Sim(cmd.Context(), o)
		},
	}
	c.Flags().StringVar(&o.Manager, "manager", "", "enrollment server, host:port (required)")
	c.Flags().StringVar(&tokenFile, "token-file", "", "file holding the enrollment token (required)")
	c.Flags().StringVar(&o.CAFile, "ca", "", "the manager's CA certificate (required)")
	c.Flags().IntVar(&o.N, "n", 100, "agents to simulate")
	c.Flags().StringVar(&o.Dir, "dir", "", "directory of the agents' identities and state, one subdirectory each (required)")
	c.Flags().StringVar(&o.Name, "name", "load", "prefix of the agents' names (<name>-<i>)")
	c.Flags().DurationVar(&o.Heartbeat, "heartbeat", 0, "heartbeat interval (default: the agent's)")
	c.Flags().BoolVar(&o.Results, "results", false, "report every run as done (stateful ones then show as active on the manager)")
	c.Flags().BoolVar(&verbose, "verbose", false, "log the agents' activity on stderr")
	for _, name := range []string{"manager", "token-file", "ca", "dir"} {
		c.MarkFlagRequired(name)
	}
	return c
}

// readSecret reads a password or token file, without surrounding white
// space.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}
