package action

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// ipfwAction is ipfw (FreeBSD): the address goes into ipfw table 00001,
// which rule 00001 denies in both directions, as Wazuh's script does.
//
// The two rules are added only when "ipfw show" does not list them, with
// the rule number after "add" ("ipfw -q add 00001 deny ..."; Wazuh's script
// wrote "ipfw -q 00001 add ...", which ipfw rejects). ipfw prints the table
// as "table(1)", so both spellings are recognised and the rules are not
// added again on every run. An address already in the table is not added
// again, and the table is read back after adding.
type ipfwAction struct{ env *Env }

func newIPFW(env *Env) Action { return &ipfwAction{env: env} }

const (
	ipfwNum = "00001" // rule and table number, as Wazuh's
	// The two rules, as ipfw takes them and as "ipfw show" prints them
	// (with table(1)).
	ipfwRuleIn  = "deny ip from table(" + ipfwNum + ") to any"
	ipfwRuleOut = "deny ip from any to table(" + ipfwNum + ")"
)

// Keys returns the normalised address.
func (a *ipfwAction) Keys(in *Input) ([]string, error) { return ipKeys(a.env, in) }

func (a *ipfwAction) platform() error {
	if g := a.env.goos(); g != "freebsd" {
		return fmt.Errorf("invalid system %q: ipfw runs on FreeBSD", g)
	}
	return nil
}

func (a *ipfwAction) ipfw(ctx context.Context, args ...string) ([]byte, error) {
	return a.env.exec().Run(ctx, nil, "ipfw", args...)
}

// Add makes sure both rules exist, adds the address to the table unless it
// is there, and checks it is listed afterwards.
func (a *ipfwAction) Add(ctx context.Context, in *Input) error {
	p, err := target(a.env, in)
	if err != nil {
		return err
	}
	if err := a.platform(); err != nil {
		return err
	}
	show, err := a.ipfw(ctx, "show")
	if err != nil {
		return err
	}
	for _, rule := range []string{ipfwRuleIn, ipfwRuleOut} {
		if ipfwHasRule(show, rule) {
			continue
		}
		if _, err := a.ipfw(ctx, append([]string{"-q", "add", ipfwNum}, strings.Fields(rule)...)...); err != nil {
			return err
		}
	}
	ok, err := a.present(ctx, p)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	if _, err := a.ipfw(ctx, "-q", "table", ipfwNum, "add", PrefixText(p)); err != nil {
		return err
	}
	ok, err = a.present(ctx, p)
	return confirmAdded(ok, err, "%s is not in ipfw table %s after adding it", PrefixText(p), ipfwNum)
}

// Delete removes the address from the table when it is listed there. The
// rules stay.
func (a *ipfwAction) Delete(ctx context.Context, in *Input) error {
	p, err := target(a.env, in)
	if err != nil {
		return err
	}
	if err := a.platform(); err != nil {
		return err
	}
	ok, err := a.present(ctx, p)
	if err != nil || !ok {
		return err
	}
	_, err = a.ipfw(ctx, "-q", "table", ipfwNum, "delete", PrefixText(p))
	return err
}

// Present reports whether the table lists exactly this address or block.
func (a *ipfwAction) Present(ctx context.Context, in *Input) (bool, error) {
	p, err := target(a.env, in)
	if err != nil {
		return false, err
	}
	if err := a.platform(); err != nil {
		return false, err
	}
	return a.present(ctx, p)
}

// present reads "ipfw table 00001 list": a header line, then one entry a
// line, "<addr>/<len> <value>".
func (a *ipfwAction) present(ctx context.Context, p netip.Prefix) (bool, error) {
	out, err := a.ipfw(ctx, "table", ipfwNum, "list")
	if err != nil {
		return false, err
	}
	return tableListed(out, p), nil
}

// ipfwHasRule reports whether "ipfw show" lists rule as rule 00001.
func ipfwHasRule(show []byte, rule string) bool {
	short := strings.ReplaceAll(rule, "table("+ipfwNum+")", "table(1)")
	sc := bufio.NewScanner(bytes.NewReader(show))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, ipfwNum+" ") {
			continue
		}
		line = strings.Join(strings.Fields(line), " ")
		if strings.Contains(line, rule) || strings.Contains(line, short) {
			return true
		}
	}
	return false
}

// tableListed reports whether a table listing (ipfw's or npfctl's) has an
// entry, the first field of a line, equal to p. Entries are written as
// an address or as a prefix; other lines do not parse and are skipped.
func tableListed(out []byte, p netip.Prefix) bool {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if q, err := ParseTarget(f[0], 0); err == nil && q == p {
			return true
		}
	}
	return false
}

var (
	_ Action   = (*ipfwAction)(nil)
	_ Verifier = (*ipfwAction)(nil)
)
