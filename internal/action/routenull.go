package action

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// routeNull is route-null on Unix: a blackhole route for the address.
//
// Linux uses iproute2 for both families ("ip route replace blackhole
// <prefix>", "ip -6 ..."), where Wazuh's script used net-tools' route,
// which cannot do IPv6. FreeBSD keeps Wazuh's "route -q add <ip> 127.0.0.1
// -blackhole" (::1 and -inet6 for IPv6, -net for blocks). Windows'
// route-null.exe is another action.
type routeNull struct{ env *Env }

func newRouteNull(env *Env) Action { return &routeNull{env: env} }

// Keys returns the normalised address.
func (r *routeNull) Keys(in *Input) ([]string, error) { return ipKeys(r.env, in) }

// invalidSystem is Wazuh's "Invalid system" for a platform without blackhole
// routes.
func (r *routeNull) invalidSystem() error {
	return fmt.Errorf("invalid system %q: route-null runs on Linux and FreeBSD", r.env.goos())
}

// Add installs the route; an equal route already there is fine. It is an
// error if the route is not there afterwards.
func (r *routeNull) Add(ctx context.Context, in *Input) error {
	p, err := target(r.env, in)
	if err != nil {
		return err
	}
	var argv []string
	switch r.env.goos() {
	case "linux":
		argv = r.ipArgv("replace", p)
	case "freebsd":
		argv = r.routeArgv("add", p)
	default:
		return r.invalidSystem()
	}
	_, runErr := r.env.exec().Run(ctx, nil, argv[0], argv[1:]...)
	ok, err := r.present(ctx, p)
	if err != nil {
		return errors.Join(runErr, err)
	}
	if !ok {
		if runErr != nil {
			return runErr
		}
		return fmt.Errorf("blackhole route for %s not found after adding it", PrefixText(p))
	}
	return nil
}

// Delete removes the route; a missing route is fine.
func (r *routeNull) Delete(ctx context.Context, in *Input) error {
	p, err := target(r.env, in)
	if err != nil {
		return err
	}
	var argv []string
	switch r.env.goos() {
	case "linux":
		argv = r.ipArgv("del", p)
	case "freebsd":
		argv = r.routeArgv("delete", p)
	default:
		return r.invalidSystem()
	}
	if ok, err := r.present(ctx, p); err == nil && !ok {
		return nil
	}
	_, runErr := r.env.exec().Run(ctx, nil, argv[0], argv[1:]...)
	ok, err := r.present(ctx, p)
	if err != nil {
		return errors.Join(runErr, err)
	}
	if ok {
		if runErr != nil {
			return runErr
		}
		return fmt.Errorf("blackhole route for %s still there after removing it", PrefixText(p))
	}
	return nil
}

// Present reports whether the blackhole route for the address is there.
func (r *routeNull) Present(ctx context.Context, in *Input) (bool, error) {
	p, err := target(r.env, in)
	if err != nil {
		return false, err
	}
	switch r.env.goos() {
	case "linux", "freebsd":
		return r.present(ctx, p)
	}
	return false, r.invalidSystem()
}

func (r *routeNull) present(ctx context.Context, p netip.Prefix) (bool, error) {
	if r.env.goos() == "freebsd" {
		return r.presentFreeBSD(ctx, p)
	}
	args := []string{"route", "show", "type", "blackhole"}
	if p.Addr().Is6() {
		args = append([]string{"-6"}, args...)
	}
	out, err := r.env.exec().Run(ctx, nil, "ip", args...)
	if err != nil {
		return false, err
	}
	return blackholeListed(out, p), nil
}

// ipArgv is the iproute2 command for verb (replace, del).
func (r *routeNull) ipArgv(verb string, p netip.Prefix) []string {
	argv := []string{"ip"}
	if p.Addr().Is6() {
		argv = append(argv, "-6")
	}
	return append(argv, "route", verb, "blackhole", PrefixText(p))
}

// blackholeListed reads "ip route show type blackhole" output: one route a
// line, "blackhole <dst> [attributes]".
func blackholeListed(out []byte, p netip.Prefix) bool {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "blackhole" {
			continue
		}
		if q, err := ParseTarget(f[1], 0); err == nil && q == p {
			return true
		}
	}
	return false
}

// routeArgv is FreeBSD's route command for verb (add, delete).
func (r *routeNull) routeArgv(verb string, p netip.Prefix) []string {
	argv := []string{"route", "-q", verb}
	gw := "127.0.0.1"
	if p.Addr().Is6() {
		argv = append(argv, "-inet6")
		gw = "::1"
	}
	if !p.IsSingleIP() {
		argv = append(argv, "-net")
	}
	return append(argv, PrefixText(p), gw, "-blackhole")
}

// presentFreeBSD reads "route -n get" for the address: present when the
// route found is exactly it and has the BLACKHOLE flag.
func (r *routeNull) presentFreeBSD(ctx context.Context, p netip.Prefix) (bool, error) {
	args := []string{"-n", "get"}
	if p.Addr().Is6() {
		args = append(args, "-inet6")
	}
	if !p.IsSingleIP() {
		args = append(args, "-net")
	}
	out, err := r.env.exec().Run(ctx, nil, "route", append(args, PrefixText(p))...)
	if err != nil {
		// "route has not been found": no route at all, default included.
		if bytes.Contains(out, []byte("not been found")) || strings.Contains(err.Error(), "not been found") ||
			strings.Contains(err.Error(), "not in table") {
			return false, nil
		}
		return false, err
	}
	return freebsdBlackhole(out, p), nil
}

// freebsdBlackhole reads FreeBSD's "route -n get" output.
func freebsdBlackhole(out []byte, p netip.Prefix) bool {
	var dst netip.Addr
	bits := p.Addr().BitLen()
	blackhole := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "destination":
			dst, _ = netip.ParseAddr(v)
		case "mask":
			if m, err := netip.ParseAddr(v); err == nil {
				bits = maskBits(m)
			}
		case "flags":
			blackhole = strings.Contains(v, "BLACKHOLE")
		}
	}
	return blackhole && dst.IsValid() && dst.Unmap() == p.Addr() && bits == p.Bits()
}

// maskBits counts the leading ones of a netmask; -1 if it is not one.
func maskBits(m netip.Addr) int {
	ones, bits := net.IPMask(m.AsSlice()).Size()
	if bits == 0 {
		return -1
	}
	return ones
}

var (
	_ Action   = (*routeNull)(nil)
	_ Verifier = (*routeNull)(nil)
)
