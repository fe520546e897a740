package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// noFirewalldRetry makes a firewalld-drop that does not wait between tries.
func noFirewalldRetry(env *Env) Action {
	act := newFirewalldDrop(env)
	act.(*firewalldDrop).retryDelays = []time.Duration{0, 0, 0, 0}
	return act
}

func TestFirewalldDropArgv(t *testing.T) {
	const (
		v4 = `rule family="ipv4" source address="203.0.113.7" drop`
		v6 = `rule family="ipv6" source address="2001:db8::/64" drop`
	)
	tests := []struct {
		name, ip  string
		permanent bool
		add, del  []string
	}{
		{"ipv4", "203.0.113.7", false, []string{
			"firewall-cmd --add-rich-rule=" + v4,
			"firewall-cmd --query-rich-rule=" + v4,
		}, []string{
			"firewall-cmd --remove-rich-rule=" + v4,
			"firewall-cmd --query-rich-rule=" + v4,
		}},
		{"ipv6 permanent", "2001:db8::1:2", true, []string{
			"firewall-cmd --add-rich-rule=" + v6,
			"firewall-cmd --permanent --add-rich-rule=" + v6,
			"firewall-cmd --query-rich-rule=" + v6,
		}, []string{
			"firewall-cmd --remove-rich-rule=" + v6,
			"firewall-cmd --permanent --remove-rich-rule=" + v6,
			"firewall-cmd --query-rich-rule=" + v6,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr := &fakeRunner{}
			env := &Env{Exec: fr, GOOS: "linux", Options: Options{FirewalldPermanent: tt.permanent, IPv6Prefix: 64}}
			act := newFirewalldDrop(env)
			if err := act.Add(t.Context(), inputForIP(t, "add", tt.ip)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.add, rawArgvs(fr)); diff != "" {
				t.Errorf("add (-want +got):\n%s", diff)
			}
			// The rule is a single argv element.
			if len(fr.calls[0]) != 2 {
				t.Errorf("argv %q", fr.calls[0])
			}
			fr.calls = nil
			fr.answers = map[string]fakeAnswer{"firewall-cmd --query": {out: "no\n", err: errors.New("exit status 1")}}
			if err := act.Delete(t.Context(), inputForIP(t, "delete", tt.ip)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.del, rawArgvs(fr)); diff != "" {
				t.Errorf("delete (-want +got):\n%s", diff)
			}
		})
	}
}

// rawArgvs joins each recorded argv with spaces, without quoting.
func rawArgvs(f *fakeRunner) []string {
	var out []string
	for _, c := range f.calls {
		out = append(out, strings.Join(c, " "))
	}
	return out
}

func TestFirewalldDropFailures(t *testing.T) {
	in := inputForIP(t, "add", "203.0.113.7")

	// firewall-cmd missing: an error at once, no retries.
	fr := &fakeRunner{answers: map[string]fakeAnswer{"firewall-cmd": {err: fmt.Errorf("firewall-cmd: %w", ErrNotFound)}}}
	err := noFirewalldRetry(&Env{Exec: fr, GOOS: "linux"}).Add(t.Context(), in)
	if !errors.Is(err, ErrNotFound) || len(fr.calls) != 1 {
		t.Fatalf("missing firewall-cmd: %v after %d calls", err, len(fr.calls))
	}

	// firewalld not running: five tries, then Wazuh's message.
	fr = &fakeRunner{answers: map[string]fakeAnswer{"firewall-cmd": {err: errors.New("exit status 252: FirewallD is not running")}}}
	err = noFirewalldRetry(&Env{Exec: fr, GOOS: "linux"}).Add(t.Context(), in)
	if err == nil || !strings.Contains(err.Error(), "unable to run firewall-cmd") || len(fr.calls) != 5 {
		t.Fatalf("not running: %v after %d calls", err, len(fr.calls))
	}

	// The rule is not there after the add.
	fr = &fakeRunner{answers: map[string]fakeAnswer{"firewall-cmd --query": {out: "no\n", err: errors.New("exit status 1")}}}
	err = noFirewalldRetry(&Env{Exec: fr, GOOS: "linux"}).Add(t.Context(), in)
	if err == nil || !strings.Contains(err.Error(), "not found after adding") {
		t.Fatalf("not verified: %v", err)
	}

	// Other systems.
	fr = &fakeRunner{}
	err = noFirewalldRetry(&Env{Exec: fr, GOOS: "freebsd"}).Add(t.Context(), in)
	if err == nil || !strings.Contains(err.Error(), "invalid system") || len(fr.calls) != 0 {
		t.Fatalf("freebsd: %v %v", err, fr.argvs())
	}

	// A context that ends stops the retries.
	fr = &fakeRunner{answers: map[string]fakeAnswer{"firewall-cmd": {err: errors.New("exit status 252")}}}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = newFirewalldDrop(&Env{Exec: fr, GOOS: "linux"}).Add(ctx, in)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("cancelled: %v after %v", err, time.Since(start))
	}
}

