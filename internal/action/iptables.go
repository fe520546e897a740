package action

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// iptablesBackend is firewall-drop with Wazuh's own commands: one DROP rule
// per address in INPUT and FORWARD (and OUTPUT, matching the destination,
// with Options.Output), ip6tables for IPv6. Unlike Wazuh it waits for the
// xtables lock (-w), checks with -C before inserting so a rule is never
// doubled, removes every copy on delete, and checks the result.
type iptablesBackend struct {
	exec   Runner
	output bool
}

func newIptablesBackend(env *Env) *iptablesBackend {
	return &iptablesBackend{exec: env.exec(), output: env.Options.Output}
}

// iptablesMaxDups bounds the -D loop of del: copies of one rule left by
// Wazuh's script, which inserts without checking.
const iptablesMaxDups = 64

// rules returns the program and the rule specs (chain first) for p.
func (b *iptablesBackend) rules(p netip.Prefix) (string, [][]string) {
	ip := PrefixText(p)
	rs := [][]string{
		{"INPUT", "-s", ip, "-j", "DROP"},
		{"FORWARD", "-s", ip, "-j", "DROP"},
	}
	if b.output {
		rs = append(rs, []string{"OUTPUT", "-d", ip, "-j", "DROP"})
	}
	return iptablesFor(p), rs
}

// iptablesFor returns the iptables program of p's family.
func iptablesFor(p netip.Prefix) string {
	if p.Addr().Is6() {
		return "ip6tables"
	}
	return "iptables"
}

func (b *iptablesBackend) add(ctx context.Context, p netip.Prefix) error {
	prog, rules := b.rules(p)
	for _, r := range rules {
		if err := ensureRule(ctx, b.exec, prog, r); err != nil {
			return err
		}
	}
	return nil
}

func (b *iptablesBackend) del(ctx context.Context, p netip.Prefix) error {
	prog, rules := b.rules(p)
	for _, r := range rules {
		if err := removeRule(ctx, b.exec, prog, r); err != nil {
			return err
		}
	}
	return nil
}

func (b *iptablesBackend) present(ctx context.Context, p netip.Prefix) (bool, error) {
	prog, rules := b.rules(p)
	for _, r := range rules {
		ok, err := checkRule(ctx, b.exec, prog, r)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// ensureRule inserts rule (chain first) at the top of its chain unless
// iptables -C finds it, then checks it is there.
func ensureRule(ctx context.Context, r Runner, prog string, rule []string) error {
	ok, err := checkRule(ctx, r, prog, rule)
	if err != nil || ok {
		return err
	}
	if _, err := r.Run(ctx, nil, prog, append([]string{"-w", "-I"}, rule...)...); err != nil {
		return fmt.Errorf("%s: insert into %s: %w", prog, rule[0], err)
	}
	ok, err = checkRule(ctx, r, prog, rule)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: rule %v not in chain %s after inserting it", prog, rule[1:], rule[0])
	}
	return nil
}

// removeRule deletes rule while iptables -C finds it.
func removeRule(ctx context.Context, r Runner, prog string, rule []string) error {
	for range iptablesMaxDups {
		ok, err := checkRule(ctx, r, prog, rule)
		if err != nil || !ok {
			return err
		}
		if _, err := r.Run(ctx, nil, prog, append([]string{"-w", "-D"}, rule...)...); err != nil {
			return fmt.Errorf("%s: delete from %s: %w", prog, rule[0], err)
		}
	}
	return fmt.Errorf("%s: rule %v still in chain %s after %d deletions", prog, rule[1:], rule[0], iptablesMaxDups)
}

// checkRule reports whether iptables -C finds rule.
func checkRule(ctx context.Context, r Runner, prog string, rule []string) (bool, error) {
	return runCheck(ctx, r, prog, append([]string{"-w", "-C"}, rule...)...)
}

// runCheck runs a command that answers by its exit status (iptables -C,
// ipset test): true when it succeeds, false when it fails, and an error
// only when it could not run at all.
func runCheck(ctx context.Context, r Runner, name string, args ...string) (bool, error) {
	_, err := r.Run(ctx, nil, name, args...)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, err
	case ctx.Err() != nil:
		return false, fmt.Errorf("%s: %w", name, ctx.Err())
	}
	return false, nil
}

var _ dropBackend = (*iptablesBackend)(nil)
