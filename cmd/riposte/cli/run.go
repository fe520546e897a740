package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/riposte/riposte/internal/config"
	"github.com/riposte/riposte/internal/instance"
)

// instanceFlags are the flags of the commands that run a deciding
// instance (run, manager).
type instanceFlags struct {
	files               []string
	dataDir             string
	dryRun              bool
	logFormat, logLevel string
}

func (f *instanceFlags) add(c *cobra.Command) {
	fl := c.Flags()
	fl.StringArrayVarP(&f.files, "config", "c", nil, "configuration file (repeatable); default: the built-in configuration")
	fl.StringVarP(&f.dataDir, "data-dir", "d", "", "data directory (default /var/lib/riposte as root, else a per-user state directory)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "decide and log, but run nothing")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

// setup makes the logger, loads the configuration and settles the data
// directory and dry-run (forced when not root, which cannot enforce).
func (f *instanceFlags) setup(s *streams) (*slog.Logger, *config.Config, error) {
	log, err := newLogger(s.log, f.logFormat, f.logLevel)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := loadConfig(s, f.files)
	if err != nil {
		return nil, nil, err
	}
	if f.dataDir == "" {
		f.dataDir = defaultDataDir()
	}
	if isNotRoot() && !f.dryRun && !cfg.Riposte.DryRun {
		log.Warn("not running as root: Riposte cannot enforce blocks and runs in dry-run mode; run as root, or pass --dry-run to silence this")
		f.dryRun = true
	}
	return log, cfg, nil
}

func newRunCmd(s *streams) *cobra.Command {
	var f instanceFlags
	c := &cobra.Command{
		Use:   "run",
		Short: "Run the all-in-one instance in the foreground until SIGTERM or SIGINT",
		Long: "Run the all-in-one instance: the response engine and this host as agent 000, accepting alerts on the " +
			"control socket, on loopback HTTP and from followed alerts.json files. Without --config it uses the " +
			"built-in configuration printed by `riposte config default`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, cfg, err := f.setup(s)
			if err != nil {
				return err
			}
			in, err := instance.New(cfg, instance.Options{Dir: f.dataDir, Logger: log, DryRun: f.dryRun})
			if err != nil {
				return err
			}
			log.Info("starting", "version", Version, "data_dir", f.dataDir, "config", f.files, "dry_run", f.dryRun || cfg.Riposte.DryRun)
			return in.Run(cmd.Context())
		},
	}
	f.add(c)
	return c
}
