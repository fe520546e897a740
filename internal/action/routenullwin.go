package action

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// routeNullWindows is route-null.exe (Windows): a persistent IPv4 route
// that sends the address to the loopback interface, where packets that are
// not for this host are dropped. Replies to the address go nowhere, so
// connections from it cannot complete.
//
//	route -p ADD <ip> MASK <mask> 0.0.0.0 IF 1
//	route DELETE <ip> MASK <mask>
//
// Interface 1 is the Loopback Pseudo-Interface (its index is 1 on every
// Windows since Vista) and gateway 0.0.0.0 makes the route on-link there.
// Wazuh 4.x routed through the real default gateway (found by parsing the
// English output of ipconfig through cmd.exe and a temporary file), which
// blocks nothing. Wazuh 5 documents "route -p ADD <ip> MASK 255.255.255.255
// 127.0.0.1", but route.exe has been reported to refuse a gateway that is a
// local address since Windows 7 ("The route addition failed: The parameter
// is incorrect"), and the reported working null route names the loopback
// interface, so that is what is used. No cmd.exe, no ipconfig, no temporary
// file. Either way the route is read back, so a refusal is an error, not a
// silent success.
//
// "-p" keeps the route across reboots, as Wazuh's did: the delete that
// undoes it comes from execd's persisted timer.
//
// The route is read back with "route PRINT <ip>": present when an active
// route has this destination and mask and goes through 127.0.0.1 (the
// loopback's address, shown in the Interface column; the Gateway column
// says "On-link" in the local language). Add skips an existing route;
// Delete does nothing when there is none, and names the mask so it only
// removes a route for exactly this destination.
//
// IPv4 only: route.exe has no null route for IPv6. IPv6 input is refused
// before anything runs; use netsh.exe for IPv6.
type routeNullWindows struct{ env *Env }

func newRouteNullWindows(env *Env) Action { return &routeNullWindows{env: env} }

const (
	routeWinLoopbackIf = "1"
	routeWinLoopbackIP = "127.0.0.1"
)

// Keys returns the normalised address, refusing IPv6.
func (r *routeNullWindows) Keys(in *Input) ([]string, error) {
	keys, err := ipKeys(r.env, in)
	if err != nil {
		return nil, err
	}
	if p, _ := target(r.env, in); p.Addr().Is6() {
		return nil, &InputError{fmt.Sprintf("Unable to run active response (IPv6 address '%s'): route-null.exe blocks IPv4 only; use netsh.exe", in.SrcIP)}
	}
	return keys, nil
}

func (r *routeNullWindows) platform() error {
	if g := r.env.goos(); g != "windows" {
		return fmt.Errorf("invalid system %q: route-null.exe runs on Windows", g)
	}
	return nil
}

// prefix returns the IPv4 target of an input already checked by Keys.
func (r *routeNullWindows) prefix(in *Input) (netip.Prefix, error) {
	if _, err := r.Keys(in); err != nil {
		return netip.Prefix{}, err
	}
	return target(r.env, in)
}

// Add installs the route unless it is there, and checks it afterwards.
func (r *routeNullWindows) Add(ctx context.Context, in *Input) error {
	p, err := r.prefix(in)
	if err != nil {
		return err
	}
	if err := r.platform(); err != nil {
		return err
	}
	ok, err := r.present(ctx, p)
	if err != nil || ok {
		return err
	}
	ip, mask := p.Addr().String(), routeWinMask(p)
	_, runErr := r.env.exec().Run(ctx, nil, "route", "-p", "ADD", ip, "MASK", mask, "0.0.0.0", "IF", routeWinLoopbackIf)
	if ok, err = r.present(ctx, p); err != nil {
		return err
	}
	if !ok {
		if runErr != nil {
			return runErr
		}
		return fmt.Errorf("null route for %s not found after adding it", PrefixText(p))
	}
	return nil
}

// Delete removes the route when it is there.
func (r *routeNullWindows) Delete(ctx context.Context, in *Input) error {
	p, err := r.prefix(in)
	if err != nil {
		return err
	}
	if err := r.platform(); err != nil {
		return err
	}
	ok, err := r.present(ctx, p)
	if err != nil || !ok {
		return err
	}
	_, err = r.env.exec().Run(ctx, nil, "route", "DELETE", p.Addr().String(), "MASK", routeWinMask(p))
	return err
}

// Present reports whether the null route is active.
func (r *routeNullWindows) Present(ctx context.Context, in *Input) (bool, error) {
	p, err := r.prefix(in)
	if err != nil {
		return false, err
	}
	if err := r.platform(); err != nil {
		return false, err
	}
	return r.present(ctx, p)
}

func (r *routeNullWindows) present(ctx context.Context, p netip.Prefix) (bool, error) {
	out, err := r.env.exec().Run(ctx, nil, "route", "PRINT", p.Addr().String())
	if err != nil {
		return false, err
	}
	return routeWinListed(out, p), nil
}

// routeWinMask writes a prefix length as a dotted IPv4 netmask.
func routeWinMask(p netip.Prefix) string {
	return net.IP(net.CIDRMask(p.Bits(), 32)).String()
}

// routeWinListed reads "route PRINT": a route line is "<destination>
// <netmask> <gateway> <interface> <metric>"; the null route has our
// destination and mask and 127.0.0.1 as gateway or interface.
func routeWinListed(out []byte, p netip.Prefix) bool {
	ip, mask := p.Addr().String(), routeWinMask(p)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[0] != ip || f[1] != mask {
			continue
		}
		if f[2] == routeWinLoopbackIP || f[3] == routeWinLoopbackIP {
			return true
		}
	}
	return false
}

var (
	_ Action   = (*routeNullWindows)(nil)
	_ Verifier = (*routeNullWindows)(nil)
)
