//go:build linux

package action

import (
	"bufio"
	"context"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/netnstest"
)

// nftListSet reads a set of table inet riposte with nft -j. A missing table
// or set reads as empty.
func nftListSet(t testing.TB, ns, set string) []netnstest.Elem {
	t.Helper()
	return netnstest.SetElements(t, ns, "inet", nftTableName, set)
}

// blocks counts the entries the backend holds for p, read with the real
// tools in the namespace: set elements for nftables and ipset, DROP rules
// in INPUT and FORWARD (two per address) for iptables.
func blocks(t testing.TB, ns, backend string, p netip.Prefix) int {
	t.Helper()
	text := PrefixText(p)
	n := 0
	switch backend {
	case "nftables":
		for _, e := range nftListSet(t, ns, nftSetFor(p).Name) {
			if e.Text == text {
				n++
			}
		}
	case "ipset":
		set := ipsetV4
		if p.Addr().Is6() {
			set = ipsetV6
		}
		out, err := netnstest.Output(ns, "ipset", "list", set)
		if err != nil {
			return 0 // no set yet
		}
		_, members, _ := strings.Cut(out, "Members:\n")
		for _, l := range strings.Split(members, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == text {
				n++
			}
		}
	case "iptables":
		for _, l := range strings.Split(inNetns(t, ns, iptablesFor(p), "-w", "-S"), "\n") {
			if strings.HasSuffix(l, " -s "+p.String()+" -j DROP") {
				n++
			}
		}
	}
	return n
}

// perBlock is how many entries blocks counts for one blocked address.
func perBlock(backend string) int {
	if backend == "iptables" {
		return 2
	}
	return 1
}

func TestFirewallDropBackends(t *testing.T) {
	addrs := []struct {
		srcip string
		want  string // the normalised block
	}{
		{"192.0.2.7", "192.0.2.7/32"},
		{"198.51.100.0/24", "198.51.100.0/24"},
		{"2001:db8::7", "2001:db8::7/128"},
		{"2001:DB8:0:0:1::/80", "2001:db8:0:0:1::/80"},
		{"::ffff:203.0.113.9", "203.0.113.9/32"},
	}
	for _, be := range fwBackends {
		t.Run(be.name, func(t *testing.T) {
			ns := newNetns(t)
			requireProgram(t, be.tools...)
			env := &Env{Exec: netnsRunner(ns), Timeout: time.Hour, Options: Options{Backend: be.name}}
			act := newFirewallDrop(env)
			ver := act.(Verifier)
			ctx := t.Context()
			for _, a := range addrs {
				p := netip.MustParsePrefix(a.want)
				add, del := fwInput(t, Add, a.srcip), fwInput(t, Delete, a.srcip)
				if keys, err := act.Keys(add); err != nil || !slices.Equal(keys, []string{PrefixText(p)}) {
					t.Fatalf("%s: keys %q, %v", a.srcip, keys, err)
				}
				for i := range 2 {
					if err := act.Add(ctx, add); err != nil {
						t.Fatalf("%s: add #%d: %v", a.srcip, i+1, err)
					}
					if got := blocks(t, ns, be.name, p); got != perBlock(be.name) {
						t.Fatalf("%s: after add #%d: %d entries for %s, want %d", a.srcip, i+1, got, p, perBlock(be.name))
					}
				}
				if ok, err := ver.Present(ctx, add); err != nil || !ok {
					t.Fatalf("%s: present after add = %v, %v", a.srcip, ok, err)
				}
				for i := range 2 {
					if err := act.Delete(ctx, del); err != nil {
						t.Fatalf("%s: delete #%d: %v", a.srcip, i+1, err)
					}
					if got := blocks(t, ns, be.name, p); got != 0 {
						t.Fatalf("%s: after delete #%d: %d entries for %s", a.srcip, i+1, got, p)
					}
				}
				if ok, err := ver.Present(ctx, add); err != nil || ok {
					t.Fatalf("%s: present after delete = %v, %v", a.srcip, ok, err)
				}
			}
		})
	}
}

