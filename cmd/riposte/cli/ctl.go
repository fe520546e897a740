package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/audit"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
	"github.com/riposte/riposte/internal/instance"
)

// ctlFlags are the flags every ctl command shares: where the API is and
// how to print.
type ctlFlags struct {
	dataDir      string
	json         bool
	api          string
	user         string
	passwordFile string
	caFile       string
	insecure     bool
}

// client connects to the API: on the control socket of --data-dir (as the
// local administrator), or at --api with a user's password.
func (f *ctlFlags) client(ctx context.Context) (*api.Client, error) {
	if f.api == "" {
		dir := f.dataDir
		if dir == "" {
			dir = defaultDataDir()
		}
		return api.NewSocketClient(instance.Layout{Dir: dir}.Socket()), nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case f.insecure:
		tc.InsecureSkipVerify = true
	case f.caFile != "":
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s holds no PEM certificate", f.caFile)
		}
	}
	if f.passwordFile == "" {
		return nil, fmt.Errorf("--api needs --password-file (the password of --user)")
	}
	pw, err := os.ReadFile(f.passwordFile)
	if err != nil {
		return nil, fmt.Errorf("--password-file: %w", err)
	}
	c := api.NewClient(f.api, &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}})
	if err := c.Login(ctx, f.user, strings.TrimSpace(string(pw))); err != nil {
		return nil, err
	}
	return c, nil
}

// get, post and del run one request against the API.
func (f *ctlFlags) get(cmd *cobra.Command, path string, v any) error {
	c, err := f.client(cmd.Context())
	if err != nil {
		return err
	}
	return c.Get(cmd.Context(), path, v)
}

func (f *ctlFlags) post(cmd *cobra.Command, path string, body, v any) error {
	c, err := f.client(cmd.Context())
	if err != nil {
		return err
	}
	return c.Post(cmd.Context(), path, body, v)
}

func (f *ctlFlags) del(cmd *cobra.Command, path string, v any) error {
	c, err := f.client(cmd.Context())
	if err != nil {
		return err
	}
	return c.Delete(cmd.Context(), path, v)
}

// print writes v as JSON with --json, else calls table.
func (f *ctlFlags) print(w io.Writer, v any, table func(*tabwriter.Writer)) error {
	if f.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// list is the API's answer for a list, page is one for a page.
type list[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

func newCtlCmd(s *streams) *cobra.Command {
	f := &ctlFlags{}
	c := &cobra.Command{
		Use:   "ctl",
		Short: "Operate a running manager (or riposte run): agents, active responses, audit, white list, manual runs",
		Long: "Operate a running manager through its API: on the control socket of --data-dir (root, no password), " +
			"or over HTTPS with --api https://HOST:55000 --user NAME --password-file FILE. Tables by default, JSON with --json.",
	}
	pf := c.PersistentFlags()
	pf.StringVarP(&f.dataDir, "data-dir", "d", "", "data directory of the running manager (default as riposte run)")
	pf.BoolVar(&f.json, "json", false, "print JSON instead of a table")
	pf.StringVar(&f.api, "api", "", "the manager's HTTPS API, e.g. https://manager.example:55000 (default: the control socket)")
	pf.StringVar(&f.user, "user", "admin", "API user for --api")
	pf.StringVar(&f.passwordFile, "password-file", "", "file holding the password of --user (e.g. the manager's admin.password)")
	pf.StringVar(&f.caFile, "ca", "", "CA certificate that signed the API's certificate (the manager's pki/ca.pem)")
	pf.BoolVar(&f.insecure, "insecure", false, "do not check the API's certificate")
	c.AddCommand(newCtlAgentsCmd(s, f), newCtlAgentCmd(s, f), newCtlResponsesCmd(s, f), newCtlARCmd(s, f),
		newCtlCommandsCmd(s, f), newCtlAuditCmd(s, f), newCtlAllowlistCmd(s, f))
	return c
}

func newCtlAgentsCmd(s *streams, f *ctlFlags) *cobra.Command {
	c := &cobra.Command{Use: "agents", Short: "Agents of the manager"}
	c.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the agents and whether each is active or disconnected",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var rows list[manager.AgentStatus]
			if err := f.get(cmd, "/api/v1/agents", &rows); err != nil {
				return err
			}
			return f.print(s.out, rows.Items, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tVERSION\tOS\tADDRESSES\tLAST SEEN")
				for _, a := range rows.Items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Name, a.Status, dash(a.Last.Version), dash(a.Last.OS),
						dash(strings.Join(a.Last.Addresses, ",")), ago(a.LastSeen))
				}
			})
		},
	})
	return c
}

