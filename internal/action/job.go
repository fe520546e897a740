package action

import (
	"context"
	"errors"
	"sync"
)

// Job is one message for a built-in action run in-process: read, logged
// and checked by Prepare, waiting for its check_keys answer and then to be
// carried out. It writes the log lines of a script run through the
// protocol ("Starting", the input, the check_keys exchange, "Ended"), with
// no pipes and no second reading of the reply. execd prepares many jobs,
// settles their keys together, and carries out their adds with StartAll,
// in one firewall transaction where the action can.
type Job struct {
	// Keys are the keys of the check_keys line; nil for a stateless
	// action or a delete, which have no handshake.
	Keys []string
	// Code is the exit code, once Done.
	Code int

	act  Action
	env  *Env
	in   *Input
	done bool
}

// Prepare reads line for the action named name: it logs "Starting" and the
// input, parses it and takes the action's keys. A job that cannot go on
// (unknown action, invalid input) is Done with its exit code.
func Prepare(name string, env *Env, line []byte) *Job {
	act, code := build(name, env)
	if act == nil {
		return &Job{env: env, Code: code, done: true}
	}
	env.logf("Starting")
	if len(line) > maxInput {
		env.logf("Cannot read input from stdin")
		return &Job{env: env, Code: ExitInvalid, done: true}
	}
	return prepare(act, env, line)
}

// prepare is Prepare for an action already built, after "Starting".
func prepare(act Action, env *Env, line []byte) *Job {
	j := &Job{act: act, env: env}
	logged := line
	if _, secret := act.(secretArgs); secret {
		logged = redactArgs(line)
	}
	env.logf("%s\n\n", logged)
	in, err := ParseInput(line)
	if err != nil {
		env.logf("%s", err)
		j.finish(ExitInvalid)
		return j
	}
	j.in = in
	keys, err := act.Keys(in)
	if err != nil {
		env.logf("%s", err)
		j.finish(ExitInvalid)
		return j
	}
	if in.Verb == Add {
		j.Keys = keys
	}
	return j
}

// Done reports whether the job has ended.
func (j *Job) Done() bool { return j.done }

// needsAnswer reports whether the job waits for a check_keys answer.
func (j *Job) needsAnswer() bool { return !j.done && j.Keys != nil }

// Answer settles the check_keys handshake: it logs the check_keys line the
// action sends and reply, the message execd answers with, and ends the job
// unless cont (execd said continue). It does nothing for a job with no
// keys, and does not keep reply.
func (j *Job) Answer(reply []byte, cont bool) {
	if !j.needsAnswer() {
		return
	}
	j.env.logf("%s", checkKeys(j.env, j.Keys))
	j.env.logf("%s\n\n", reply)
	if !cont {
		j.env.logf("Aborted")
		j.finish(ExitOK)
	}
}

// Run carries out a job that is not done: its add or delete, then the
// closing log line.
func (j *Job) Run(ctx context.Context) {
	if j.done {
		return
	}
	var err error
	if j.in.Verb == Add {
		err = j.act.Add(ctx, j.in)
	} else {
		err = j.act.Delete(ctx, j.in)
	}
	j.end(err)
}

// end logs how the action went and sets the exit code.
func (j *Job) end(err error) {
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			j.env.logf("%s", err)
			j.finish(ExitInvalid)
			return
		}
		j.env.logf("Unable to run active response: %s: %v", j.in.Verb, err)
		j.finish(ExitFailed)
		return
	}
	j.env.logf("Ended")
	j.finish(ExitOK)
}

func (j *Job) finish(code int) {
	j.Code, j.done = code, true
}

// queuedAdder is an action whose adds can be queued, so that many are
// carried out together: queues reports whether its adds can be queued on
// this system (the backend decides), and queueAdd starts the add of in and
// returns a function that waits for it, or nil when this add cannot be
// queued.
type queuedAdder interface {
	queues() bool
	queueAdd(ctx context.Context, in *Input) (wait func() error)
}

// Queues reports whether the adds of the action named name can be queued
// and carried out together by StartAll in env (firewall-drop on nftables:
// the backend is chosen, detected if need be, to tell).
func Queues(name string, env *Env) bool {
	f, ok := Lookup(name)
	if !ok {
		return false
	}
	q, ok := f(env).(queuedAdder)
	return ok && q.queues()
}

// maxConcurrentAdds bounds the adds StartAll runs at once for actions that
// cannot queue them.
const maxConcurrentAdds = 16

// StartAll starts to carry out the jobs that are not done yet, as Run does
// for each: adds that can be queued (single addresses for firewall-drop
// on nftables) go into one batch; the others run concurrently, a few at a
// time. It returns a function that waits for them to end, so that the
// caller can get the next jobs ready meanwhile; ctx must last until the
// wait is over.
func StartAll(ctx context.Context, jobs []*Job) (wait func()) {
	type pending struct {
		j    *Job
		wait func() error
	}
	var queued []pending
	var rest []*Job
	for _, j := range jobs {
		if j.done {
			continue
		}
		if q, ok := j.act.(queuedAdder); ok && j.in.Verb == Add {
			if wait := q.queueAdd(ctx, j.in); wait != nil {
				queued = append(queued, pending{j, wait})
				continue
			}
		}
		rest = append(rest, j)
	}
	// The others run a few at a time, while the batch goes.
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxConcurrentAdds)
	for _, j := range rest {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			j.Run(ctx)
		})
	}
	return func() {
		for _, p := range queued {
			p.j.end(p.wait())
		}
		wg.Wait()
	}
}

// Call runs the action named name on one message in-process, the way Run
// does behind stdin and stdout, with the same log lines: answer decides
// the check_keys handshake of an add (it is not called for a stateless
// action or a delete). It returns the exit code, once the log lines are in
// the log.
func Call(ctx context.Context, name string, env *Env, line []byte, answer func(keys []string) (reply []byte, cont bool)) int {
	defer env.flushLog()
	j := Prepare(name, env, line)
	if j.needsAnswer() {
		j.Answer(answer(j.Keys))
	}
	j.Run(ctx)
	return j.Code
}
