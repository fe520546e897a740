package action

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// npfAction is npf (NetBSD): the address goes into the npf table
// <wazuh_blacklist>, Wazuh's name. As with Wazuh's script, the table and
// the rules that use it are the administrator's: Riposte checks they are
// loaded ("npfctl show") and never edits npf.conf. npf must be filtering.
//
// An address already in the table is not added again, and after adding,
// "npfctl table wazuh_blacklist test <addr>" must find it.
type npfAction struct{ env *Env }

func newNPF(env *Env) Action { return &npfAction{env: env} }

const npfTable = "wazuh_blacklist"

// npfConfHint is what npf.conf needs for this action to work.
const npfConfHint = "add to /etc/npf.conf `table <" + npfTable + "> type lpm` and a rule such as " +
	"`block in final from <" + npfTable + ">` in your group, then run `npfctl reload`"

// Keys returns the normalised address.
func (a *npfAction) Keys(in *Input) ([]string, error) { return ipKeys(a.env, in) }

func (a *npfAction) platform() error {
	if g := a.env.goos(); g != "netbsd" {
		return fmt.Errorf("invalid system %q: npf runs on NetBSD", g)
	}
	return nil
}

func (a *npfAction) npfctl(ctx context.Context, args ...string) ([]byte, error) {
	return a.env.exec().Run(ctx, nil, "npfctl", args...)
}

// Add checks that npf filters and has the table, adds the address unless it
// is listed, and tests that it matches afterwards.
func (a *npfAction) Add(ctx context.Context, in *Input) error {
	p, err := target(a.env, in)
	if err != nil {
		return err
	}
	if err := a.platform(); err != nil {
		return err
	}
	show, err := a.npfctl(ctx, "show")
	if err != nil {
		return err
	}
	switch npfFiltering(show) {
	case "active":
	case "":
		a.env.logf("Unable to find 'filtering'")
		return errors.New("npfctl show: no 'filtering:' line")
	default:
		a.env.logf("The filter property is inactive")
		return errors.New("npf is not filtering: run `npfctl start`")
	}
	if !npfHasTable(show) {
		a.env.logf("Unable to find 'table <%s>'", npfTable)
		return fmt.Errorf("npf has no table <%s>: %s", npfTable, npfConfHint)
	}
	listed, err := a.listed(ctx, p)
	if err != nil {
		return err
	}
	addr := PrefixText(p)
	if !listed {
		if _, err := a.npfctl(ctx, "table", npfTable, "add", addr); err != nil {
			return err
		}
	}
	ok, err := a.test(ctx, p)
	return confirmAdded(ok, err, "%s does not match npf table <%s> after adding it", addr, npfTable)
}

// Delete removes the address when the table lists it; no table or no entry
// is fine. Filtering need not be active to remove an entry.
func (a *npfAction) Delete(ctx context.Context, in *Input) error {
	p, err := target(a.env, in)
	if err != nil {
		return err
	}
	if err := a.platform(); err != nil {
		return err
	}
	show, err := a.npfctl(ctx, "show")
	if err != nil {
		return err
	}
	if !npfHasTable(show) {
		return nil
	}
	listed, err := a.listed(ctx, p)
	if err != nil || !listed {
		return err
	}
	_, err = a.npfctl(ctx, "table", npfTable, "del", PrefixText(p))
	return err
}

// Present reports whether the table lists exactly this address or block.
func (a *npfAction) Present(ctx context.Context, in *Input) (bool, error) {
	p, err := target(a.env, in)
	if err != nil {
		return false, err
	}
	if err := a.platform(); err != nil {
		return false, err
	}
	return a.listed(ctx, p)
}

// listed reads "npfctl table wazuh_blacklist list", one entry a line.
func (a *npfAction) listed(ctx context.Context, p netip.Prefix) (bool, error) {
	out, err := a.npfctl(ctx, "table", npfTable, "list")
	if err != nil {
		return false, err
	}
	return tableListed(out, p), nil
}

// test runs "npfctl table wazuh_blacklist test <addr>", which exits 0 when
// the address matches an entry. A block is tested by its first address.
func (a *npfAction) test(ctx context.Context, p netip.Prefix) (bool, error) {
	_, err := a.npfctl(ctx, "table", npfTable, "test", p.Addr().String())
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, err
	}
	return false, nil
}

// npfFiltering returns the word after "filtering:" in "npfctl show"
// ("active", "inactive"), or "" when there is no such line.
func npfFiltering(show []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(show))
	for sc.Scan() {
		_, after, ok := strings.Cut(sc.Text(), "filtering:")
		if !ok {
			continue
		}
		if f := strings.Fields(after); len(f) > 0 {
			return f[0]
		}
		return "unknown"
	}
	return ""
}

// npfHasTable reports whether "npfctl show" lists table <wazuh_blacklist>.
func npfHasTable(show []byte) bool {
	return bytes.Contains(show, []byte("table <"+npfTable+">"))
}

var (
	_ Action   = (*npfAction)(nil)
	_ Verifier = (*npfAction)(nil)
)
