package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/riposte/riposte/internal/config"
	"github.com/riposte/riposte/internal/enroll"
	"github.com/riposte/riposte/internal/instance"
)

func newManagerCmd(s *streams) *cobra.Command {
	var (
		f                       instanceFlags
		agentPort, enrollPort   int
		natsURL, natsCreds, cas string
	)
	c := &cobra.Command{
		Use:   "manager",
		Short: "Run a manager in the foreground: decide on alerts and send responses to its agents",
		Long: "Run a manager: the response engine, this host as agent 000, an embedded NATS server with JetStream " +
			"for the agents (port 1514, mutual TLS) and enrollment (port 1515, token over TLS). The CA, the " +
			"enrollment token (enrollment.token) and every state live in the data directory. With --nats the " +
			"manager uses an existing NATS cluster instead of its embedded server.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, cfg, err := f.setup(s)
			if err != nil {
				return err
			}
			fc := &cfg.Riposte.Fleet
			if cmd.Flags().Changed("agent-port") {
				fc.AgentListen = withPort(fc.AgentListen, agentPort)
			}
			if cmd.Flags().Changed("enrollment-port") {
				fc.EnrollmentListen = withPort(fc.EnrollmentListen, enrollPort)
			}
			if natsURL != "" {
				fc.NATSURL, fc.NATSCreds, fc.NATSCA = natsURL, natsCreds, cas
			}
			in, err := instance.New(cfg, instance.Options{Dir: f.dataDir, Logger: log, DryRun: f.dryRun, Manager: true})
			if err != nil {
				return err
			}
			log.Info("starting manager", "version", Version, "data_dir", f.dataDir, "config", f.files)
			return in.Run(cmd.Context())
		},
	}
	f.add(c)
	fl := c.Flags()
	fl.IntVar(&agentPort, "agent-port", config.DefaultAgentPort, "port agents connect to (overrides the configuration)")
	fl.IntVar(&enrollPort, "enrollment-port", config.DefaultEnrollmentPort, "enrollment port (overrides the configuration)")
	fl.StringVar(&natsURL, "nats", "", "use this NATS cluster (comma-separated URLs) instead of the embedded server")
	fl.StringVar(&natsCreds, "nats-creds", "", "credentials file for --nats")
	fl.StringVar(&cas, "nats-ca", "", "CA file of the --nats cluster's certificates")
	return c
}

// withPort replaces the port of a listen address, keeping its host.
func withPort(listen string, port int) string {
	host := ""
	if i := strings.LastIndexByte(listen, ':'); i >= 0 {
		host = listen[:i]
	}
	return fmt.Sprintf("%s:%d", host, port)
}

func newAgentCmd(s *streams) *cobra.Command {
	var (
		files               []string
		dataDir             string
		logFormat, logLevel string
		natsURL, natsCreds  string
	)
	c := &cobra.Command{
		Use:   "agent",
		Short: "Run an enrolled agent in the foreground: carry out the manager's commands, forward logs",
		Long: "Run an agent enrolled with `riposte agent enroll`: it connects to its manager, runs the responses it " +
			"is sent with the executables of DIR/active-response/bin, keeps its timers (also while the manager is " +
			"unreachable) and forwards the logs of its <localfile> sections (--config) to the manager.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := newLogger(s.log, logFormat, logLevel)
			if err != nil {
				return err
			}
			cfg := config.Default()
			cfg.LocalFiles = nil // the built-in configuration's logs are the manager's
			if len(files) > 0 {
				if cfg, err = loadConfig(s, files); err != nil {
					return err
				}
			}
			if dataDir == "" {
				dataDir = defaultDataDir()
			}
			if isNotRoot() {
				log.Warn("not running as root: responses that change the firewall or accounts will fail")
			}
			a, err := instance.NewAgent(cfg, instance.AgentOptions{Dir: dataDir, Logger: log, Version: Version, NATSURL: natsURL, NATSCreds: natsCreds})
			if err != nil {
				return err
			}
			return a.Run(cmd.Context())
		},
	}
	f := c.Flags()
	f.StringArrayVarP(&files, "config", "c", nil, "configuration file with the agent's <localfile> and <riposte> settings")
	f.StringVarP(&dataDir, "data-dir", "d", "", "the agent's data directory (default /var/lib/riposte as root)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&natsURL, "nats", "", "connect to this NATS cluster instead of the URLs enrollment gave")
	f.StringVar(&natsCreds, "nats-creds", "", "credentials file for --nats")
	c.AddCommand(newEnrollCmd(s))
	return c
}

func newEnrollCmd(s *streams) *cobra.Command {
	var (
		o         enroll.ClientOptions
		tokenFile string
		dataDir   string
	)
	c := &cobra.Command{
		Use:   "enroll --manager HOST:PORT --token-file FILE (--ca FILE | --ca-pin PIN) --data-dir DIR",
		Short: "Enroll this host with a manager: a key pair made here, a certificate from the manager's CA",
		Long: "Enroll with the manager over TLS, trusting its CA given as a file (--ca, the manager's " +
			"pki/ca.pem) or as a pin (--ca-pin, printed by the manager at start). The token is the manager's " +
			"enrollment.token. The key never leaves this host; the identity lands in DIR.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if tokenFile == "" {
				return fmt.Errorf("--token-file is required")
			}
			b, err := os.ReadFile(tokenFile)
			if err != nil {
				return fmt.Errorf("token: %w", err)
			}
			o.Token = strings.TrimSpace(string(b))
			if dataDir == "" {
				dataDir = defaultDataDir()
			}
			o.Dir = dataDir
			if o.Name == "" {
				o.Name, _ = os.Hostname()
			}
			if err := os.MkdirAll(dataDir, 0o750); err != nil {
				return err
			}
			id, err := enroll.Enroll(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.out, "enrolled as agent %s (%s) with %s; start it with: riposte agent --data-dir %s\n", id.AgentID, id.Name, o.Manager, dataDir)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.Manager, "manager", "", "the manager's enrollment address, HOST:PORT (port 1515 by default)")
	f.StringVar(&tokenFile, "token-file", "", "file holding the manager's enrollment token")
	f.StringVar(&o.CAFile, "ca", "", "the manager's CA certificate file")
	f.StringVar(&o.CAPin, "ca-pin", "", "the pin of the manager's CA (sha256:...)")
	f.StringVar(&o.Name, "name", "", "agent name (default: the host name)")
	f.StringArrayVar(&o.Groups, "group", nil, "agent group (repeatable)")
	f.StringArrayVar(&o.Labels, "label", nil, "agent label key:value (repeatable)")
	f.BoolVar(&o.Force, "force", false, "replace an agent of the same name")
	f.StringVarP(&dataDir, "data-dir", "d", "", "the agent's data directory")
	return c
}
