package respond

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/config"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// newConfig builds a configuration with one command per executable used.
func newConfig(resps ...config.Response) *config.Config {
	cfg := &config.Config{Riposte: config.Riposte{WhiteListScope: config.ScopeIP}}
	seen := map[string]bool{}
	for _, r := range resps {
		exe := r.Command
		if seen[exe] {
			continue
		}
		seen[exe] = true
		cfg.Commands = append(cfg.Commands, config.Command{Name: exe, Executable: exe, TimeoutAllowed: true, ExtraArgs: []string{}})
	}
	for i, r := range resps {
		for j := range cfg.Commands {
			if cfg.Commands[j].Name == r.Command {
				r.Cmd = &cfg.Commands[j]
			}
		}
		if r.Location == 0 {
			r.Location = config.LocationLocal
		}
		r.Index = i
		cfg.Responses = append(cfg.Responses, r)
	}
	return cfg
}

func mkAlert(t testing.TB, id string, level int, groups []string, extra string) *alert.Alert {
	t.Helper()
	gs := `[]`
	if len(groups) > 0 {
		gs = `["` + strings.Join(groups, `","`) + `"]`
	}
	doc := fmt.Sprintf(`{"rule":{"id":"%s","level":%d,"groups":%s},"agent":{"id":"007","name":"web"}%s}`, id, level, gs, extra)
	a, err := alert.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	return a
}

// TestMatch checks Wazuh's binding rules (spec §2.5).
func TestMatch(t *testing.T) {
	tests := []struct {
		name   string
		resp   config.Response
		id     string
		level  int
		groups []string
		want   bool
	}{
		{"level equal", config.Response{Level: 7}, "1", 7, nil, true},
		{"level above", config.Response{Level: 7}, "1", 12, nil, true},
		{"level below", config.Response{Level: 7}, "1", 6, nil, false},
		{"group substring", config.Response{RulesGroup: "authentication_failed"}, "1", 3, []string{"syslog", "authentication_failed_xyz"}, true},
		{"group case-insensitive", config.Response{RulesGroup: "SSHD"}, "1", 3, []string{"sshd"}, true},
		{"group alternation", config.Response{RulesGroup: "web|sshd"}, "1", 3, []string{"sshd"}, true},
		{"group anchored", config.Response{RulesGroup: "^sshd,"}, "1", 3, []string{"syslog", "sshd"}, false},
		{"group anchored hit", config.Response{RulesGroup: "^syslog,"}, "1", 3, []string{"syslog", "sshd"}, true},
		{"group miss", config.Response{RulesGroup: "web"}, "1", 3, []string{"sshd"}, false},
		{"level and group both needed", config.Response{Level: 5, RulesGroup: "sshd"}, "1", 3, []string{"sshd"}, false},
		{"level and group both met", config.Response{Level: 5, RulesGroup: "sshd"}, "1", 6, []string{"sshd"}, true},
		{"rules_id ORed with level", config.Response{Level: 10, RulesID: []string{"5712"}}, "5712", 3, nil, true},
		{"rules_id ORed with level+group", config.Response{Level: 10, RulesGroup: "web", RulesID: []string{"5712"}}, "5712", 3, []string{"sshd"}, true},
		{"rules_id miss", config.Response{RulesID: []string{"5712", "5720"}}, "5713", 15, nil, false},
		{"rules_id hit second", config.Response{RulesID: []string{"5712", "5720"}}, "5720", 1, nil, true},
		{"group escape class", config.Response{RulesGroup: `auth\w+_failed`}, "1", 3, []string{"authentication_failed"}, true},
		{"level 0 rule never", config.Response{Level: 1, RulesID: []string{"1"}}, "1", 0, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.resp.Command = "cmd"
			e, err := New(newConfig(tt.resp), nil)
			if err != nil {
				t.Fatal(err)
			}
			a := mkAlert(t, tt.id, tt.level, tt.groups, "")
			got := len(e.Match(a)) == 1
			if got != tt.want {
				_, exps := e.Explain(a, time.Now())
				t.Errorf("matched = %v, want %v (%+v)", got, tt.want, exps)
			}
			// Explain must agree with Match.
			_, exps := e.Explain(a, time.Now())
			if m, _ := e.blocks[0].matches(strings.TrimLeft(a.RuleID, "0"), a.RuleLevel, a.GroupString()); tt.level > 0 && m != tt.want {
				t.Errorf("matches = %v, want %v", m, tt.want)
			}
			if exps[0].Matched != tt.want {
				t.Errorf("explain matched = %v, want %v: %s", exps[0].Matched, tt.want, exps[0].Why)
			}
		})
	}
}

