package instance

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/broker"
	"github.com/riposte/riposte/internal/config"
	"github.com/riposte/riposte/internal/enroll"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
	"github.com/riposte/riposte/internal/pki"
	"github.com/riposte/riposte/internal/respond"
)

// PKIDir is where a manager keeps its CA and server certificate.
func (l Layout) PKIDir() string { return filepath.Join(l.Dir, "pki") }

// TokenFile is the manager's enrollment token.
func (l Layout) TokenFile() string { return filepath.Join(l.Dir, "enrollment.token") }

// startFleet connects the instance to its transport (the embedded broker,
// or the cluster of <nats_url>) and opens the manager's state there. With
// opts.Manager it also prepares the agent listener and enrollment.
func (in *Instance) startFleet(opts Options) error {
	fc := in.cfg.Riposte.Fleet
	in.subjects = fleet.Subjects{Prefix: fc.SubjectPrefix}
	if fc.NATSURL != "" {
		nopts := []nats.Option{nats.Name("riposte-manager " + in.cfg.NodeName), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}
		if fc.NATSCreds != "" {
			nopts = append(nopts, nats.UserCredentials(fc.NATSCreds))
		}
		if fc.NATSCA != "" {
			nopts = append(nopts, nats.RootCAs(fc.NATSCA))
		}
		nc, err := nats.Connect(fc.NATSURL, nopts...)
		if err != nil {
			return fmt.Errorf("connecting to NATS at %s: %w", fc.NATSURL, err)
		}
		in.nc = nc
		in.log.Info("using an external NATS cluster", "url", fc.NATSURL, "replicas", fc.Replicas)
	} else {
		bo := broker.Options{
			StoreDir: filepath.Join(in.layout.StateDir(), "jetstream"),
			Logger:   in.log.With("component", "nats"),
			Authorize: func(id, fp string) error {
				if in.mgr == nil {
					return errors.New("manager not ready")
				}
				return in.mgr.Authorize(id, fp)
			},
			Permissions: in.subjects.AgentPermissions,
		}
		if opts.Manager {
			if err := in.loadPKI(); err != nil {
				return err
			}
			bo.Listen = fc.AgentListen
			bo.TLS = &tls.Config{Certificates: []tls.Certificate{in.serverCert}, ClientCAs: in.ca.Pool(), MinVersion: tls.VersionTLS12}
		}
		b, err := broker.Start(bo)
		if err != nil {
			return fmt.Errorf("embedded NATS server: %w", err)
		}
		in.broker = b
		nc, err := b.Connect(nats.Name("riposte-manager"))
		if err != nil {
			b.Shutdown()
			return fmt.Errorf("embedded NATS server: %w", err)
		}
		in.nc = nc
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mo := manager.Options{
		Conn:               in.nc,
		Subjects:           in.subjects,
		Node:               in.cfg.NodeName,
		Replicas:           fc.Replicas,
		Local:              in.runLocal,
		CommandTTL:         fc.CommandTTL,
		DisconnectAfter:    fc.DisconnectAfter,
		AllIncludesManager: fc.AllIncludesManager,
		Offenders:          manager.OffenderPolicy{Enabled: fc.CentralOffenders, Cap: fc.OffendersCap, Decay: fc.OffendersDecay},
		OnEvents:           in.onAgentEvents,
		OnRecord:           in.onRecord,
		Logger:             in.log.With("component", "manager"),
	}
	if in.alone() {
		mo.Alone = true
		mo.OnRevoke = func(id string) { in.broker.Disconnect(id) }
	}
	m, err := manager.New(ctx, mo)
	if err != nil {
		in.closeFleet()
		return fmt.Errorf("manager state: %w", err)
	}
	in.mgr = m
	if in.js, err = jetstream.New(in.nc); err != nil {
		in.closeFleet()
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := in.loadAllowlist(ctx); err != nil {
		in.closeFleet()
		return err
	}
	if opts.Manager {
		in.protectManager()
	}
	if opts.Manager && in.ca == nil {
		// On an external cluster the manager still enrolls agents.
		if err := in.loadPKI(); err != nil {
			in.closeFleet()
			return err
		}
	}
	if opts.Manager {
		token, created, err := enroll.EnsureToken(in.layout.TokenFile())
		if err != nil {
			in.closeFleet()
			return err
		}
		_ = token
		if created {
			in.log.Info("enrollment token created", "file", in.layout.TokenFile())
		}
		agentPort := portOf(fc.AgentListen)
		if in.broker != nil {
			// The port really listened on (the configuration may say 0).
			if u, err := url.Parse(in.broker.AgentURL()); err == nil && u.Port() != "" {
				agentPort = u.Port()
			}
		}
		es, err := enroll.NewServer(enroll.ServerOptions{
			Listen:    fc.EnrollmentListen,
			CA:        in.ca,
			Cert:      in.serverCert,
			TokenFile: in.layout.TokenFile(),
			Prefix:    fc.SubjectPrefix,
			Register: func(ctx context.Context, a enroll.Applicant) (string, error) {
				return in.mgr.Register(ctx, a.Name, a.RemoteIP, a.KeyFingerprint, a.Groups, a.Labels, a.Force)
			},
			AgentURLs: func(host string) []string {
				if len(fc.AgentURLs) > 0 {
					return fc.AgentURLs
				}
				return []string{"tls://" + net.JoinHostPort(host, agentPort)}
			},
			Logger: in.log.With("component", "enroll"),
		})
		if err != nil {
			in.closeFleet()
			return err
		}
		in.enroll = es
	}
	return nil
}

// loadPKI loads (or creates, on first start) the manager's CA and server
// certificate.
func (in *Instance) loadPKI() error {
	ca, err := pki.LoadOrCreateCA(in.layout.PKIDir())
	if err != nil {
		return err
	}
	cert, err := ca.ServerCertificate(in.layout.PKIDir(), in.cfg.Riposte.Fleet.ServerNames)
	if err != nil {
		return err
	}
	in.ca, in.serverCert = ca, cert
	return nil
}

// protectManager puts the manager's own addresses on the white list: a
// response must never cut the agents off from their manager.
func (in *Instance) protectManager() {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		in.log.Warn("cannot list this host's addresses to protect them", "err", err)
		return
	}
	var list []string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
			continue
		}
		ip = ip.Unmap()
		in.engine.Allowlist().Add(netip.PrefixFrom(ip, ip.BitLen()), "the manager's own address")
		list = append(list, ip.String())
	}
	in.log.Info("the manager's addresses are on the white list", "addresses", strings.Join(list, ","))
}

