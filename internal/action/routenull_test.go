package action

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRouteNullLinuxArgv(t *testing.T) {
	tests := []struct {
		ip, show string
		want     []string
	}{
		{"203.0.113.7", "blackhole 203.0.113.7 \n", []string{
			"ip route replace blackhole 203.0.113.7",
			"ip route show type blackhole",
		}},
		{"2001:db8::1", "blackhole 2001:db8::1 dev lo metric 1024 pref medium\n", []string{
			"ip -6 route replace blackhole 2001:db8::1",
			"ip -6 route show type blackhole",
		}},
		{"10.1.2.3/8", "blackhole 10.0.0.0/8 \n", []string{
			"ip route replace blackhole 10.0.0.0/8",
			"ip route show type blackhole",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			fr := &fakeRunner{answers: map[string]fakeAnswer{"ip route show": {out: tt.show}, "ip -6 route show": {out: tt.show}}}
			act := newRouteNull(&Env{Exec: fr, GOOS: "linux"})
			if err := act.Add(t.Context(), inputForIP(t, "add", tt.ip)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, fr.argvs()); diff != "" {
				t.Errorf("argv (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRouteNullAddNotVerified fails an add whose route does not show up.
func TestRouteNullAddNotVerified(t *testing.T) {
	fr := &fakeRunner{answers: map[string]fakeAnswer{"ip route show": {out: "blackhole 203.0.113.70 \nblackhole 203.0.113.0/24 \n"}}}
	act := newRouteNull(&Env{Exec: fr, GOOS: "linux"})
	if err := act.Add(t.Context(), inputForIP(t, "add", "203.0.113.7")); err == nil || !strings.Contains(err.Error(), "not found after adding") {
		t.Fatalf("add: %v", err)
	}
	fr = &fakeRunner{answers: map[string]fakeAnswer{"ip route replace": {err: errors.New("ip: RTNETLINK answers: Operation not permitted")}}}
	act = newRouteNull(&Env{Exec: fr, GOOS: "linux"})
	if err := act.Add(t.Context(), inputForIP(t, "add", "203.0.113.7")); err == nil || !strings.Contains(err.Error(), "not permitted") {
		t.Fatalf("add: %v", err)
	}
}

func TestRouteNullFreeBSDArgv(t *testing.T) {
	const got = `   route to: 203.0.113.7
destination: 203.0.113.7
    gateway: 127.0.0.1
        fib: 0
  interface: lo0
      flags: <UP,GATEWAY,HOST,DONE,STATIC,BLACKHOLE>
`
	tests := []struct {
		ip, out string
		want    []string
	}{
		{"203.0.113.7", got, []string{
			"route -q add 203.0.113.7 127.0.0.1 -blackhole",
			"route -n get 203.0.113.7",
		}},
		{"2001:db8::1", strings.ReplaceAll(got, "203.0.113.7", "2001:db8::1"), []string{
			"route -q add -inet6 2001:db8::1 ::1 -blackhole",
			"route -n get -inet6 2001:db8::1",
		}},
		{"10.0.0.0/8", strings.NewReplacer("203.0.113.7\n", "10.0.0.0\n       mask: 255.0.0.0\n", "HOST,", "").Replace(got), []string{
			"route -q add -net 10.0.0.0/8 127.0.0.1 -blackhole",
			"route -n get -net 10.0.0.0/8",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			fr := &fakeRunner{answers: map[string]fakeAnswer{"route -n get": {out: tt.out}}}
			act := newRouteNull(&Env{Exec: fr, GOOS: "freebsd"})
			if err := act.Add(t.Context(), inputForIP(t, "add", tt.ip)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, fr.argvs()); diff != "" {
				t.Errorf("add argv (-want +got):\n%s", diff)
			}
			// Delete: the route is there, is removed, then is gone.
			del := &routeSeqRunner{outs: []string{tt.out, "", "destination: default\nflags: <UP,GATEWAY,DONE,STATIC>\n"}}
			act = newRouteNull(&Env{Exec: del, GOOS: "freebsd"})
			if err := act.Delete(t.Context(), inputForIP(t, "delete", tt.ip)); err != nil {
				t.Fatal(err)
			}
			wantDel := []string{tt.want[1], strings.Replace(tt.want[0], " add ", " delete ", 1), tt.want[1]}
			if diff := cmp.Diff(wantDel, del.argvs()); diff != "" {
				t.Errorf("delete argv (-want +got):\n%s", diff)
			}
		})
	}
}

// routeSeqRunner records argv and answers each call with the next output.
type routeSeqRunner struct {
	fakeRunner
	outs []string
}

func (s *routeSeqRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	s.fakeRunner.Run(ctx, stdin, name, args...)
	out := s.outs[0]
	s.outs = s.outs[1:]
	return []byte(out), nil
}

func TestFreeBSDBlackholeParse(t *testing.T) {
	out := "destination: 10.0.0.0\n       mask: 255.0.0.0\n      flags: <UP,GATEWAY,DONE,STATIC,BLACKHOLE>\n"
	tests := []struct {
		p    string
		out  string
		want bool
	}{
		{"10.0.0.0/8", out, true},
		{"10.0.0.0/16", out, false},
		{"10.0.0.0/32", out, false},
		{"10.0.0.0/8", strings.Replace(out, ",BLACKHOLE", "", 1), false},
		{"10.0.0.0/8", "destination: default\nmask: default\nflags: <UP,GATEWAY,DONE,STATIC>\n", false},
	}
	for _, tt := range tests {
		if got := freebsdBlackhole([]byte(tt.out), netip.MustParsePrefix(tt.p)); got != tt.want {
			t.Errorf("%s in %q: %v", tt.p, tt.out, got)
		}
	}
}

func TestRouteNullInvalidSystem(t *testing.T) {
	fr := &fakeRunner{}
	act := newRouteNull(&Env{Exec: fr, GOOS: "darwin"})
	if err := act.Add(t.Context(), inputForIP(t, "add", "1.2.3.4")); err == nil || !strings.Contains(err.Error(), "invalid system") {
		t.Fatalf("add: %v", err)
	}
	if len(fr.calls) != 0 {
		t.Fatalf("ran %v", fr.argvs())
	}
}

// TestRouteNullNetns adds, verifies and deletes real blackhole routes in a
// network namespace.
func TestRouteNullNetns(t *testing.T) {
	ns := newNetns(t)
	act := newRouteNull(&Env{Exec: netnsRunner(ns), GOOS: "linux"})
	tests := []struct {
		ip, show, listed string
	}{
		{"203.0.113.7", "ip -4 route show type blackhole", "blackhole 203.0.113.7"},
		{"198.51.100.9/24", "ip -4 route show type blackhole", "blackhole 198.51.100.0/24"},
		{"2001:db8::1", "ip -6 route show type blackhole", "blackhole 2001:db8::1 "},
		{"2001:db8:1::/48", "ip -6 route show type blackhole", "blackhole 2001:db8:1::/48 "},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			add, del := inputForIP(t, "add", tt.ip), inputForIP(t, "delete", tt.ip)
			v := act.(Verifier)
			if ok, err := v.Present(t.Context(), add); ok || err != nil {
				t.Fatalf("present before add: %v %v", ok, err)
			}
			for range 2 {
				if err := act.Add(t.Context(), add); err != nil {
					t.Fatal(err)
				}
			}
			if out := inNetns(t, ns, strings.Fields(tt.show)...); strings.Count(out, tt.listed) != 1 {
				t.Fatalf("%s:\n%s", tt.show, out)
			}
			if ok, err := v.Present(t.Context(), add); !ok || err != nil {
				t.Fatalf("present after add: %v %v", ok, err)
			}
			for range 2 {
				if err := act.Delete(t.Context(), del); err != nil {
					t.Fatal(err)
				}
			}
			if out := inNetns(t, ns, strings.Fields(tt.show)...); strings.Contains(out, tt.listed) {
				t.Fatalf("after delete, %s:\n%s", tt.show, out)
			}
			if ok, err := v.Present(t.Context(), add); ok || err != nil {
				t.Fatalf("present after delete: %v %v", ok, err)
			}
		})
	}
	// A route that only covers the address is not taken for ours.
	inNetns(t, ns, "ip", "route", "add", "blackhole", "192.0.2.0/24")
	in := inputForIP(t, "add", "192.0.2.1")
	if ok, err := act.(Verifier).Present(t.Context(), in); ok || err != nil {
		t.Fatalf("covering route taken for ours: %v %v", ok, err)
	}
	if err := act.Delete(t.Context(), inputForIP(t, "delete", "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if out := inNetns(t, ns, "ip", "route", "show", "type", "blackhole"); !strings.Contains(out, "192.0.2.0/24") {
		t.Fatalf("covering route removed:\n%s", out)
	}
}
