package action

import (
	"net/netip"
	"testing"
)

var routeWinAct = platAction{"route-null.exe", "windows", `active-response\bin\route-null.exe`}

// routePrint is "route PRINT <ip>" output: the active routes and the
// persistent routes given, in route.exe's layout.
func routePrint(active, persistent string) string {
	if active == "" {
		active = "  None\r\n"
	}
	if persistent == "" {
		persistent = "  None\r\n"
	}
	return "===========================================================================\r\n" +
		"Interface List\r\n  1...........................Software Loopback Interface 1\r\n" +
		" 12...00 15 5d 01 02 03 ......Microsoft Hyper-V Network Adapter\r\n" +
		"===========================================================================\r\n\r\n" +
		"IPv4 Route Table\r\n===========================================================================\r\n" +
		"Active Routes:\r\nNetwork Destination        Netmask          Gateway       Interface  Metric\r\n" + active +
		"===========================================================================\r\nPersistent Routes:\r\n" +
		"  Network Address          Netmask  Gateway Address  Metric\r\n" + persistent +
		"===========================================================================\r\n\r\n" +
		"IPv6 Route Table\r\n===========================================================================\r\n" +
		"Active Routes:\r\n  None\r\nPersistent Routes:\r\n  None\r\n"
}

const (
	routeActive     = "      203.0.113.7  255.255.255.255         On-link         127.0.0.1    331\r\n"
	routePersistent = "      203.0.113.7  255.255.255.255          0.0.0.0  Default\r\n"
)

func TestRouteNullWindows(t *testing.T) {
	absent := map[string]fakeAnswer{"route PRINT": {out: routePrint("", "")}}
	afterAdd := func(add, print, active string) map[string]map[string]fakeAnswer {
		return map[string]map[string]fakeAnswer{add: {print: {out: routePrint(active, "")}}}
	}
	const (
		add   = "route -p ADD 203.0.113.7 MASK 255.255.255.255 0.0.0.0 IF 1"
		print = "route PRINT 203.0.113.7"
	)
	cases := []platCase{{
		name:    "add",
		answers: absent, after: afterAdd(add, print, routeActive),
		calls: []string{print, add, print},
		keys:  `["203.0.113.7"]`, logs: []string{"Ended"},
	}, {
		name: "IPv4-mapped IPv6", srcip: "::ffff:203.0.113.7",
		answers: absent, after: afterAdd(add, print, routeActive),
		calls: []string{print, add, print},
		keys:  `["203.0.113.7"]`,
	}, {
		name: "a block gets its mask", srcip: "198.51.100.0/24",
		answers: absent,
		after: afterAdd("route -p ADD 198.51.100.0 MASK 255.255.255.0 0.0.0.0 IF 1", "route PRINT 198.51.100.0",
			"     198.51.100.0    255.255.255.0         On-link         127.0.0.1    331\r\n"),
		calls: []string{"route PRINT 198.51.100.0", "route -p ADD 198.51.100.0 MASK 255.255.255.0 0.0.0.0 IF 1", "route PRINT 198.51.100.0"},
		keys:  `["198.51.100.0/24"]`,
	}, {
		name:    "already routed: nothing added",
		answers: map[string]fakeAnswer{print: {out: routePrint(routeActive, routePersistent)}},
		calls:   []string{print},
		keys:    `["203.0.113.7"]`, logs: []string{"Ended"},
	}, {
		name: "a route through the gateway is not a null route",
		answers: map[string]fakeAnswer{print: {out: routePrint(
			"      203.0.113.7  255.255.255.255      192.0.2.1      192.0.2.10     26\r\n", "")}},
		after: afterAdd(add, print, routeActive),
		calls: []string{print, add, print},
		keys:  `["203.0.113.7"]`,
	}, {
		name:    "only persistent, not active: added",
		answers: map[string]fakeAnswer{print: {out: routePrint("", routePersistent)}},
		after:   afterAdd(add, print, routeActive),
		calls:   []string{print, add, print},
		keys:    `["203.0.113.7"]`,
	}, {
		name: "route refused",
		answers: map[string]fakeAnswer{
			"route PRINT": {out: routePrint("", "")},
			"route -p":    {err: platExit(add, "1", "The route addition failed: The parameter is incorrect.")},
		},
		code:   ExitFailed,
		calls:  []string{print, add, print},
		keys:   `["203.0.113.7"]`,
		logs:   []string{"Unable to run active response: add: " + add + ": exit status 1: The route addition failed: The parameter is incorrect."},
		nologs: []string{"Ended"},
	}, {
		name:    "route not there afterwards",
		answers: absent,
		code:    ExitFailed,
		calls:   []string{print, add, print},
		keys:    `["203.0.113.7"]`,
		logs:    []string{"null route for 203.0.113.7 not found after adding it"},
	}, {
		name: "IPv6 is refused before anything runs", srcip: "2001:db8::7",
		code: ExitInvalid,
		logs: []string{"Unable to run active response (IPv6 address '2001:db8::7'): route-null.exe blocks IPv4 only; use netsh.exe"},
	}, {
		name: "IPv6 delete too", command: "delete", srcip: "2001:db8::7",
		code: ExitInvalid,
		logs: []string{"route-null.exe blocks IPv4 only"},
	}, {
		name:    "route missing",
		answers: map[string]fakeAnswer{"route": {err: platMissing("route")}},
		code:    ExitFailed,
		calls:   []string{print},
		keys:    `["203.0.113.7"]`,
		logs:    []string{"route: program not found"},
	}, {
		name: "delete", command: "delete",
		answers: map[string]fakeAnswer{print: {out: routePrint(routeActive, routePersistent)}},
		calls:   []string{print, "route DELETE 203.0.113.7 MASK 255.255.255.255"},
		logs:    []string{"Ended"},
	}, {
		name: "delete of a route not there", command: "delete",
		answers: absent,
		calls:   []string{print},
		logs:    []string{"Ended"},
	}, {
		name: "not on FreeBSD", goos: "freebsd",
		code: ExitFailed,
		keys: `["203.0.113.7"]`,
		logs: []string{`invalid system "freebsd": route-null.exe runs on Windows`},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { platCheck(t, routeWinAct, c) })
	}
}

func TestRouteWinMask(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7/32": "255.255.255.255", "198.51.100.0/24": "255.255.255.0",
		"10.0.0.0/8": "255.0.0.0", "0.0.0.0/0": "0.0.0.0", "172.16.0.0/12": "255.240.0.0",
	} {
		if got := routeWinMask(netip.MustParsePrefix(in)); got != want {
			t.Errorf("routeWinMask(%s) = %s, want %s", in, got, want)
		}
	}
}