// TestFirewallDropFreshAction deletes with a new action, as a second
// riposte-ar process does.
func TestFirewallDropFreshAction(t *testing.T) {
	for _, be := range fwBackends {
		t.Run(be.name, func(t *testing.T) {
			ns := newNetns(t)
			requireProgram(t, be.tools...)
			env := &Env{Exec: netnsRunner(ns), Options: Options{Backend: be.name}}
			p := netip.MustParsePrefix("192.0.2.99/32")
			if err := newFirewallDrop(env).Add(t.Context(), fwInput(t, Add, "192.0.2.99")); err != nil {
				t.Fatal(err)
			}
			if err := newFirewallDrop(env).Add(t.Context(), fwInput(t, Add, "192.0.2.99")); err != nil {
				t.Fatal(err)
			}
			if got := blocks(t, ns, be.name, p); got != perBlock(be.name) {
				t.Fatalf("%d entries after two adds", got)
			}
			if err := newFirewallDrop(env).Delete(t.Context(), fwInput(t, Delete, "192.0.2.99")); err != nil {
				t.Fatal(err)
			}
			if got := blocks(t, ns, be.name, p); got != 0 {
				t.Fatalf("%d entries after delete", got)
			}
		})
	}
}

// TestFirewallDropIpsetRules checks the ipset backend's rules: one per
// chain and family whatever the number of adds, OUTPUT with Options.Output.
func TestFirewallDropIpsetRules(t *testing.T) {
	ns := newNetns(t)
	requireProgram(t, "ipset", "iptables", "ip6tables")
	env := &Env{Exec: netnsRunner(ns), Timeout: 90 * time.Second, Options: Options{Backend: "ipset", Output: true}}
	ctx := t.Context()
	for _, ip := range []string{"192.0.2.1", "192.0.2.2", "2001:db8::1", "192.0.2.1"} {
		if err := newFirewallDrop(env).Add(ctx, fwInput(t, Add, ip)); err != nil {
			t.Fatal(err)
		}
	}
	want4 := []string{
		"-A INPUT -m set --match-set riposte4 src -j DROP",
		"-A FORWARD -m set --match-set riposte4 src -j DROP",
		"-A OUTPUT -m set --match-set riposte4 dst -j DROP",
	}
	if got := matchSetRules(inNetns(t, ns, "iptables", "-S")); !slices.Equal(got, want4) {
		t.Errorf("iptables rules:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want4, "\n"))
	}
	want6 := []string{
		"-A INPUT -m set --match-set riposte6 src -j DROP",
		"-A FORWARD -m set --match-set riposte6 src -j DROP",
		"-A OUTPUT -m set --match-set riposte6 dst -j DROP",
	}
	if got := matchSetRules(inNetns(t, ns, "ip6tables", "-S")); !slices.Equal(got, want6) {
		t.Errorf("ip6tables rules:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want6, "\n"))
	}
	out := inNetns(t, ns, "ipset", "list", ipsetV4)
	if !strings.Contains(out, "192.0.2.1 timeout ") || !strings.Contains(out, "Header: family inet ") {
		t.Errorf("ipset list:\n%s", out)
	}
	// Rules gone: Present says so, and the next add puts them back.
	inNetns(t, ns, "iptables", "-F", "INPUT")
	act := newFirewallDrop(env)
	if ok, err := act.(Verifier).Present(ctx, fwInput(t, Add, "192.0.2.2")); err != nil || ok {
		t.Fatalf("present without rules = %v, %v", ok, err)
	}
	if err := act.Add(ctx, fwInput(t, Add, "192.0.2.2")); err != nil {
		t.Fatal(err)
	}
	if got := matchSetRules(inNetns(t, ns, "iptables", "-S", "INPUT")); len(got) != 1 {
		t.Errorf("INPUT after re-add: %q", got)
	}
}

func matchSetRules(out string) []string {
	var rs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "--match-set") {
			rs = append(rs, l)
		}
	}
	return rs
}

