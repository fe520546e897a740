package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/riposte/riposte/internal/config"
)

func newConfigCmd(s *streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Check and print configurations",
	}
	c.AddCommand(&cobra.Command{
		Use:   "check FILE...",
		Short: "Report every problem of a configuration, or print the effective configuration",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, problems, err := config.Load(args...)
			for _, p := range problems {
				fmt.Fprintln(s.err, p.String())
			}
			if err != nil {
				return exitError{code: 1}
			}
			_, err = s.out.Write(cfg.Format())
			return err
		},
	})
	var files []string
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration: the --config files, or the built-in one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(s, files)
			if err != nil {
				return err
			}
			_, err = s.out.Write(cfg.Format())
			return err
		},
	}
	show.Flags().StringArrayVarP(&files, "config", "c", nil, "configuration file (repeatable)")
	c.AddCommand(show)
	c.AddCommand(&cobra.Command{
		Use:   "default",
		Short: "Print the built-in configuration riposte run uses without --config",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := s.out.Write(config.DefaultXML())
			return err
		},
	})
	return c
}

// loadConfig loads files, or the built-in configuration when there are none,
// printing warnings and problems to stderr.
func loadConfig(s *streams, files []string) (*config.Config, error) {
	if len(files) == 0 {
		return config.Default(), nil
	}
	cfg, problems, err := config.Load(files...)
	for _, p := range problems {
		fmt.Fprintln(s.err, p.String())
	}
	if err != nil {
		return nil, fmt.Errorf("the configuration has errors; not starting")
	}
	return cfg, nil
}
