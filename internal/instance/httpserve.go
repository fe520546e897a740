package instance

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"

	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/console"
	"github.com/riposte/riposte/internal/httpapi"
	"github.com/riposte/riposte/internal/metrics"
	"github.com/riposte/riposte/internal/pki"
	"github.com/riposte/riposte/internal/users"
)

// AdminPasswordFile is where the first start leaves the password of the
// administrator "admin".
func (l Layout) AdminPasswordFile() string { return filepath.Join(l.Dir, "admin.password") }

// UsersFile holds the API's users.
func (l Layout) UsersFile() string { return filepath.Join(l.StateDir(), "users.json") }

// prepareAPI opens the users (creating the administrator on first start)
// and the API server, which the control socket always serves (as the
// local administrator) and, unless <api><listen> is off, an HTTPS listener
// too, with its certificate.
func (in *Instance) prepareAPI() error {
	ac := in.cfg.Riposte.API
	st, err := users.Open(in.layout.UsersFile())
	if err != nil {
		return fmt.Errorf("api users: %w", err)
	}
	created, err := st.EnsureAdmin(in.layout.AdminPasswordFile())
	if err != nil {
		return fmt.Errorf("api users: %w", err)
	}
	if created {
		in.log.Info("API administrator created", "user", "admin", "password_file", in.layout.AdminPasswordFile())
	}
	srv, err := httpapi.New(httpapi.Options{
		Backend: apiBackend{in},
		Users:   st,
		Logger:  in.log,
		Node:    in.cfg.NodeName,
		Console: console.Handler(),
		Metrics: in.metrics.Handler(),
	})
	if err != nil {
		return err
	}
	in.apiServer = srv
	if ac.Listen == "" {
		return nil
	}
	var cert tls.Certificate
	if ac.CertFile != "" {
		if cert, err = tls.LoadX509KeyPair(ac.CertFile, ac.KeyFile); err != nil {
			return fmt.Errorf("api certificate: %w", err)
		}
	} else {
		if in.ca == nil {
			if in.ca, err = pki.LoadOrCreateCA(in.layout.PKIDir()); err != nil {
				return fmt.Errorf("api certificate: %w", err)
			}
		}
		host, _, _ := net.SplitHostPort(ac.Listen)
		if cert, err = in.ca.ServerCertificate(in.layout.PKIDir(), append([]string{host}, in.cfg.Riposte.Fleet.ServerNames...)); err != nil {
			return fmt.Errorf("api certificate: %w", err)
		}
	}
	ln, err := net.Listen("tcp", ac.Listen)
	if err != nil {
		return fmt.Errorf("api listener %s: %w", ac.Listen, err)
	}
	in.apiListener, in.apiCert = ln, cert
	return nil
}

// socketHandler is the control socket's handler: the endpoints of riposte
// alert send and of health checks, and the whole API acting as the local
// administrator (the socket's mode, 0600, limits it to root).
func (in *Instance) socketHandler() http.Handler {
	mux := http.NewServeMux()
	local := api.Handler(in, in.log)
	mux.Handle("/v1/", local)
	mux.Handle("/debug/", local)
	mux.Handle("/", in.apiServer.LocalHandler(users.User{Name: LocalUser, Role: users.Administrator}))
	return mux
}

// LocalUser is who changes made on the control socket are recorded as.
const LocalUser = "root@socket"

// serveAPI serves the HTTPS API until ctx ends.
func (in *Instance) serveAPI(ctx context.Context) error {
	in.log.Info("API and console", "url", "https://"+in.apiListener.Addr().String()+"/", "admin_password_file", in.layout.AdminPasswordFile())
	return in.apiServer.Serve(ctx, in.apiListener, in.apiCert)
}

// APIAddr is the address the HTTPS API listens on ("" when off).
func (in *Instance) APIAddr() string {
	if in.apiListener == nil {
		return ""
	}
	return in.apiListener.Addr().String()
}

// newMetrics makes the instance's metrics and the gauges read at scrape
// time.
func (in *Instance) newMetrics() *metrics.Metrics {
	m := metrics.New()
	m.SetQueueFunc("analysis", func() int { return len(in.events) })
	m.SetActiveFunc(func() map[metrics.ActiveKey]int {
		out := make(map[metrics.ActiveKey]int)
		if in.mgr == nil {
			return out
		}
		for _, a := range in.mgr.Active(managerFilterAll) {
			out[metrics.ActiveKey{Backend: a.Backend, Agent: a.Agent}]++
		}
		return out
	})
	return m
}