// fwRun runs firewall-drop through the protocol as execd does: it writes
// input, and on check_keys answers reply. It returns the exit code, the
// check_keys line and the log.
func fwRun(t *testing.T, env *Env, input, reply string) (int, string, string) {
	t.Helper()
	l, path := testLog(t)
	env.Program = "active-response/bin/firewall-drop"
	env.Log = l
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Run(t.Context(), "firewall-drop", env, inR, outW)
		outW.Close()
	}()
	keys := make(chan string, 1)
	go func() {
		inW.Write([]byte(input + "\n"))
		br := bufio.NewReader(outR)
		line, err := br.ReadString('\n')
		keys <- line
		if err == nil {
			inW.Write([]byte(reply + "\n"))
		}
		io.Copy(io.Discard, br)
	}()
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("firewall-drop did not finish")
	}
	inW.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return code, <-keys, string(b)
}

func TestFirewallDropRun(t *testing.T) {
	ns := newNetns(t)
	requireProgram(t, "nft")
	env := &Env{Exec: netnsRunner(ns), Timeout: time.Hour} // backend detected
	cont := `{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"continue","parameters":{}}`

	code, keys, log := fwRun(t, env, fwAddMsg("::ffff:203.0.113.9"), cont)
	if code != ExitOK {
		t.Fatalf("4.x add: exit %d\n%s", code, log)
	}
	if want := `{"version":1,"origin":{"name":"firewall-drop","module":"active-response"},"command":"check_keys","parameters":{"keys":["203.0.113.9"]}}` + "\n"; keys != want {
		t.Errorf("check_keys %q, want %q", keys, want)
	}
	if !strings.Contains(log, ": Ended\n") {
		t.Errorf("log:\n%s", log)
	}
	if got := blocks(t, ns, "nftables", netip.MustParsePrefix("203.0.113.9/32")); got != 1 {
		t.Fatalf("4.x add: %d elements", got)
	}

	del := strings.Replace(fwAddMsg("::ffff:203.0.113.9"), `"command":"add"`, `"command":"delete"`, 1)
	if code, _, log := fwRun(t, env, del, ""); code != ExitOK {
		t.Fatalf("4.x delete: exit %d\n%s", code, log)
	}
	if got := blocks(t, ns, "nftables", netip.MustParsePrefix("203.0.113.9/32")); got != 0 {
		t.Fatalf("4.x delete: %d elements", got)
	}

	enable := `{"wazuh":{"active_response":{"name":"block-ip","executable":"firewall-drop","type":"stateful","stateful_timeout":600}},"source":{"ip":"3.3.3.3"},"command":"enable"}`
	code, keys, log = fwRun(t, env, enable, `{"wazuh":{"active_response":{}},"command":"continue"}`)
	if code != ExitOK || !strings.Contains(keys, `"keys":["3.3.3.3"]`) {
		t.Fatalf("5.x enable: exit %d, check_keys %q\n%s", code, keys, log)
	}
	if got := blocks(t, ns, "nftables", netip.MustParsePrefix("3.3.3.3/32")); got != 1 {
		t.Fatalf("5.x enable: %d elements", got)
	}
	disable := strings.Replace(enable, `"enable"`, `"disable"`, 1)
	if code, _, log := fwRun(t, env, disable, ""); code != ExitOK {
		t.Fatalf("5.x disable: exit %d\n%s", code, log)
	}
	if got := blocks(t, ns, "nftables", netip.MustParsePrefix("3.3.3.3/32")); got != 0 {
		t.Fatalf("5.x disable: %d elements", got)
	}
}

