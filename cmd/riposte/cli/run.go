package cli

import (
	"github.com/spf13/cobra"

	"github.com/riposte/riposte/internal/instance"
)

func newRunCmd(s *streams) *cobra.Command {
	var (
		files               []string
		dataDir             string
		dryRun              bool
		logFormat, logLevel string
	)
	c := &cobra.Command{
		Use:   "run",
		Short: "Run the all-in-one instance in the foreground until SIGTERM or SIGINT",
		Long: "Run the all-in-one instance: the response engine and this host as agent 000, accepting alerts on the " +
			"control socket, on loopback HTTP and from followed alerts.json files. Without --config it uses the " +
			"built-in configuration printed by `riposte config default`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := newLogger(s.err, logFormat, logLevel)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(s, files)
			if err != nil {
				return err
			}
			if dataDir == "" {
				dataDir = defaultDataDir()
			}
			if isNotRoot() && !dryRun && !cfg.Riposte.DryRun {
				log.Warn("not running as root: Riposte cannot enforce blocks and runs in dry-run mode; run as root, or pass --dry-run to silence this")
				dryRun = true
			}
			in, err := instance.New(cfg, instance.Options{Dir: dataDir, Logger: log, DryRun: dryRun})
			if err != nil {
				return err
			}
			log.Info("starting", "version", Version, "data_dir", dataDir, "config", files, "dry_run", dryRun || cfg.Riposte.DryRun)
			return in.Run(cmd.Context())
		},
	}
	f := c.Flags()
	f.StringArrayVarP(&files, "config", "c", nil, "configuration file (repeatable); default: the built-in configuration")
	f.StringVarP(&dataDir, "data-dir", "d", "", "data directory (default /var/lib/riposte as root, else a per-user state directory)")
	f.BoolVar(&dryRun, "dry-run", false, "decide and log, but run nothing")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return c
}
