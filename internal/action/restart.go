package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// riposteUnit is the systemd unit restart-wazuh restarts.
const riposteUnit = "riposte.service"

// restartTimeout bounds the systemctl call.
const restartTimeout = 30 * time.Second

// restartWazuh is restart-wazuh on Unix: it restarts Riposte on this host
// through the service manager, where Wazuh's script ran wazuh-control. It
// is stateless: no keys, so never on a timer.
//
// The restart is queued (systemctl --no-block): Riposte's own execd may be
// the caller, and a restart that waited for the job would be killed with
// the service it stops. Windows' restart-wazuh.exe is another action.
type restartWazuh struct{ env *Env }

func newRestartWazuh(env *Env) Action { return &restartWazuh{env: env} }

// Keys returns no keys: the action is stateless.
func (r *restartWazuh) Keys(in *Input) ([]string, error) { return nil, nil }

// Add asks systemd to restart Riposte. Without systemd it is an error: no
// service manager Riposte knows how to use.
func (r *restartWazuh) Add(ctx context.Context, _ *Input) error {
	if _, err := os.Stat(r.env.Path("/run/systemd/system")); err != nil {
		r.env.logf("Cannot restart Riposte: no service manager found (systemd is not running)")
		return errors.New("no service manager found: cannot restart Riposte")
	}
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	if _, err := r.env.exec().Run(ctx, nil, "systemctl", "--no-block", "restart", riposteUnit); err != nil {
		return fmt.Errorf("restart %s: %w", riposteUnit, err)
	}
	return nil
}

// Delete does nothing: a restart has nothing to undo. (Wazuh's script
// restarts on delete too; execd never sends one for a stateless action.)
func (r *restartWazuh) Delete(context.Context, *Input) error { return nil }

var _ Action = (*restartWazuh)(nil)
