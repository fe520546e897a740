package action

import (
	"context"
	"errors"
	"fmt"
)

// restartWazuhWindows is restart-wazuh.exe (Windows): it restarts the
// Riposte agent service, as Wazuh's restarts the Wazuh service:
//
//	net stop riposte
//	net start riposte
//
// run with argv (Wazuh's script went through system(), that is cmd.exe).
// It is stateless (no check_keys) and acts on add only; a delete does
// nothing, as in Wazuh. A failed stop (the service was not running) is
// logged and the start still runs; the action fails when the start fails.
//
// Limits. A service cannot restart itself from inside: "net stop" ends the
// Riposte process, so this must run as its own process (riposte-ar under
// the name restart-wazuh.exe), which outlives the service it stops, and
// whoever runs it must neither run it in-process nor kill it while the
// service stops. net waits for the stop and the start to finish (about 30
// s at most each by default); the service name is fixed (riposteService).
type restartWazuhWindows struct{ env *Env }

func newRestartWazuhWindows(env *Env) Action { return &restartWazuhWindows{env: env} }

// riposteService is the Windows service name of the Riposte agent.
const riposteService = "riposte"

// Keys returns no keys: the response is stateless.
func (r *restartWazuhWindows) Keys(*Input) ([]string, error) { return nil, nil }

// Add stops and starts the service.
func (r *restartWazuhWindows) Add(ctx context.Context, _ *Input) error {
	if g := r.env.goos(); g != "windows" {
		return fmt.Errorf("invalid system %q: restart-wazuh.exe runs on Windows", g)
	}
	_, stopErr := r.env.exec().Run(ctx, nil, "net", "stop", riposteService)
	if errors.Is(stopErr, ErrNotFound) {
		return stopErr
	}
	if stopErr != nil {
		r.env.logf("Stopping service %s: %v", riposteService, stopErr)
	}
	_, err := r.env.exec().Run(ctx, nil, "net", "start", riposteService)
	return err
}

// Delete does nothing: there is nothing to undo.
func (r *restartWazuhWindows) Delete(context.Context, *Input) error { return nil }

var _ Action = (*restartWazuhWindows)(nil)
