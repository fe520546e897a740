package execd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/riposte/riposte/internal/action"
)

// actionEnv returns the environment for running executable in-process, or
// nil when it runs as an external program: it is not a built-in name, or a
// file of that name in the bin directory (other than a link installed for
// the built-ins) overrides it.
func (x *Execd) actionEnv(executable string, timeout time.Duration) *action.Env {
	if x.opts.NoBuiltins {
		return nil
	}
	if _, ok := action.Lookup(executable); !ok {
		return nil
	}
	if !action.IsBuiltinLink(filepath.Join(x.opts.Dir, BinDir, executable)) {
		return nil
	}
	return &action.Env{
		Program: x.program(executable),
		Log:     x.opts.ARLog,
		Options: x.opts.Actions,
		Timeout: timeout,
		Root:    x.opts.ActionRoot,
		Exec:    x.opts.ActionExec,
		Shared:  &x.shared,
	}
}

// launch starts an external program. On failure it returns the status to
// record.
func (x *Execd) launch(executable string, wantStdout bool) (*proc, Status, error) {
	path, err := x.checkExecutable(executable)
	if err != nil {
		return nil, StatusNotFound, err
	}
	p, err := startProc(x.runCtx, path, x.program(executable), x.opts.Dir, wantStdout)
	if err != nil {
		return nil, StatusError, fmt.Errorf("could not start: %w", err)
	}
	return p, "", nil
}

// callAdd runs the add of a built-in action in this goroutine, with the
// same messages, log lines, timer and result as a script's run, but with
// the check_keys handshake answered by a function call instead of through
// pipes.
func (x *Execd) callAdd(req Request, env *action.Env, msg []byte, res Result) {
	res.Builtin = true
	res.Started = time.Now()
	if !req.Accepted.IsZero() {
		res.StartDelay = res.Started.Sub(req.Accepted)
	}
	ctx, cancel := context.WithTimeout(x.runCtx, x.opts.RunTimeout)
	defer cancel()
	var (
		unlock   func()
		verb     string
		extended bool
	)
	code := action.Call(ctx, req.Executable, env, msg, func(keys []string) ([]byte, bool) {
		key := takeKeys(&res, req.Executable, keys)
		verb = verbContinue
		if req.Timeout > 0 {
			res.Key = key
			unlock = x.keys.lock(key)
			verb, res.Timeout, extended = x.arm(req, key, msg, &res)
			env.Timeout = res.Timeout
		}
		return withVerb(msg, verb), verb == verbContinue
	})
	if unlock != nil {
		defer unlock()
	}
	x.addStatus(&res, req, code, verb, ctx.Err() != nil && x.runCtx.Err() == nil)
	if extended {
		// The block is already in place; give it its new lifetime (a kernel
		// element timeout, for instance).
		if err := x.refresh(req.Executable, msg, res.Timeout); err != nil {
			res.Note = strings.TrimSpace(res.Note + " refreshing the active block failed: " + err.Error())
		}
	}
	res.Duration = time.Since(res.Started)
	x.report(res)
}

// takeKeys records the keys of an action's check_keys line in res and
// returns the timer key.
func takeKeys(res *Result, executable string, keys []string) string {
	res.Keys = normalizeKeys(keys)
	if len(res.Keys) == 0 {
		res.Note = "unusable check_keys line (no string keys); using the executable name as the key"
	}
	return rkey(executable, res.Keys)
}

// addStatus sets the exit code and status of a built-in's add from the
// action's exit code, the check_keys answer (verb, "" when none was asked)
// and whether its time ran out (late), and logs a failure.
func (x *Execd) addStatus(res *Result, req Request, code int, verb string, late bool) {
	res.ExitCode = code
	if verb == "" && req.Timeout > 0 && code != action.ExitInvalid {
		res.Note = "the script sent no check_keys line, so no delete will run for this response"
	}
	switch {
	case late && code != action.ExitOK:
		res.Status = StatusKilled
		res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" still running after %s; stopped", x.opts.RunTimeout))
		x.arlog("%s: stopped: still running after %s (request %s)", res.Program, x.opts.RunTimeout, req.ID)
	case verb == verbAbort:
		res.Status = StatusAborted
	case code == action.ExitOK:
		res.Status = StatusOK
	default:
		res.Status = StatusFailed
		x.arlog("%s: exited with status %d (request %s)", res.Program, code, req.ID)
	}
}

