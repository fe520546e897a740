package instance

import (
	"fmt"
	"time"

	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
)

// executor carries out fleet commands with this host's execd: on an agent
// for the commands it receives, on the manager for agent 000.
type executor struct {
	x   *execd.Execd
	now func() time.Time
}

// Execute hands cmd to execd. A run's request id is the command id, so its
// results name the command they answer.
func (e executor) Execute(cmd fleet.Command) error {
	switch cmd.Kind {
	case fleet.KindRun:
		return e.x.Submit(commandRequest(cmd, e.now()))
	case fleet.KindUndo:
		return e.x.Undo(cmd.Key)
	case fleet.KindExtend:
		return e.x.Extend(cmd.Key, cmd.Until)
	}
	return fmt.Errorf("unknown command kind %q", cmd.Kind)
}

// Active is how many stateful responses execd holds.
func (e executor) Active() int { return len(e.x.Pending()) }

// commandRequest turns a run command into an execd request.
func commandRequest(cmd fleet.Command, now time.Time) execd.Request {
	timeout := cmd.Timeout.D()
	// A command that waited for its agent runs only for what remains of
	// its timeout; the transit of one that did not wait is not counted.
	if left := cmd.Expires.Sub(now); timeout > 0 && left < timeout-time.Second {
		timeout = max(left, time.Second)
	}
	return execd.Request{
		ID:         cmd.ID,
		Command:    cmd.Name,
		Executable: cmd.Executable,
		Timeout:    timeout,
		ExtraArgs:  cmd.ExtraArgs,
		Alert:      cmd.Alert,
		Ladder:     cmd.Ladder,
		Accepted:   cmd.Issued,
	}
}

// fleetResult is the wire form of an execd result.
func fleetResult(r execd.Result) fleet.Result {
	backend := "script"
	if r.Builtin {
		backend = "builtin"
	}
	return fleet.Result{
		Kind:       fleet.Run,
		CommandID:  r.RequestID,
		Outcome:    string(r.Status),
		Note:       r.Note,
		Time:       r.Started.Add(r.Duration),
		Name:       r.Command,
		Executable: executableOf(r.Program),
		Verb:       r.Verb,
		Key:        r.Key,
		Keys:       r.Keys,
		ExitCode:   r.ExitCode,
		Duration:   fleet.Duration(r.Duration),
		Stderr:     r.Stderr,
		Timeout:    fleet.Duration(r.Timeout),
		Started:    r.Started,
		Backend:    backend,
	}
}

// executableOf is the file name of a result's program
// ("active-response/bin/firewall-drop").
func executableOf(program string) string {
	for i := len(program) - 1; i >= 0; i-- {
		if program[i] == '/' {
			return program[i+1:]
		}
	}
	return program
}

// reconcileActive makes the manager's active list for this host what
// execd holds.
func (in *Instance) reconcileActive() {
	ps := in.exec.Pending()
	held := make([]manager.Active, 0, len(ps))
	for _, p := range ps {
		held = append(held, manager.Active{Name: p.Command, Executable: p.Executable, Key: p.Key, Keys: p.Keys, Added: p.Added, Until: p.Deadline})
	}
	if changed, dropped := in.mgr.Reconcile(fleet.ManagerID, held); changed+dropped > 0 {
		in.log.Info("active responses of this host reconciled with its timers", "added_or_changed", changed, "dropped", dropped)
	}
}
