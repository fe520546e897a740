package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
	"github.com/riposte/riposte/internal/instance"
)

// ctlFlags are the flags every ctl command shares.
type ctlFlags struct {
	dataDir string
	json    bool
}

func (f *ctlFlags) client() *api.Client {
	dir := f.dataDir
	if dir == "" {
		dir = defaultDataDir()
	}
	return api.NewSocketClient(instance.Layout{Dir: dir}.Socket())
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

func newCtlCmd(s *streams) *cobra.Command {
	f := &ctlFlags{}
	c := &cobra.Command{
		Use:   "ctl",
		Short: "Operate a running manager (or riposte run): agents, active responses, manual runs",
	}
	c.PersistentFlags().StringVarP(&f.dataDir, "data-dir", "d", "", "data directory of the running manager (default as riposte run)")
	c.PersistentFlags().BoolVar(&f.json, "json", false, "print JSON instead of a table")
	c.AddCommand(newCtlAgentsCmd(s, f), newCtlAgentCmd(s, f), newCtlResponsesCmd(s, f), newCtlARCmd(s, f), newCtlCommandsCmd(s, f))
	return c
}

func newCtlAgentsCmd(s *streams, f *ctlFlags) *cobra.Command {
	c := &cobra.Command{Use: "agents", Short: "Agents of the manager"}
	c.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the agents and whether each is active or disconnected",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var rows []manager.AgentStatus
			if err := f.client().Get(cmd.Context(), "/v1/agents", &rows); err != nil {
				return err
			}
			return f.print(s.out, rows, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tVERSION\tOS\tADDRESSES\tLAST SEEN")
				for _, a := range rows {
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
			if err := f.client().Delete(cmd.Context(), "/v1/agents/"+args[0], nil); err != nil {
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
	var agent, ip, command string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the active responses: which agent, which command, which address, until when",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"agent": agent, "ip": ip, "command": command} {
				if v != "" {
					q.Set(k, v)
				}
			}
			path := "/v1/responses"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var rows []manager.Active
			if err := f.client().Get(cmd.Context(), path, &rows); err != nil {
				return err
			}
			return f.print(s.out, rows, activeTable(rows))
		},
	}
	list.Flags().StringVar(&agent, "agent", "", "only this agent")
	list.Flags().StringVar(&ip, "ip", "", "only responses acting on this address")
	list.Flags().StringVar(&command, "command", "", "only this command")

	var undoIP string
	undo := &cobra.Command{
		Use:   "undo [ID] [--ip ADDR]",
		Short: "Run the delete of an active response now, wherever it is active (by id, or every one for an address)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.UndoRequest{IP: undoIP}
			if len(args) == 1 {
				req.ID = args[0]
			}
			var rows []manager.Active
			if err := f.client().Post(cmd.Context(), "/v1/responses/undo", req, &rows); err != nil {
				return err
			}
			return f.print(s.out, rows, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "undo sent for %d active response(s)\n", len(rows))
				activeTable(rows)(tw)
			})
		},
	}
	undo.Flags().StringVar(&undoIP, "ip", "", "every active response acting on this address")

	var extIP, until string
	var by time.Duration
	extend := &cobra.Command{
		Use:   "extend [ID] [--ip ADDR] (--by DURATION | --until TIME)",
		Short: "Move the deadline of active responses (by id, or every one for an address)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.ExtendRequest{IP: extIP, By: fleet.Duration(by)}
			if len(args) == 1 {
				req.ID = args[0]
			}
			if until != "" {
				t, err := time.Parse(time.RFC3339, until)
				if err != nil {
					return fmt.Errorf("--until %q: want a time such as 2026-11-27T18:00:00Z", until)
				}
				req.Until = t
			}
			if (by > 0) == (until != "") {
				return fmt.Errorf("give --by or --until")
			}
			var rows []manager.Active
			if err := f.client().Post(cmd.Context(), "/v1/responses/extend", req, &rows); err != nil {
				return err
			}
			return f.print(s.out, rows, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "extend sent for %d active response(s)\n", len(rows))
				activeTable(rows)(tw)
			})
		},
	}
	extend.Flags().StringVar(&extIP, "ip", "", "every active response acting on this address")
	extend.Flags().DurationVar(&by, "by", 0, "new deadline: this long from now")
	extend.Flags().StringVar(&until, "until", "", "new deadline (RFC 3339)")
	c.AddCommand(list, undo, extend)
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
			if err := f.client().Post(cmd.Context(), "/v1/ar/run", req, &rep); err != nil {
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
	fl.StringVar(&user, "user", "", "account the response acts on (data.dstuser)")
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
			path := "/v1/commands"
			if agent != "" {
				path += "?agent=" + url.QueryEscape(agent)
			}
			var rows []manager.CommandRecord
			if err := f.client().Get(cmd.Context(), path, &rows); err != nil {
				return err
			}
			return f.print(s.out, rows, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tAGENT\tKIND\tCOMMAND\tSTATUS\tISSUED\tEXPIRES")
				for _, r := range rows {
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