func newCtlAgentCmd(s *streams, f *ctlFlags) *cobra.Command {
	c := &cobra.Command{Use: "agent", Short: "One agent"}
	c.AddCommand(&cobra.Command{
		Use:   "remove ID",
		Short: "Revoke an agent at once: its connections are closed and it can no longer connect",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fleet.ValidateAgentID(args[0]); err != nil {
				return err
			}
			if err := f.del(cmd, "/api/v1/agents/"+args[0], nil); err != nil {
				return err
			}
			fmt.Fprintf(s.out, "agent %s removed\n", args[0])
			return nil
		},
	})
	return c
}

func newCtlResponsesCmd(s *streams, f *ctlFlags) *cobra.Command {
	c := &cobra.Command{Use: "responses", Short: "Responses active on the agents"}
	var agent, ip, command, search string
	var offset, limit int
	lst := &cobra.Command{
		Use:   "list",
		Short: "List the active responses: which agent, which command, which address, until when",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"agent": agent, "ip": ip, "command": command, "q": search} {
				if v != "" {
					q.Set(k, v)
				}
			}
			q.Set("offset", strconv.Itoa(offset))
			q.Set("limit", strconv.Itoa(limit))
			var page list[manager.Active]
			if err := f.get(cmd, "/api/v1/responses?"+q.Encode(), &page); err != nil {
				return err
			}
			return f.print(s.out, page.Items, func(tw *tabwriter.Writer) {
				activeTable(page.Items)(tw)
				if page.Total > len(page.Items) {
					fmt.Fprintf(tw, "(%d shown of %d; --offset and --limit page)\n", len(page.Items), page.Total)
				}
			})
		},
	}
	lf := lst.Flags()
	lf.StringVar(&agent, "agent", "", "only this agent")
	lf.StringVar(&ip, "ip", "", "only responses acting on this address or inside this CIDR block")
	lf.StringVar(&command, "command", "", "only this command")
	lf.StringVar(&search, "search", "", "only responses mentioning this text")
	lf.IntVar(&offset, "offset", 0, "skip this many")
	lf.IntVar(&limit, "limit", 500, "show at most this many (up to 5000)")

	selector := func(name, short, path string, extra func(*cobra.Command, *map[string]any) error) *cobra.Command {
		var sip string
		sc := &cobra.Command{
			Use:   name + " [ID] [--ip ADDR]",
			Short: short,
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				body := map[string]any{}
				if sip != "" {
					body["ip"] = sip
				}
				if len(args) == 1 {
					body["id"] = args[0]
				}
				if extra != nil {
					if err := extra(cmd, &body); err != nil {
						return err
					}
				}
				var done list[manager.Active]
				if err := f.post(cmd, path, body, &done); err != nil {
					return err
				}
				return f.print(s.out, done.Items, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "%s sent for %d active response(s)\n", name, len(done.Items))
					activeTable(done.Items)(tw)
				})
			},
		}
		sc.Flags().StringVar(&sip, "ip", "", "every active response acting on this address")
		return sc
	}
	undo := selector("undo", "Run the delete of active responses now, wherever they are active (by id, or every one for an address)",
		"/api/v1/responses/undo", nil)
	permanent := selector("permanent", "Make active responses permanent (until undone)", "/api/v1/responses/permanent", nil)
	var until string
	var by time.Duration
	extend := selector("extend", "Move the deadline of active responses (--by DURATION or --until TIME)", "/api/v1/responses/extend",
		func(cmd *cobra.Command, body *map[string]any) error {
			if (by > 0) == (until != "") {
				return fmt.Errorf("give --by or --until")
			}
			if until != "" {
				t, err := time.Parse(time.RFC3339, until)
				if err != nil {
					return fmt.Errorf("--until %q: want a time such as 2026-11-27T18:00:00Z", until)
				}
				(*body)["until"] = t
			} else {
				(*body)["by"] = fleet.Duration(by)
			}
			return nil
		})
	extend.Flags().DurationVar(&by, "by", 0, "new deadline: this long from now")
	extend.Flags().StringVar(&until, "until", "", "new deadline (RFC 3339)")
	c.AddCommand(lst, undo, extend, permanent)
	return c
}

