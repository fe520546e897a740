package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/instance"
)

func newAlertCmd(s *streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "alert",
		Short: "Send alerts to a running instance",
	}
	var (
		dataDir        string
		explain, dry   bool
		jsonOut, quiet bool
	)
	send := &cobra.Command{
		Use:   "send [FILE|-]",
		Short: "Send one alert document or JSON lines (from FILE or standard input) to the running instance",
		Long: "Send alerts in Wazuh's alerts.json shape to the instance using --data-dir. It exits 0 once the " +
			"instance accepted every alert, and non-zero naming each malformed one otherwise (then none is accepted).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = s.in
			name := "standard input"
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				r, name = f, args[0]
			}
			body, err := io.ReadAll(io.LimitReader(r, api.MaxBody+1))
			if err != nil {
				return fmt.Errorf("reading %s: %w", name, err)
			}
			if len(body) > api.MaxBody {
				return fmt.Errorf("%s is larger than %d bytes", name, api.MaxBody)
			}
			if dataDir == "" {
				dataDir = defaultDataDir()
			}
			cl := api.NewSocketClient(instance.Layout{Dir: dataDir}.Socket())
			resp, err := cl.SendAlerts(cmd.Context(), body, api.IngestOptions{Explain: explain, DryRun: dry})
			if err != nil {
				return err
			}
			if jsonOut {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(resp)
			}
			if !quiet || explain {
				printReports(s.out, resp, explain)
			}
			return nil
		},
	}
	f := send.Flags()
	f.StringVarP(&dataDir, "data-dir", "d", "", "data directory of the running instance")
	f.BoolVar(&explain, "explain", false, "print, for each <active-response> block, whether it matched and why not")
	f.BoolVar(&dry, "dry-run", false, "decide, but run nothing")
	f.BoolVar(&jsonOut, "json", false, "print the instance's answer as JSON")
	f.BoolVarP(&quiet, "quiet", "q", false, "print nothing on success")
	c.AddCommand(send)
	return c
}

func printReports(w io.Writer, resp *api.IngestResponse, explain bool) {
	fmt.Fprintf(w, "accepted %d alert(s)\n", resp.Accepted)
	for _, r := range resp.Results {
		fmt.Fprintf(w, "alert %d: rule %s level %d agent %s", r.Item, r.RuleID, r.RuleLevel, r.AgentID)
		if r.SrcIP != "" {
			fmt.Fprintf(w, " srcip %s", r.SrcIP)
		}
		fmt.Fprintln(w)
		if explain {
			for _, e := range r.Explanations {
				verdict := "no match"
				if e.Matched {
					verdict = "matched"
				}
				fmt.Fprintf(w, "  block #%d %s:%d command %s location %s: %s: %s\n", e.Index, e.File, e.Line, e.Command, e.Location, verdict, e.Why)
				if e.Matched {
					fmt.Fprintf(w, "    outcome: %s (%s)\n", e.Outcome, e.Reason)
				}
			}
		}
		if len(r.Decisions) == 0 && !explain {
			fmt.Fprintln(w, "  no response triggered")
		}
		for _, d := range r.Decisions {
			fmt.Fprintf(w, "  %s: %s: %s", d.Command, d.Outcome, d.Reason)
			if len(d.Targets) > 0 {
				fmt.Fprintf(w, " [targets %s]", strings.Join(d.Targets, ","))
			}
			fmt.Fprintln(w)
			ids := make([]string, 0, len(d.Delivery))
			for id := range d.Delivery {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				fmt.Fprintf(w, "    agent %s: %s\n", id, d.Delivery[id])
			}
		}
	}
}
