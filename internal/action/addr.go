package action

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseTarget reads the address an IP action acts on: an IPv4 or IPv6
// address or CIDR block. IPv4-mapped IPv6 becomes IPv4, IPv6 is written
// canonically, a CIDR block is masked, and with widen > 0 an IPv6 address
// becomes its /widen network. Anything else (zones, host names, garbage) is
// an InputError in Wazuh's words.
func ParseTarget(s string, widen int) (netip.Prefix, error) {
	bad := &InputError{fmt.Sprintf("Unable to run active response (invalid IP: '%s').", s)}
	if s == "" || len(s) > 64 || strings.ContainsAny(s, "% \t") {
		return netip.Prefix{}, bad
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		pp, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, bad
		}
		if pp.Addr().Is4In6() {
			bits := pp.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, bad
			}
			pp = netip.PrefixFrom(pp.Addr().Unmap(), bits)
		}
		p = pp.Masked()
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, bad
		}
		a = a.Unmap()
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is6() && widen > 0 && widen < p.Bits() {
		p = netip.PrefixFrom(p.Addr(), widen).Masked()
	}
	return p, nil
}

// confirmAdded turns the read-back after an add into the add's result: the
// lookup's error, or an error built from format when the effect is not
// there.
func confirmAdded(ok bool, err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf(format, args...)
	}
	return nil
}

// PrefixText writes a prefix as an address when it is a single address.
func PrefixText(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// ipKeys is the Keys implementation of the actions that act on the source
// address.
func ipKeys(env *Env, in *Input) ([]string, error) {
	if in.SrcIP == "" {
		return nil, errMissing(in, "srcip", "source.ip")
	}
	p, err := ParseTarget(in.SrcIP, env.Options.IPv6Prefix)
	if err != nil {
		return nil, err
	}
	return []string{PrefixText(p)}, nil
}

// target returns the parsed address of an input already checked by ipKeys.
func target(env *Env, in *Input) (netip.Prefix, error) {
	if in.SrcIP == "" {
		return netip.Prefix{}, errMissing(in, "srcip", "source.ip")
	}
	return ParseTarget(in.SrcIP, env.Options.IPv6Prefix)
}