func activeTable(rows []manager.Active) func(*tabwriter.Writer) {
	return func(tw *tabwriter.Writer) {
		fmt.Fprintln(tw, "ID\tAGENT\tCOMMAND\tKEYS\tADDED\tUNTIL\tLEFT")
		for _, a := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Agent, a.Name, dash(strings.Join(a.Keys, ",")),
				a.Added.Local().Format(time.DateTime), a.Until.Local().Format(time.DateTime), time.Until(a.Until).Round(time.Second))
		}
	}
}

func newCtlARCmd(s *streams, f *ctlFlags) *cobra.Command {
	c := &cobra.Command{Use: "ar", Short: "Active responses by hand"}
	var (
		agents       []string
		all, force   bool
		command, src string
		user         string
		timeout      int
	)
	run := &cobra.Command{
		Use:   "run (--agent ID... | --all) --command NAME --srcip ADDR [--timeout S]",
		Short: "Run a response by hand on agents, as Wazuh's agent_control -b (the white list applies unless --force)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.ManualRun{Agents: agents, All: all, Command: command, SrcIP: src, User: user, Force: force}
			if cmd.Flags().Changed("timeout") {
				req.Timeout = &timeout
			}
			var rep api.ManualReport
			if err := f.post(cmd, "/api/v1/responses/run", req, &rep); err != nil {
				return err
			}
			return f.print(s.out, rep, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "Running active response '%s' (timeout %ds) on:\n", rep.Command, rep.Timeout)
				fmt.Fprintln(tw, "AGENT\tDELIVERY")
				for _, id := range sortedKeys(rep.Delivery) {
					fmt.Fprintf(tw, "%s\t%s\n", id, rep.Delivery[id])
				}
			})
		},
	}
	fl := run.Flags()
	fl.StringArrayVarP(&agents, "agent", "u", nil, "target agent id (repeatable)")
	fl.BoolVarP(&all, "all", "a", false, "every agent")
	fl.StringVarP(&command, "command", "f", "", "command name, or Wazuh's AR name such as firewall-drop600")
	fl.StringVarP(&src, "srcip", "b", "", "address the response acts on")
	fl.StringVar(&user, "user-name", "", "account the response acts on (data.dstuser)")
	fl.IntVar(&timeout, "timeout", 0, "seconds before the response is undone (0: stateless)")
	fl.BoolVar(&force, "force", false, "run even when the white list covers the address")
	c.AddCommand(run)
	return c
}

func newCtlCommandsCmd(s *streams, f *ctlFlags) *cobra.Command {
	var agent string
	c := &cobra.Command{
		Use:   "commands",
		Short: "Commands sent to agents: pending, accepted, done, expired or undeliverable",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/api/v1/commands"
			if agent != "" {
				path += "?agent=" + url.QueryEscape(agent)
			}
			var rows list[manager.CommandRecord]
			if err := f.get(cmd, path, &rows); err != nil {
				return err
			}
			return f.print(s.out, rows.Items, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tAGENT\tKIND\tCOMMAND\tSTATUS\tISSUED\tEXPIRES")
				for _, r := range rows.Items {
					c := r.Command
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Agent, c.Kind, dash(c.Name), r.Status,
						c.Issued.Local().Format(time.DateTime), c.Expires.Local().Format(time.DateTime))
				}
			})
		},
	}
	c.Flags().StringVar(&agent, "agent", "", "only this agent")
	return c
}