func TestFirewalldDropExitStatus(t *testing.T) {
	// A real exit status 1 from --query-rich-rule means absent.
	exit1 := exec.Command("false").Run()
	fr := &fakeRunner{answers: map[string]fakeAnswer{"firewall-cmd --query": {err: exit1}}}
	ok, err := newFirewalldDrop(&Env{Exec: fr, GOOS: "linux"}).(Verifier).Present(t.Context(), inputForIP(t, "add", "203.0.113.7"))
	if ok || err != nil {
		t.Fatalf("present: %v %v", ok, err)
	}
}

// TestFirewalldDropReal runs a real firewalld in a network namespace, on a
// private D-Bus, with a copy of /etc/firewalld as its configuration, and
// adds and removes rules through firewall-cmd.
func TestFirewalldDropReal(t *testing.T) {
	requireRoot(t)
	requireProgram(t, "firewalld", "firewall-cmd", "dbus-daemon", "nft")
	if _, err := os.Stat("/etc/firewalld"); err != nil {
		t.Skip("needs /etc/firewalld (package firewalld)")
	}
	ns := newNetns(t)
	dir := t.TempDir()
	bus := filepath.Join(dir, "bus")
	conf := filepath.Join(dir, "bus.conf")
	os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=`+bus+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="*"/>
    <allow send_destination="*"/>
    <allow receive_type="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`), 0o644)
	etc := filepath.Join(dir, "firewalld")
	if out, err := exec.Command("cp", "-a", "/etc/firewalld", etc).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	// firewalld makes /run/firewalld; remove it after if it was not there
	// (Remove leaves a directory that is not empty).
	if _, err := os.Stat("/run/firewalld"); err != nil {
		t.Cleanup(func() { os.Remove("/run/firewalld") })
	}

	var busLog strings.Builder
	dbus := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile")
	dbus.Stdout, dbus.Stderr = &busLog, &busLog
	if err := dbus.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbus.Process.Kill(); dbus.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(bus); err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("dbus-daemon did not start: %s", busLog.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// firewall-cmd, run by the action, finds the private bus here.
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+bus)

	var fwLog strings.Builder
	fwd := exec.Command("ip", "netns", "exec", ns, "firewalld", "--nofork", "--nopid",
		"--system-config", etc, "--log-target", "console")
	fwd.Stdout, fwd.Stderr = &fwLog, &fwLog
	if err := fwd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { fwd.Wait(); close(stopped) }()
	t.Cleanup(func() {
		fwd.Process.Signal(os.Interrupt)
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			fwd.Process.Kill()
			<-stopped
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if exec.Command("ip", "netns", "exec", ns, "firewall-cmd", "--state").Run() == nil {
			break
		}
		select {
		case <-stopped:
			t.Fatalf("firewalld exited:\n%s\n%s", fwLog.String(), busLog.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("firewalld did not start:\n%s", fwLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Each firewall-cmd costs a Python start (about 0.3 s), so the cases are
	// few: IPv4 permanent, added and deleted twice; IPv6 block, runtime only.
	zone := filepath.Join(etc, "zones", "public.xml")
	tests := []struct {
		ip, nft, zone string
		permanent     bool
		times         int
	}{
		{"203.0.113.7", "ip saddr 203.0.113.7 drop", `address="203.0.113.7"`, true, 2},
		{"2001:db8::/64", "ip6 saddr 2001:db8::/64 drop", "", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			env := &Env{Exec: netnsRunner(ns), GOOS: "linux", Options: Options{FirewalldPermanent: tt.permanent}}
			act := newFirewalldDrop(env)
			add, del := inputForIP(t, "add", tt.ip), inputForIP(t, "delete", tt.ip)
			for range tt.times {
				if err := act.Add(t.Context(), add); err != nil {
					t.Fatal(err)
				}
			}
			if out := inNetns(t, ns, "nft", "list", "ruleset"); !strings.Contains(out, tt.nft) {
				t.Fatalf("ruleset lacks %q:\n%s", tt.nft, out)
			}
			if b, _ := os.ReadFile(zone); tt.zone != "" && !strings.Contains(string(b), tt.zone) {
				t.Fatalf("permanent zone lacks the rule:\n%s", b)
			}
			if ok, err := act.(Verifier).Present(t.Context(), add); !ok || err != nil {
				t.Fatalf("present: %v %v", ok, err)
			}
			for range tt.times {
				if err := act.Delete(t.Context(), del); err != nil {
					t.Fatal(err)
				}
			}
			if out := inNetns(t, ns, "nft", "list", "ruleset"); strings.Contains(out, tt.nft) {
				t.Fatalf("ruleset still has %q:\n%s", tt.nft, out)
			}
			if b, _ := os.ReadFile(zone); tt.zone != "" && strings.Contains(string(b), tt.zone) {
				t.Fatalf("permanent zone still has the rule:\n%s", b)
			}
		})
	}
}
