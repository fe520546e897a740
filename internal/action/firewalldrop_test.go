package action

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
)

// fwBackends are firewall-drop's backends with the tools each needs.
var fwBackends = []struct {
	name  string
	tools []string
}{
	{"nftables", []string{"nft"}},
	{"ipset", []string{"ipset", "iptables", "ip6tables"}},
	{"iptables", []string{"iptables", "ip6tables"}},
}

// fwAddMsg is a Wazuh 4.x add message for srcip.
func fwAddMsg(srcip string) string {
	return `{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":[],"alert":{"rule":{"id":"5712","level":10},"data":{"srcip":` +
		jsonString(srcip) + `}},"program":"active-response/bin/firewall-drop"}}`
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// fwInput parses a 4.x message for srcip with the given verb.
func fwInput(t testing.TB, verb Verb, srcip string) *Input {
	t.Helper()
	msg := fwAddMsg(srcip)
	if verb == Delete {
		msg = strings.Replace(msg, `"command":"add"`, `"command":"delete"`, 1)
	}
	in, err := ParseInput([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestFirewallDropNotLinux(t *testing.T) {
	for _, goos := range []string{"freebsd", "darwin", "openbsd", "windows"} {
		env := &Env{GOOS: goos, Exec: &fakeRunner{}}
		act := newFirewallDrop(env)
		want := "firewall-drop: no backend for " + goos + "; use pf, ipfw or npf"
		if err := act.Add(t.Context(), fwInput(t, Add, "192.0.2.1")); err == nil || err.Error() != want {
			t.Errorf("%s: add: %v, want %q", goos, err, want)
		}
		if err := act.Delete(t.Context(), fwInput(t, Delete, "192.0.2.1")); err == nil || err.Error() != want {
			t.Errorf("%s: delete: %v, want %q", goos, err, want)
		}
	}
}

func TestFirewallDropUnknownBackend(t *testing.T) {
	env := &Env{GOOS: "linux", Exec: &fakeRunner{}, Options: Options{Backend: "pf"}}
	err := newFirewallDrop(env).Add(t.Context(), fwInput(t, Add, "192.0.2.1"))
	if err == nil || !strings.Contains(err.Error(), `unknown backend "pf"`) {
		t.Fatalf("add: %v", err)
	}
}

func TestFirewallDropInvalidIP(t *testing.T) {
	f := &fakeRunner{}
	act := newFirewallDrop(&Env{GOOS: "linux", Exec: f, Options: Options{Backend: "iptables"}})
	for _, ip := range []string{"1.2.3.4; rm -rf /", "-j ACCEPT", "example.com", "fe80::1%eth0", ""} {
		if _, err := act.Keys(fwInput(t, Add, ip)); err == nil {
			t.Errorf("keys %q: no error", ip)
		}
		if err := act.Add(t.Context(), fwInput(t, Add, ip)); err == nil {
			t.Errorf("add %q: no error", ip)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("ran %q", f.argvs())
	}
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
