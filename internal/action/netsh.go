package action

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// netshAction is netsh.exe (Windows): two Windows Firewall rules per
// address, one inbound and one outbound, named after the address:
//
//	RIPOSTE BLOCK <addr> in
//	RIPOSTE BLOCK <addr> out
//
// where <addr> is the normalised key (an address, or a block in CIDR
// form). Wazuh's script gave every block the one name "WAZUH ACTIVE
// RESPONSE BLOCKED IP", blocked inbound only, and wrote remoteip=<ip>/32
// even for IPv6; here each address has rules of its own (so one can be
// checked and removed without touching the others, and "RIPOSTE BLOCK"
// finds them all in the firewall console), both directions are blocked, and
// remoteip carries the address's real prefix (/32, /128, or the block's).
// Wazuh's own rules are left alone.
//
// netsh runs with argv, no shell: each "name=RIPOSTE BLOCK ... in" is one
// argument, which Go quotes as a whole on the Windows command line, so
// netsh reads the name with its spaces.
//
// Before adding, the firewall profiles are read from the registry (reg
// query, as Wazuh's script does, since netsh's own "State ON/OFF" output is
// translated): a Group Policy value wins over the local one, and a profile
// with neither counts as on, as in Wazuh 5. When a profile is off, Wazuh's
// "may not have an effect" JSON note is logged; the rules are added anyway.
type netshAction struct{ env *Env }

func newNetsh(env *Env) Action { return &netshAction{env: env} }

const (
	netshRulePrefix = "RIPOSTE BLOCK "
	// The registry keys of the firewall profiles: local settings, and the
	// Group Policy ones that override them.
	netshRegLocal  = `HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy`
	netshRegPolicy = `HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall`
)

// netshDirs are the rule directions, in the order rules are handled.
var netshDirs = []string{"in", "out"}

// netshRuleName is the name of the rule for an address and direction.
func netshRuleName(p netip.Prefix, dir string) string {
	return netshRulePrefix + PrefixText(p) + " " + dir
}

// Keys returns the normalised address.
func (a *netshAction) Keys(in *Input) ([]string, error) { return ipKeys(a.env, in) }

func (a *netshAction) platform() error {
	if g := a.env.goos(); g != "windows" {
		return fmt.Errorf("invalid system %q: netsh.exe runs on Windows", g)
	}
	return nil
}

func (a *netshAction) netsh(ctx context.Context, args ...string) ([]byte, error) {
	return a.env.exec().Run(ctx, nil, "netsh", args...)
}

// Add checks the firewall profiles, then adds each rule that "show rule"
// does not find, and checks that both are there afterwards.
func (a *netshAction) Add(ctx context.Context, in *Input) error {
	p, err := target(a.env, in)
	if err != nil {
		return err
	}
	if err := a.platform(); err != nil {
		return err
	}
	a.checkProfiles(ctx)
	for _, dir := range netshDirs {
		name := netshRuleName(p, dir)
		ok, err := a.ruleExists(ctx, name)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		if _, err := a.netsh(ctx, "advfirewall", "firewall", "add", "rule",
			"name="+name, "interface=any", "dir="+dir, "action=block", "remoteip="+p.String()); err != nil {
			return err
		}
		if ok, err = a.ruleExists(ctx, name); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("firewall rule %q not found after adding it", name)
		}
	}
	return nil
}