// closeFleet releases the transport.
func (in *Instance) closeFleet() {
	if in.mgr != nil {
		in.mgr.Close()
	}
	if in.nc != nil {
		in.nc.Close()
	}
	if in.broker != nil {
		in.broker.Shutdown()
	}
}

func portOf(hostport string) string {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil || p == "" {
		return strconv.Itoa(config.DefaultAgentPort)
	}
	return p
}

// runLocal carries out a command for agent 000, this host.
func (in *Instance) runLocal(cmd fleet.Command) error {
	return executor{x: in.exec, now: time.Now}.Execute(cmd)
}

// dispatch hands a decision to the manager, which sends it to its targets.
func (in *Instance) dispatch(d *respond.Decision) map[string]string {
	r := d.Response
	ladder := in.cfg.RepeatedOffenders
	if r.RepeatedOffenders != nil {
		ladder = r.RepeatedOffenders
	}
	return in.mgr.Dispatch(manager.Dispatch{
		DecisionID: d.ID,
		Name:       r.Command,
		Executable: r.Cmd.Executable,
		Timeout:    d.Timeout,
		ExtraArgs:  r.Cmd.ExtraArgs,
		Alert:      d.Alert.Raw,
		Ladder:     ladder,
		SrcIP:      d.SrcIP,
		Targets:    d.Targets,
		AllAgents:  d.AllAgents,
	})
}

// onAgentEvents analyses log lines collected by an agent.
func (in *Instance) onAgentEvents(a fleet.Agent, ev fleet.Events) {
	if in.events == nil {
		return
	}
	for _, l := range ev.Lines {
		select {
		case in.events <- sourceLine{agent: &a, location: ev.Location, text: l}:
		default:
			in.inputErrors.Add(1)
		}
	}
}

// Agents lists the agents. For the API.
func (in *Instance) Agents() []manager.AgentStatus { return in.mgr.Agents() }

// RemoveAgent revokes an agent. For the API.
func (in *Instance) RemoveAgent(ctx context.Context, id string) error {
	if id == fleet.ManagerID {
		return fmt.Errorf("agent 000 is the manager itself: %w", api.ErrBadRequest)
	}
	if err := in.mgr.Remove(ctx, id); err != nil {
		if errors.Is(err, manager.ErrUnknownAgent) {
			return fmt.Errorf("%w: %w", api.ErrNotFound, err)
		}
		return err
	}
	in.log.Warn("agent removed", "agent", id)
	return nil
}

