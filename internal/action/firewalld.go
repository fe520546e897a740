package action

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"time"
)

// firewalldDrop is firewalld-drop: a rich rule dropping the address in
// firewalld's default zone, through firewall-cmd. The rule is one argv
// element, as in Wazuh's script. With Options.FirewalldPermanent the rule
// is also written to the permanent configuration, so a firewalld reload or
// a reboot keeps it (Wazuh's script changes the runtime only).
type firewalldDrop struct {
	env *Env
	// retryDelays are the waits between tries of a firewall-cmd that
	// fails (firewalld busy reloading): Wazuh tries 5 times.
	retryDelays []time.Duration
}

func newFirewalldDrop(env *Env) Action {
	return &firewalldDrop{env: env, retryDelays: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}}
}

// Keys returns the normalised address.
func (f *firewalldDrop) Keys(in *Input) ([]string, error) { return ipKeys(f.env, in) }

// firewalldRule is the rich rule dropping p.
func firewalldRule(p netip.Prefix) string {
	family := "ipv4"
	if p.Addr().Is6() {
		family = "ipv6"
	}
	return fmt.Sprintf(`rule family="%s" source address="%s" drop`, family, PrefixText(p))
}

func (f *firewalldDrop) rule(in *Input) (string, error) {
	if f.env.goos() != "linux" {
		return "", fmt.Errorf("invalid system %q: firewalld-drop runs on Linux", f.env.goos())
	}
	p, err := target(f.env, in)
	if err != nil {
		return "", err
	}
	return firewalldRule(p), nil
}

// Add adds the rule (runtime, and permanent when configured); a rule
// already there is fine (firewall-cmd warns ALREADY_ENABLED and succeeds).
// It is an error if the runtime rule is not there afterwards.
func (f *firewalldDrop) Add(ctx context.Context, in *Input) error {
	rule, err := f.rule(in)
	if err != nil {
		return err
	}
	if err := f.cmd(ctx, "--add-rich-rule="+rule); err != nil {
		return err
	}
	if f.env.Options.FirewalldPermanent {
		if err := f.cmd(ctx, "--permanent", "--add-rich-rule="+rule); err != nil {
			return err
		}
	}
	ok, err := f.query(ctx, rule)
	return confirmAdded(ok, err, "firewalld rule %s not found after adding it", rule)
}

// Delete removes the rule (runtime, and permanent when configured); a
// missing rule is fine (NOT_ENABLED is a warning).
func (f *firewalldDrop) Delete(ctx context.Context, in *Input) error {
	rule, err := f.rule(in)
	if err != nil {
		return err
	}
	if err := f.cmd(ctx, "--remove-rich-rule="+rule); err != nil {
		return err
	}
	if f.env.Options.FirewalldPermanent {
		if err := f.cmd(ctx, "--permanent", "--remove-rich-rule="+rule); err != nil {
			return err
		}
	}
	ok, err := f.query(ctx, rule)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("firewalld rule %s still there after removing it", rule)
	}
	return nil
}

// Present reports whether the runtime rule is in place.
func (f *firewalldDrop) Present(ctx context.Context, in *Input) (bool, error) {
	rule, err := f.rule(in)
	if err != nil {
		return false, err
	}
	return f.query(ctx, rule)
}

// cmd runs firewall-cmd, trying again while it fails, as Wazuh's script
// does. A missing firewall-cmd fails at once.
func (f *firewalldDrop) cmd(ctx context.Context, args ...string) error {
	var err error
	for i := 0; ; i++ {
		_, err = f.env.exec().Run(ctx, nil, "firewall-cmd", args...)
		if err == nil || errors.Is(err, ErrNotFound) || i >= len(f.retryDelays) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("unable to run firewall-cmd: %w (%w)", ctx.Err(), err)
		case <-time.After(f.retryDelays[i]):
		}
	}
	if err != nil {
		return fmt.Errorf("unable to run firewall-cmd, action: '%s': %w", strings.Join(args, " "), err)
	}
	return nil
}

// query asks firewalld whether the runtime rule is there: firewall-cmd
// --query-rich-rule prints "yes" and exits 0, or prints "no" and exits 1.
func (f *firewalldDrop) query(ctx context.Context, rule string) (bool, error) {
	out, err := f.env.exec().Run(ctx, nil, "firewall-cmd", "--query-rich-rule="+rule)
	if err == nil {
		return true, nil
	}
	var ee *exec.ExitError
	if strings.TrimSpace(string(out)) == "no" || errors.As(err, &ee) && ee.ExitCode() == 1 {
		return false, nil
	}
	return false, fmt.Errorf("unable to query firewalld: %w", err)
}

var (
	_ Action   = (*firewalldDrop)(nil)
	_ Verifier = (*firewalldDrop)(nil)
)