// Delete removes both rules by name; a rule that is not there is fine.
func (a *netshAction) Delete(ctx context.Context, in *Input) error {
	p, err := target(a.env, in)
	if err != nil {
		return err
	}
	if err := a.platform(); err != nil {
		return err
	}
	var errs []error
	for _, dir := range netshDirs {
		name := netshRuleName(p, dir)
		ok, err := a.ruleExists(ctx, name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if _, err := a.netsh(ctx, "advfirewall", "firewall", "delete", "rule", "name="+name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Present reports whether both rules are there.
func (a *netshAction) Present(ctx context.Context, in *Input) (bool, error) {
	p, err := target(a.env, in)
	if err != nil {
		return false, err
	}
	if err := a.platform(); err != nil {
		return false, err
	}
	for _, dir := range netshDirs {
		if ok, err := a.ruleExists(ctx, netshRuleName(p, dir)); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// ruleExists runs "netsh advfirewall firewall show rule name=<name>". netsh
// exits 1 with "No rules match the specified criteria." when there is none;
// otherwise it lists the rule, its name on a "Rule Name:" line (a label
// that is translated, so only the value is compared).
func (a *netshAction) ruleExists(ctx context.Context, name string) (bool, error) {
	out, err := a.netsh(ctx, "advfirewall", "firewall", "show", "rule", "name="+name)
	if errors.Is(err, ErrNotFound) {
		return false, err
	}
	if err != nil {
		return false, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == name || strings.HasSuffix(line, " "+name) || strings.HasSuffix(line, ":"+name) {
			return true, nil
		}
	}
	return false, nil
}

// netshProfiles are the firewall profiles in Wazuh's order, with their
// registry key names (local, policy) and Wazuh's names for the note.
var netshProfiles = []struct{ local, policy, wazuh string }{
	{"DomainProfile", "DomainProfile", "FIREWALL_DOMAIN"},
	{"StandardProfile", "PrivateProfile", "FIREWALL_PRIVATE"},
	{"PublicProfile", "PublicProfile", "FIREWALL_PUBLIC"},
}

// checkProfiles logs Wazuh's note when a firewall profile is off. It reads
// EnableFirewall under the local and the policy keys with one "reg query
// /s" each; a key that does not exist makes reg fail, and counts as unset.
// Failing to run reg at all is logged and does not stop the add.
func (a *netshAction) checkProfiles(ctx context.Context) {
	local, err := a.env.exec().Run(ctx, nil, "reg", "query", netshRegLocal, "/s", "/v", "EnableFirewall")
	if errors.Is(err, ErrNotFound) {
		a.env.logf("Cannot check the firewall profiles: %v", err)
		return
	}
	lv := regEnableFirewall(local)
	policy, err := a.env.exec().Run(ctx, nil, "reg", "query", netshRegPolicy, "/s", "/v", "EnableFirewall")
	if err != nil {
		policy = nil
	}
	pv := regEnableFirewall(policy)

	var status [3]string
	off := false
	for i, prof := range netshProfiles {
		on, set := pv[prof.policy]
		if !set {
			on, set = lv[prof.local]
		}
		status[i] = "active"
		if set && !on {
			status[i], off = "inactive", true
		}
	}
	if !off {
		return
	}
	type firewall struct {
		Profile1 string `json:"profile1"`
		Status1  string `json:"status1"`
		Profile2 string `json:"profile2"`
		Status2  string `json:"status2"`
		Profile3 string `json:"profile3"`
		Status3  string `json:"status3"`
	}
	b, _ := json.Marshal(struct {
		Message  string   `json:"message"`
		Firewall firewall `json:"firewall"`
		Status   string   `json:"status"`
		Script   string   `json:"script"`
	}{
		Message: "Active response may not have an effect",
		Firewall: firewall{
			netshProfiles[0].wazuh, status[0],
			netshProfiles[1].wazuh, status[1],
			netshProfiles[2].wazuh, status[2],
		},
		Status: "inactive",
		Script: "netsh",
	})
	a.env.logf("%s", b)
}

// regEnableFirewall reads "reg query <key> /s /v EnableFirewall": a line
// with a key path, then "    EnableFirewall    REG_DWORD    0x1" under it.
// It maps the last element of each key to whether the value is non-zero.
func regEnableFirewall(out []byte) map[string]bool {
	m := map[string]bool{}
	key := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "HKEY_") || strings.HasPrefix(line, "HKLM") {
			key = line[strings.LastIndexByte(line, '\\')+1:]
			key = strings.TrimSpace(key)
			continue
		}
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "EnableFirewall" && f[1] == "REG_DWORD" && key != "" {
			m[key] = f[2] != "0x0"
		}
	}
	return m
}

var (
	_ Action   = (*netshAction)(nil)
	_ Verifier = (*netshAction)(nil)
)