// Undo lifts active responses. For the API.
func (in *Instance) Undo(ctx context.Context, id string, ip netip.Addr) ([]manager.Active, error) {
	done, err := in.mgr.Undo(id, ip)
	if errors.Is(err, manager.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", api.ErrNotFound, err)
	}
	return done, err
}

// Extend moves deadlines of active responses. For the API.
func (in *Instance) Extend(ctx context.Context, id string, ip netip.Addr, until time.Time) ([]manager.Active, error) {
	done, err := in.mgr.Extend(id, ip, until)
	if errors.Is(err, manager.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", api.ErrNotFound, err)
	}
	return done, err
}

// Commands lists commands. For the API.
func (in *Instance) Commands(agent string) []manager.CommandRecord { return in.mgr.Commands(agent) }

// RunManual runs a response by hand, as agent_control -b does, but with
// the address checked and the white list applied unless forced. It
// implements api.Fleet.
func (in *Instance) RunManual(ctx context.Context, req api.ManualRun) (*api.ManualReport, error) {
	name, timeout := req.Command, 0
	cmd := in.command(name)
	if cmd == nil {
		// Wazuh's AR name: the command name followed by the timeout.
		i := len(name)
		for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
			i--
		}
		if i < len(name) {
			if cmd = in.command(name[:i]); cmd != nil {
				timeout, _ = strconv.Atoi(name[i:])
				name = name[:i]
			}
		}
	}
	if cmd == nil {
		return nil, fmt.Errorf("no <command> named %q: %w", req.Command, api.ErrBadRequest)
	}
	if req.Timeout != nil {
		timeout = *req.Timeout
	}
	if timeout < 0 {
		return nil, fmt.Errorf("negative timeout: %w", api.ErrBadRequest)
	}
	if timeout > 0 && !cmd.TimeoutAllowed {
		return nil, fmt.Errorf("command %s does not allow a timeout (<timeout_allowed>no</timeout_allowed>): %w", name, api.ErrBadRequest)
	}
	ip, err := netip.ParseAddr(req.SrcIP)
	if err != nil {
		return nil, fmt.Errorf("srcip %q is not an IP address: %w", req.SrcIP, api.ErrBadRequest)
	}
	ip = ip.Unmap()
	if entry, hit := in.engine.Allowlist().Match(ip); hit && !req.Force {
		return nil, fmt.Errorf("%s is on the white list (%s); use --force to run anyway: %w", ip, entry, api.ErrBadRequest)
	}
	if req.User != "" {
		if err := respond.CheckUser(req.User); err != nil {
			return nil, fmt.Errorf("%w: %w", err, api.ErrBadRequest)
		}
	}
	data := map[string]string{"srcip": ip.String()}
	if req.User != "" {
		data["dstuser"] = req.User
	}
	doc, _ := json.Marshal(map[string]any{"data": data})
	targets := req.Agents
	for _, t := range targets {
		if err := fleet.ValidateAgentID(t); err != nil {
			return nil, fmt.Errorf("%w: %w", err, api.ErrBadRequest)
		}
	}
	delivery := in.mgr.Dispatch(manager.Dispatch{
		DecisionID: "manual-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Name:       cmd.Name,
		Executable: cmd.Executable,
		Timeout:    time.Duration(timeout) * time.Second,
		ExtraArgs:  cmd.ExtraArgs,
		Alert:      doc,
		SrcIP:      ip,
		Targets:    targets,
		AllAgents:  req.All,
	})
	in.log.Info("manual response", "command", cmd.Name, "timeout", timeout, "srcip", ip.String(), "agents", strings.Join(targets, ","), "all", req.All, "forced", req.Force)
	return &api.ManualReport{Command: cmd.Name, Timeout: timeout, Delivery: delivery}, nil
}

// command finds a <command> by name.
func (in *Instance) command(name string) *config.Command {
	for i := range in.cfg.Commands {
		if in.cfg.Commands[i].Name == name {
			return &in.cfg.Commands[i]
		}
	}
	return nil
}

// alone reports whether this instance's manager is alone on its store:
// the embedded server is this process's alone (manager.Options.Alone).
func (in *Instance) alone() bool { return in.broker != nil }