func TestNoAR(t *testing.T) {
	e, _ := New(newConfig(config.Response{Command: "c", Level: 1}), nil)
	a := mkAlert(t, "1", 10, nil, "")
	a.NoAR = true
	ds, exps := e.Explain(a, time.Now())
	if len(ds) != 0 || !strings.Contains(exps[0].Why, "no_ar") {
		t.Fatalf("no_ar rule triggered: %v %+v", ds, exps)
	}
}

func TestDecide(t *testing.T) {
	wl := []config.WhiteListEntry{
		{Prefix: pfx("10.0.0.0/8")},
		{Prefix: pfx("2001:db8::/32")},
		{Prefix: pfx("192.0.2.1/32")},
	}
	tests := []struct {
		name    string
		exe     string
		loc     config.Location
		agents  []string
		data    string
		scope   config.WhiteListScope
		want    Outcome
		reason  string
		targets []string
		all     bool
	}{
		{name: "ip run", exe: "firewall-drop", data: `,"data":{"srcip":"203.0.113.7"}`, want: Run, targets: []string{"007"}},
		{name: "ip missing", exe: "firewall-drop", data: `,"data":{}`, want: Rejected, reason: "no source address"},
		{name: "ip not an address", exe: "firewall-drop", data: `,"data":{"srcip":"host-a"}`, want: Rejected, reason: "not an IP address"},
		{name: "shell injection", exe: "firewall-drop", data: `,"data":{"srcip":"; rm -rf /"}`, want: Rejected, reason: "possible logging attack"},
		{name: "command substitution custom", exe: "custom", data: `,"data":{"srcip":"$(id)"}`, want: Rejected, reason: "possible logging attack"},
		{name: "very long", exe: "custom", data: `,"data":{"srcip":"` + strings.Repeat("a", 5000) + `"}`, want: Rejected, reason: "5000 bytes"},
		{name: "custom no ip", exe: "custom", data: `,"data":{}`, want: Run, targets: []string{"007"}},
		{name: "allowlisted v4 cidr", exe: "firewall-drop", data: `,"data":{"srcip":"10.1.2.3"}`, want: Allowlisted, reason: "10.0.0.0/8"},
		{name: "allowlisted mapped", exe: "firewall-drop", data: `,"data":{"srcip":"::ffff:10.1.2.3"}`, want: Allowlisted},
		{name: "allowlisted v6", exe: "firewall-drop", data: `,"data":{"srcip":"2001:db8:0:0::1"}`, want: Allowlisted},
		{name: "allowlist windows field", exe: "netsh.exe", data: `,"data":{"win":{"eventdata":{"ipAddress":"192.0.2.1"}}}`, want: Allowlisted},
		{name: "not allowlisted neighbour", exe: "firewall-drop", data: `,"data":{"srcip":"11.0.0.1"}`, want: Run, targets: []string{"007"}},
		{name: "allowlist skips user action", exe: "disable-account", data: `,"data":{"srcip":"10.1.2.3","dstuser":"bob"}`, want: Run, targets: []string{"007"}},
		{name: "allowlist scope all", exe: "disable-account", scope: config.ScopeAll, data: `,"data":{"srcip":"10.1.2.3","dstuser":"bob"}`, want: Allowlisted},
		{name: "user missing", exe: "disable-account", data: `,"data":{}`, want: Rejected, reason: "no user name"},
		{name: "user option injection", exe: "disable-account", data: `,"data":{"dstuser":"-froot"}`, want: Rejected, reason: "starts with '-'"},
		{name: "user bad char", exe: "disable-account", data: `,"data":{"dstuser":"bob;id"}`, want: Rejected, reason: "possible logging attack"},
		{name: "restart ignores fields", exe: "restart-wazuh", data: `,"data":{"srcip":"; rm"}`, want: Run, targets: []string{"007"}},
		{name: "server", exe: "custom", loc: config.LocationServer, data: ``, want: Run, targets: []string{"000"}},
		{name: "defined agents", exe: "custom", loc: config.LocationDefinedAgent, agents: []string{"001", "002"}, want: Run, targets: []string{"001", "002"}},
		{name: "all", exe: "custom", loc: config.LocationAll, want: Run, all: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newConfig(config.Response{Command: tt.exe, Level: 3, Location: tt.loc, AgentIDs: tt.agents})
			cfg.Global.WhiteList = wl
			if tt.scope != "" {
				cfg.Riposte.WhiteListScope = tt.scope
			}
			e, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			ds := e.Decide(mkAlert(t, "5712", 10, nil, tt.data), time.Now())
			if len(ds) != 1 {
				t.Fatalf("got %d decisions", len(ds))
			}
			d := ds[0]
			if d.Outcome != tt.want {
				t.Fatalf("outcome %v (%s), want %v", d.Outcome, d.Reason, tt.want)
			}
			if !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("reason %q lacks %q", d.Reason, tt.reason)
			}
			if tt.targets != nil && strings.Join(d.Targets, ",") != strings.Join(tt.targets, ",") {
				t.Errorf("targets %v, want %v", d.Targets, tt.targets)
			}
			if d.AllAgents != tt.all {
				t.Errorf("all = %v", d.AllAgents)
			}
		})
	}
}

