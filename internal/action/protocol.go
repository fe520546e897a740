package action

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// Action is one built-in response.
type Action interface {
	// Keys validates the input and returns the keys the action reports in
	// its check_keys line (the normalised address or user). A nil slice
	// means the action is stateless: no handshake. An error is logged and
	// nothing is applied.
	Keys(in *Input) ([]string, error)
	// Add applies the response and verifies it took effect. It is
	// idempotent: adding what is already there is not an error.
	Add(ctx context.Context, in *Input) error
	// Delete undoes the response. It is idempotent: deleting what is not
	// there is not an error.
	Delete(ctx context.Context, in *Input) error
}

// Verifier is an action that can tell whether its effect is still in place,
// so that execd can re-apply blocks lost to a firewall flush or reload.
type Verifier interface {
	Present(ctx context.Context, in *Input) (bool, error)
}

// Exit codes of a run.
const (
	ExitOK      = 0
	ExitFailed  = 1   // the action was attempted and did not take effect
	ExitInvalid = 255 // invalid input: nothing was applied (Wazuh's -1)
)

// maxInput is the longest input line read, as Wazuh's scripts read.
const maxInput = 64 << 10

// Run speaks the script side of the protocol for the action named name:
// it reads one line from stdin, logs it, answers check_keys on add, acts,
// and returns the exit code. Log lines follow Wazuh's scripts ("Starting",
// the input, the check_keys exchange, "Ended"), and are in the log when it
// returns.
func Run(ctx context.Context, name string, env *Env, stdin io.Reader, stdout io.Writer) int {
	act, code := build(name, env)
	if act == nil {
		env.flushLog()
		return code
	}
	return run(ctx, act, env, stdin, stdout)
}

// build makes the action named name, or logs why it cannot and returns
// the exit code.
func build(name string, env *Env) (Action, int) {
	f, ok := Lookup(name)
	if !ok {
		env.logf("Unknown action %q; known: %s", name, strings.Join(Names(), ", "))
		return nil, ExitInvalid
	}
	act := f(env)
	if act == nil {
		env.logf("Action %q is not available on this system", name)
		return nil, ExitInvalid
	}
	return act, ExitOK
}

// run is Run for an action already built.
func run(ctx context.Context, act Action, env *Env, stdin io.Reader, stdout io.Writer) int {
	defer env.flushLog()
	env.logf("Starting")
	br := bufio.NewReaderSize(stdin, 4096)
	line, err := readLine(br)
	if err != nil {
		env.logf("Cannot read input from stdin")
		return ExitInvalid
	}
	j := prepare(act, env, line)
	if j.needsAnswer() {
		if cont, code := handshake(env, j.in, j.Keys, br, stdout); !cont {
			j.finish(code)
			return j.Code
		}
	}
	j.Run(ctx)
	return j.Code
}

// handshake sends check_keys and reads execd's answer. It reports whether
// to go on, and the exit code otherwise.
func handshake(env *Env, in *Input, keys []string, br *bufio.Reader, stdout io.Writer) (bool, int) {
	msg := checkKeys(env, keys)
	env.logf("%s", msg)
	if _, err := fmt.Fprintf(stdout, "%s\n", msg); err != nil {
		env.logf("Cannot write check_keys: %v", err)
		return false, ExitInvalid
	}
	if f, ok := stdout.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
	reply, err := readLine(br)
	if err != nil {
		env.logf("Cannot read input from stdin")
		return false, ExitInvalid
	}
	env.logf("%s\n\n", reply)
	var m struct {
		Version    json.RawMessage `json:"version"`
		Origin     json.RawMessage `json:"origin"`
		Command    json.RawMessage `json:"command"`
		Parameters json.RawMessage `json:"parameters"`
		Wazuh      json.RawMessage `json:"wazuh"`
	}
	if json.Unmarshal(reply, &m) != nil || !isString(m.Command) ||
		!in.V5 && (!isNumber(m.Version) || !isObject(m.Origin) || !isObject(m.Parameters)) {
		env.logf("Invalid input format")
		return false, ExitInvalid
	}
	var cmd string
	_ = json.Unmarshal(m.Command, &cmd)
	switch cmd {
	case "continue":
		return true, ExitOK
	case "abort":
		env.logf("Aborted")
		return false, ExitOK
	}
	env.logf("Invalid value of 'command'")
	return false, ExitInvalid
}

// checkKeys builds the check_keys line an action sends for keys.
func checkKeys(env *Env, keys []string) []byte {
	msg, _ := json.Marshal(struct {
		Version    int    `json:"version"`
		Origin     origin `json:"origin"`
		Command    string `json:"command"`
		Parameters struct {
			Keys []string `json:"keys"`
		} `json:"parameters"`
	}{
		Version: 1, Origin: origin{Name: path.Base(strings.ReplaceAll(env.Program, `\`, "/")), Module: "active-response"},
		Command: "check_keys", Parameters: struct {
			Keys []string `json:"keys"`
		}{keys},
	})
	return msg
}

// secretArgs is implemented by actions whose extra arguments are secrets
// (a webhook address): they never reach a log.
type secretArgs interface{ secretArgs() }

// redactArgs returns the input line with its extra arguments replaced by
// "***", for logging. A line that is not JSON is replaced whole.
func redactArgs(line []byte) []byte {
	var m map[string]any
	if json.Unmarshal(line, &m) != nil {
		return []byte("(input not logged: it may hold secrets)")
	}
	if p, ok := m["parameters"].(map[string]any); ok {
		if args, ok := p["extra_args"].([]any); ok {
			for i := range args {
				args[i] = "***"
			}
		}
	}
	if w, ok := m["wazuh"].(map[string]any); ok {
		if ar, ok := w["active_response"].(map[string]any); ok {
			if _, ok := ar["extra_arguments"]; ok {
				ar["extra_arguments"] = "***"
			}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return []byte("(input not logged: it may hold secrets)")
	}
	return out
}

type origin struct {
	Name   string `json:"name"`
	Module string `json:"module"`
}

func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			if len(line) > maxInput {
				return nil, fmt.Errorf("input longer than %d bytes", maxInput)
			}
			continue
		}
		if err != nil && (len(line) == 0 || err != io.EOF) {
			return nil, err
		}
		return []byte(strings.TrimRight(string(line), "\r\n")), nil
	}
}

// Factory builds an action for an environment.
type Factory func(env *Env) Action

// Lookup returns the action for an executable name ("firewall-drop",
// "netsh.exe"). A name with .exe also finds the action of the name without
// it.
func Lookup(name string) (Factory, bool) {
	if f, ok := table[name]; ok {
		return f, true
	}
	f, ok := table[strings.TrimSuffix(name, ".exe")]
	return f, ok
}

// Names lists the executable names of the built-in actions, sorted.
func Names() []string {
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