func newCtlAuditCmd(s *streams, f *ctlFlags) *cobra.Command {
	var kind, agent, ip, command, user string
	var since time.Duration
	var limit int
	c := &cobra.Command{
		Use:   "audit",
		Short: "The audit trail: decisions, commands, acknowledgements, results and changes, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"kind": kind, "agent": agent, "ip": ip, "command": command, "user": user} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if since > 0 {
				q.Set("since", time.Now().Add(-since).UTC().Format(time.RFC3339))
			}
			q.Set("limit", strconv.Itoa(limit))
			var page list[audit.Record]
			if err := f.get(cmd, "/api/v1/audit?"+q.Encode(), &page); err != nil {
				return err
			}
			return f.print(s.out, page.Items, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "TIME\tKIND\tAGENT\tCOMMAND\tIP\tOUTCOME\tUSER\tNOTE")
				for _, r := range page.Items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.Local().Format(time.DateTime), r.Kind, dash(r.Agent),
						dash(r.Command), dash(r.IP), dash(r.Outcome), dash(r.User), r.Note)
				}
			})
		},
	}
	fl := c.Flags()
	fl.StringVar(&kind, "kind", "", "decision, command, ack, result, expired, undeliverable, change, ...")
	fl.StringVar(&agent, "agent", "", "only this agent")
	fl.StringVar(&ip, "ip", "", "only this address")
	fl.StringVar(&command, "command", "", "only this command")
	fl.StringVar(&user, "user-name", "", "only changes by this API user")
	fl.DurationVar(&since, "since", 0, "only the last DURATION (e.g. 1h)")
	fl.IntVar(&limit, "limit", 100, "show at most this many")
	return c
}

func newCtlAllowlistCmd(s *streams, f *ctlFlags) *cobra.Command {
	c := &cobra.Command{Use: "allowlist", Short: "The white list: addresses responses never act on"}
	c.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the white list: the configuration's entries and those added at run time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var rows list[struct {
				Entry   string    `json:"entry"`
				Source  string    `json:"source"`
				Comment string    `json:"comment"`
				AddedBy string    `json:"added_by"`
				Added   time.Time `json:"added"`
			}]
			if err := f.get(cmd, "/api/v1/allowlist", &rows); err != nil {
				return err
			}
			return f.print(s.out, rows.Items, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ENTRY\tSOURCE\tADDED BY\tCOMMENT")
				for _, e := range rows.Items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Entry, e.Source, dash(e.AddedBy), e.Comment)
				}
			})
		},
	})
	var comment string
	add := &cobra.Command{
		Use:   "add ADDRESS|CIDR",
		Short: "Add an entry; the active responses it covers are lifted at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res struct {
				Entry  string           `json:"entry"`
				Lifted []manager.Active `json:"lifted"`
			}
			if err := f.post(cmd, "/api/v1/allowlist", map[string]string{"entry": args[0], "comment": comment}, &res); err != nil {
				return err
			}
			return f.print(s.out, res, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "%s added; %d active response(s) lifted\n", res.Entry, len(res.Lifted))
				activeTable(res.Lifted)(tw)
			})
		},
	}
	add.Flags().StringVar(&comment, "comment", "", "why")
	c.AddCommand(add, &cobra.Command{
		Use:   "remove ADDRESS|CIDR",
		Short: "Remove an entry added at run time",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.del(cmd, "/api/v1/allowlist?entry="+url.QueryEscape(args[0]), nil); err != nil {
				return err
			}
			fmt.Fprintf(s.out, "%s removed\n", args[0])
			return nil
		},
	})
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return strconv.Itoa(int(time.Since(t).Seconds())) + "s ago"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