func TestStatelessDedupe(t *testing.T) {
	cfg := newConfig(config.Response{Command: "wazuh-slack", Level: 3})
	cfg.Riposte.StatelessDedupe = time.Minute
	e, _ := New(cfg, nil)
	a := mkAlert(t, "1", 5, nil, `,"data":{"srcip":"203.0.113.9"}`)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at   time.Duration
		want Outcome
	}{{0, Run}, {30 * time.Second, Duplicate}, {61 * time.Second, Run}, {62 * time.Second, Duplicate}}
	for _, s := range steps {
		if got := e.Decide(a, t0.Add(s.at))[0].Outcome; got != s.want {
			t.Errorf("at %s: %v, want %v", s.at, got, s.want)
		}
	}
	// Default window 0: Wazuh's behaviour, no dedupe.
	e2, _ := New(newConfig(config.Response{Command: "wazuh-slack", Level: 3}), nil)
	for i := 0; i < 3; i++ {
		if got := e2.Decide(a, t0)[0].Outcome; got != Run {
			t.Fatalf("run %d: %v", i, got)
		}
	}
}

func TestDryRun(t *testing.T) {
	cfg := newConfig(config.Response{Command: "firewall-drop", Level: 3})
	cfg.Riposte.DryRun = true
	e, _ := New(cfg, nil)
	if d := e.Decide(mkAlert(t, "1", 5, nil, `,"data":{"srcip":"203.0.113.9"}`), time.Now())[0]; d.Outcome != DryRun {
		t.Fatalf("outcome %v", d.Outcome)
	}
}

func TestAllowlistHosts(t *testing.T) {
	al := NewAllowlist([]config.WhiteListEntry{{Host: "admin.example"}})
	addr := netip.MustParseAddr("198.51.100.4")
	if _, ok := al.Match(addr); ok {
		t.Fatal("matched before resolution")
	}
	al.SetResolved("admin.example", []netip.Addr{netip.MustParseAddr("::ffff:198.51.100.4")})
	if h, ok := al.Match(addr); !ok || h != "admin.example" {
		t.Fatalf("Match = %q %v", h, ok)
	}
	al.SetResolved("admin.example", nil) // failed lookup keeps old addresses
	if _, ok := al.Match(addr); !ok {
		t.Fatal("failed lookup dropped protection")
	}
}

// BenchmarkMatch measures alerts matched per second against 100 blocks.
func BenchmarkMatch(b *testing.B) {
	var resps []config.Response
	for i := 0; i < 100; i++ {
		r := config.Response{Command: fmt.Sprintf("c%d", i)}
		switch i % 3 {
		case 0:
			r.Level = 5 + i%10
		case 1:
			r.RulesGroup = fmt.Sprintf("group%d|authentication_failed", i)
		case 2:
			r.RulesID = []string{fmt.Sprint(5700 + i), fmt.Sprint(31100 + i)}
		}
		resps = append(resps, r)
	}
	e, err := New(newConfig(resps...), nil)
	if err != nil {
		b.Fatal(err)
	}
	alerts := make([]*alert.Alert, 1000)
	for i := range alerts {
		alerts[i] = mkAlert(b, fmt.Sprint(5700+i%200), 3+i%12, []string{"syslog", "sshd", fmt.Sprintf("group%d", i%150)}, "")
	}
	b.Run("bound", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e.Match(alerts[i%len(alerts)])
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
	})
	b.Run("unbound", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			a := alerts[i%len(alerts)]
			groups, id := a.GroupString(), a.RuleID
			for j := range e.blocks {
				e.blocks[j].match(id, a.RuleLevel, groups)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
	})
}