func TestFirewallDropRunHostile(t *testing.T) {
	ns := newNetns(t)
	requireProgram(t, "nft")
	cont := `{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"continue","parameters":{}}`
	for _, be := range fwBackends {
		t.Run(be.name, func(t *testing.T) {
			env := &Env{Exec: netnsRunner(ns), Options: Options{Backend: be.name}}
			code, keys, log := fwRun(t, env, fwAddMsg("1.2.3.4; rm -rf /"), cont)
			if code != ExitInvalid {
				t.Errorf("exit %d, want %d", code, ExitInvalid)
			}
			if keys != "" {
				t.Errorf("check_keys sent: %q", keys)
			}
			if !strings.Contains(log, "Unable to run active response (invalid IP: '1.2.3.4; rm -rf /').") {
				t.Errorf("log lacks invalid IP:\n%s", log)
			}
		})
	}
	// Nothing was applied: no table, no set, no rule.
	if out := inNetns(t, ns, "nft", "list", "ruleset"); strings.Contains(out, "riposte") {
		t.Errorf("ruleset after hostile input:\n%s", out)
	}
	if out, _ := netnstest.Output(ns, "ipset", "list", "-n"); strings.Contains(out, "riposte") {
		t.Errorf("ipset after hostile input:\n%s", out)
	}
	if out, _ := netnstest.Output(ns, "iptables", "-S"); strings.Contains(out, "DROP") {
		t.Errorf("iptables after hostile input:\n%s", out)
	}
}

func TestFirewallDropDetect(t *testing.T) {
	// A Runner netlink cannot follow never gets nftables, and detection
	// runs nothing.
	f := &fakeRunner{}
	b, err := newFirewallDrop(&Env{GOOS: "linux", Exec: f}).(*firewallDrop).chooseBackend()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(*nftBackend); ok {
		t.Errorf("fake runner: got nftables")
	}
	if len(f.calls) != 0 {
		t.Errorf("detection ran %q", f.argvs())
	}

	ns := newNetns(t)
	b, err = newFirewallDrop(&Env{GOOS: "linux", Exec: netnsRunner(ns)}).(*firewallDrop).chooseBackend()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(*nftBackend); !ok {
		t.Errorf("namespace: got %T, want nftables", b)
	}
	// Detection leaves no trace.
	if out := inNetns(t, ns, "nft", "list", "ruleset"); out != "" {
		t.Errorf("ruleset after detection:\n%s", out)
	}
}

// TestFirewallDropCancelled checks a cancelled context stops an add.
func TestFirewallDropCancelled(t *testing.T) {
	ns := newNetns(t)
	for _, be := range fwBackends {
		t.Run(be.name, func(t *testing.T) {
			requireProgram(t, be.tools...)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			env := &Env{Exec: netnsRunner(ns), Options: Options{Backend: be.name}}
			if err := newFirewallDrop(env).Add(ctx, fwInput(t, Add, "192.0.2.1")); err == nil {
				t.Fatal("add with a cancelled context: no error")
			}
		})
	}
}

// TestIpsetKernelTimeout checks the kernel lifts an ipset entry on time
// and a re-add starts its timeout again.
func TestIpsetKernelTimeout(t *testing.T) {
	ns := newNetns(t)
	requireProgram(t, "ipset", "iptables")
	b := newIpsetBackend(&Env{Exec: netnsRunner(ns), Timeout: 2 * time.Second})
	p := pfx("192.0.2.8/32")
	must(t, b.add(t.Context(), p))
	time.Sleep(1200 * time.Millisecond)
	must(t, b.add(t.Context(), p))
	refreshed := time.Now()
	time.Sleep(1300 * time.Millisecond)
	if blocks(t, ns, "ipset", p) != 1 {
		t.Fatal("refreshed entry gone early")
	}
	if !waitFor(4*time.Second, func() bool { return blocks(t, ns, "ipset", p) == 0 }) {
		t.Fatal("entry never expired")
	}
	if d := time.Since(refreshed); d < 1900*time.Millisecond {
		t.Fatalf("entry gone %v after the refresh", d)
	}
}