// callDelete runs the delete of e with a built-in action in this
// goroutine and fills in res.
func (x *Execd) callDelete(e *entry, env *action.Env, res *Result) {
	res.Builtin = true
	res.Started = time.Now()
	ctx, cancel := context.WithTimeout(x.runCtx, x.opts.RunTimeout)
	defer cancel()
	res.ExitCode = action.Call(ctx, e.Executable, env, e.Delete, nil)
	res.Duration = time.Since(res.Started)
	switch {
	case ctx.Err() != nil && x.runCtx.Err() == nil:
		res.Status = StatusKilled
		res.Note = fmt.Sprintf("delete still running after %s; stopped", x.opts.RunTimeout)
		x.arlog("%s: delete stopped: still running after %s", res.Program, x.opts.RunTimeout)
	case res.ExitCode == action.ExitOK:
		res.Status = StatusOK
	default:
		res.Status = StatusFailed
		x.arlog("%s: delete exited with status %d", res.Program, res.ExitCode)
	}
}

// builtinAction returns the in-process action and the input of a stored
// message, when executable runs as a built-in.
func (x *Execd) builtinAction(executable string, msg []byte, timeout time.Duration) (action.Action, *action.Input, error) {
	env := x.actionEnv(executable, timeout)
	if env == nil {
		return nil, nil, nil
	}
	f, _ := action.Lookup(executable)
	in, err := action.ParseInput(msg)
	if err != nil {
		return nil, nil, err
	}
	return f(env), in, nil
}

// refresh applies a built-in action's add again, with a new lifetime, for a
// block that is already active.
func (x *Execd) refresh(executable string, msg []byte, timeout time.Duration) error {
	act, in, err := x.builtinAction(executable, msg, timeout)
	if err != nil || act == nil {
		return err
	}
	ctx, cancel := context.WithTimeout(x.runCtx, x.opts.RunTimeout)
	defer cancel()
	return act.Add(ctx, in)
}

// reconcile checks every active block of a built-in action that can verify
// itself, and re-applies the ones that are gone (the firewall was flushed or
// reloaded underneath).
func (x *Execd) reconcile() {
	x.mu.Lock()
	entries := make([]*entry, 0, len(x.entries))
	for _, e := range x.entries {
		entries = append(entries, e)
	}
	x.mu.Unlock()
	for _, e := range entries {
		if x.runCtx.Err() != nil {
			return
		}
		x.reconcileOne(e)
	}
}

func (x *Execd) reconcileOne(e *entry) {
	unlock := x.keys.lock(e.Key)
	defer unlock()
	x.mu.Lock()
	live := x.entries[e.Key] == e
	remaining := time.Until(e.due)
	x.mu.Unlock()
	if !live || remaining <= 0 {
		return
	}
	act, in, err := x.builtinAction(e.Executable, e.Delete, remaining)
	if err != nil || act == nil {
		return
	}
	v, ok := act.(action.Verifier)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(x.runCtx, x.opts.RunTimeout)
	defer cancel()
	present, err := v.Present(ctx, in)
	if err != nil {
		x.log.Warn("cannot verify active block", "key", e.Key, "err", err)
		return
	}
	if present {
		return
	}
	err = act.Add(ctx, in)
	program := x.program(e.Executable)
	if err != nil {
		x.log.Error("active block missing and could not be re-applied", "key", e.Key, "err", err)
		x.arlog("%s: active block %v was missing and could not be re-applied: %v", program, keysOf(e.Key), err)
		return
	}
	x.log.Warn("active block was missing (firewall flushed or reloaded?); re-applied", "key", e.Key, "remaining", remaining.Round(time.Second))
	x.arlog("%s: active block %v was missing; re-applied for the remaining %s", program, keysOf(e.Key), remaining.Round(time.Second))
}
