package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// mustParse parses in and fails the test on any problem.
func mustParse(t *testing.T, in string) *Config {
	t.Helper()
	cfg, probs, err := Parse("t.conf", []byte(in))
	if err != nil || len(probs) > 0 {
		t.Fatalf("Parse: %v\nproblems: %v", err, probs)
	}
	return cfg
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestCommandValues(t *testing.T) {
	cfg := mustParse(t, sec(
		"<command><name>plain</name><executable>plain.sh</executable></command>",
		"<command>",
		"  <name> slack </name>",
		"  <executable>wazuh-slack</executable>",
		"  <timeout_allowed>yes</timeout_allowed>",
		"  <extra_args>  -c  /etc/slack.conf -v </extra_args>",
		"  <expect>srcip</expect>",
		"</command>",
	))
	want := []Command{
		{Pos: Pos{"t.conf", 2}, Name: "plain", Executable: "plain.sh", ExtraArgs: []string{}},
		{Pos: Pos{"t.conf", 3}, Name: "slack", Executable: "wazuh-slack", TimeoutAllowed: true, ExtraArgs: []string{"-c", "/etc/slack.conf", "-v"}},
	}
	if !reflect.DeepEqual(cfg.Commands, want) {
		t.Errorf("commands:\n got %#v\nwant %#v", cfg.Commands, want)
	}
}

func TestResponseValues(t *testing.T) {
	tests := []struct {
		name string
		in   []string // lines of the <active-response> block, see ar
		want Response // Pos, Index and Cmd are not compared
	}{
		{
			name: "level",
			in:   []string{"<command>fw</command>", "<location>local</location>", "<level>10</level>"},
			want: Response{Command: "fw", Location: LocationLocal, Level: 10},
		},
		{
			name: "location spelled in capitals",
			in:   []string{"<command>fw</command>", "<location>ALL</location>", "<level>1</level>"},
			want: Response{Command: "fw", Location: LocationAll, Level: 1},
		},
		{
			name: "server",
			in:   []string{"<command>fw</command>", "<location>server</location>", "<level>1</level>"},
			want: Response{Command: "fw", Location: LocationServer, Level: 1},
		},
		{
			name: "agent ids padded and deduplicated",
			in:   []string{"<command>fw</command>", "<location>defined-agent</location>", "<agent_id>1, 22,001,0003,1234</agent_id>", "<level>1</level>"},
			want: Response{Command: "fw", Location: LocationDefinedAgent, AgentIDs: []string{"001", "022", "003", "1234"}, Level: 1},
		},
		{
			name: "agent 0",
			in:   []string{"<command>fw</command>", "<location>defined-agent</location>", "<agent_id>0</agent_id>", "<level>1</level>"},
			want: Response{Command: "fw", Location: LocationDefinedAgent, AgentIDs: []string{"000"}, Level: 1},
		},
		{
			name: "rules_id with spaces and empty pieces",
			in:   []string{"<command>fw</command>", "<location>local</location>", "<rules_id> 5712, ,5720,,5763,</rules_id>"},
			want: Response{Command: "fw", Location: LocationLocal, RulesID: []string{"5712", "5720", "5763"}},
		},
		{
			name: "rules_group kept as written",
			in:   []string{"<command>fw</command>", "<location>local</location>", `<rules_group>authentication_failed|invalid_login\.</rules_group>`},
			want: Response{Command: "fw", Location: LocationLocal, RulesGroup: `authentication_failed|invalid_login\.`},
		},
		{
			name: "rules_group with an entity is literal",
			in:   []string{"<command>fw</command>", "<location>local</location>", "<rules_group>a&amp;b</rules_group>"},
			want: Response{Command: "fw", Location: LocationLocal, RulesGroup: "a&amp;b"},
		},
		{
			name: "rules_group in CDATA",
			in:   []string{"<command>fw</command>", "<location>local</location>", "<rules_group><![CDATA[<a>|b]]></rules_group>"},
			want: Response{Command: "fw", Location: LocationLocal, RulesGroup: "<a>|b"},
		},
		{
			name: "level and group and ids",
			in:   []string{"<command>fw</command>", "<location>local</location>", "<level>7</level>", "<rules_group>sshd</rules_group>", "<rules_id>1</rules_id>"},
			want: Response{Command: "fw", Location: LocationLocal, Level: 7, RulesGroup: "sshd", RulesID: []string{"1"}},
		},
		{
			name: "timeout",
			in:   []string{"<command>fw</command>", "<location>local</location>", "<level>7</level>", "<timeout>600</timeout>"},
			want: Response{Command: "fw", Location: LocationLocal, Level: 7, Timeout: 600 * time.Second},
		},
		{
			name: "no timeout with a command that allows one is stateless",
			in:   []string{"<command>fw</command>", "<location>local</location>", "<level>7</level>"},
			want: Response{Command: "fw", Location: LocationLocal, Level: 7},
		},
		{
			name: "own ladder",
			in:   []string{"<command>fw</command>", "<location>local</location>", "<level>7</level>", "<repeated_offenders>10, 30,60</repeated_offenders>"},
			want: Response{Command: "fw", Location: LocationLocal, Level: 7, RepeatedOffenders: []int{10, 30, 60}},
		},
		{
			name: "disabled no",
			in:   []string{"<disabled>no</disabled>", "<command>fw</command>", "<location>local</location>", "<level>7</level>"},
			want: Response{Command: "fw", Location: LocationLocal, Level: 7},
		},
		{
			name: "comments inside",
			in:   []string{"<!-- a -->", "<command>f<!-- b -->w</command><!-- c -->", "<location><!-- d -->local</location>", "<level>7</level>"},
			want: Response{Command: "fw", Location: LocationLocal, Level: 7},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, ar(tt.in...))
			if len(cfg.Responses) != 1 {
				t.Fatalf("got %d responses, want 1", len(cfg.Responses))
			}
			got := cfg.Responses[0]
			if got.Pos != (Pos{"t.conf", 4}) {
				t.Errorf("Pos = %v, want t.conf:4", got.Pos)
			}
			if got.Cmd != &cfg.Commands[0] {
				t.Errorf("Cmd does not point to Commands[0]")
			}
			got.Pos, got.Cmd, got.Index = Pos{}, nil, 0
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("response:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// TestResponseWarnings checks the values kept when a warning is given.
func TestResponseWarnings(t *testing.T) {
	cfg, _, err := Parse("t.conf", []byte(ar("<command>restart</command>", "<location>local</location>",
		"<agent_id>5</agent_id>", "<level>3</level>", "<timeout>600</timeout>")))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Responses[0]
	if r.Timeout != 0 || r.AgentIDs != nil || r.ARName() != "restart0" {
		t.Errorf("Timeout = %v, AgentIDs = %v, ARName = %q; want 0, nil, restart0", r.Timeout, r.AgentIDs, r.ARName())
	}
}

func TestResponseIndexAndDisabled(t *testing.T) {
	cfg := mustParse(t, sec(
		"<active-response><disabled>no</disabled></active-response>",
		"<active-response><command>fw</command><location>local</location><level>1</level></active-response>",
		"<active-response><disabled>yes</disabled><command>fw</command></active-response>",
		"<active-response><repeated_offenders>5,10</repeated_offenders></active-response>",
		"<active-response><command>fw</command><location>all</location><rules_id>2</rules_id></active-response>",
		"<command><name>fw</name><executable>firewall-drop</executable><timeout_allowed>yes</timeout_allowed></command>",
		"<active-response><disabled>yes</disabled><repeated_offenders>1</repeated_offenders></active-response>",
		"<active-response><command>fw</command><location>server</location><rules_id>3</rules_id></active-response>",
	))
	var got []int
	for _, r := range cfg.Responses {
		got = append(got, r.Index, r.Line)
	}
	if want := []int{0, 3, 2, 6, 3, 9}; !reflect.DeepEqual(got, want) {
		t.Errorf("index, line pairs = %v, want %v", got, want)
	}
	if cfg.Disabled != 2 {
		t.Errorf("Disabled = %d, want 2", cfg.Disabled)
	}
	if want := []int{5, 10}; !reflect.DeepEqual(cfg.RepeatedOffenders, want) {
		t.Errorf("RepeatedOffenders = %v, want %v", cfg.RepeatedOffenders, want)
	}
}

func TestCommandAfterResponse(t *testing.T) {
	cfg := mustParse(t, sec(
		"<active-response><command>late</command><location>local</location><level>5</level></active-response>",
		"<command><name>early</name><executable>a</executable></command>",
		"<command><name>late</name><executable>b</executable></command>",
	))
	if r := cfg.Responses[0]; r.Cmd != &cfg.Commands[1] || r.Cmd.Executable != "b" {
		t.Errorf("Cmd = %+v, want Commands[1]", r.Cmd)
	}
}

func TestSeveralRoots(t *testing.T) {
	cfg := mustParse(t, "<?xml version=\"1.0\"?>\n<!-- one -->\n"+
		"<ossec_config><command><name>a</name><executable>a</executable></command></ossec_config>\n"+
		"<!-- two -->\n"+
		"<ossec_config><command><name>b</name><executable>b</executable></command>\n"+
		"<global><white_list>10.1.0.0/16</white_list></global></ossec_config>\n"+
		"<ossec_config><global><white_list>10.2.0.0/16</white_list></global></ossec_config>\n")
	if len(cfg.Commands) != 2 || cfg.Commands[1].Line != 5 {
		t.Errorf("commands = %+v", cfg.Commands)
	}
	if len(cfg.Global.WhiteList) != 2 || cfg.Global.WhiteList[1].Line != 7 {
		t.Errorf("white list = %+v", cfg.Global.WhiteList)
	}
}

func TestLoadTwoFiles(t *testing.T) {
	dir := filepath.Join("testdata", "split")
	a, b := filepath.Join(dir, "responses.conf"), filepath.Join(dir, "commands.conf")
	cfg, probs, err := Load(a, b)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checkProblems(t, probs, []string{
		a + ":15: warning: section <syscheck> is not used by Riposte; ignored",
		b + ":12: warning: timeout ignored: command \"restart-wazuh\" does not allow timeouts",
	})
	if want := []string{a, b}; !reflect.DeepEqual(cfg.Files, want) {
		t.Errorf("Files = %v, want %v", cfg.Files, want)
	}
	if len(cfg.Commands) != 2 || len(cfg.Responses) != 2 {
		t.Fatalf("got %d commands and %d responses, want 2 and 2", len(cfg.Commands), len(cfg.Responses))
	}
	r0, r1 := cfg.Responses[0], cfg.Responses[1]
	if r0.File != a || r0.Cmd != &cfg.Commands[0] || r0.Cmd.File != b || r0.Timeout != 600*time.Second {
		t.Errorf("first response = %+v, command %+v", r0, r0.Cmd)
	}
	if r1.File != b || r1.Index != 1 || r1.Cmd != &cfg.Commands[1] || r1.Timeout != 0 {
		t.Errorf("second response = %+v", r1)
	}
	if cfg.NodeName != "manager-1" {
		t.Errorf("NodeName = %q", cfg.NodeName)
	}
}

func TestLoadProblemsAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// z.conf is given first, so its problems come first.
	z := write("z.conf", sec("", "<foo/>", "<command><name>a</name><executable>a</executable></command>"))
	a := write("a.conf", sec("<command><name>a</name><executable>b</executable></command>", "<bar/>"))
	missing := filepath.Join(dir, "missing.conf")
	_, probs, err := Load(z, a, missing)
	checkProblems(t, probs, []string{
		z + ":3: error: unknown section <foo>",
		a + ":2: error: command \"a\" is already defined at " + z + ":4",
		a + ":3: error: unknown section <bar>",
		missing + ": error: cannot read file: no such file or directory",
	})
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 4 {
		t.Fatalf("error %v is not Problems of 4", err)
	}
	if got := strings.Count(err.Error(), "\n"); got != 3 {
		t.Errorf("Error() has %d line breaks, want 3:\n%s", got, err)
	}
}

func TestErrorHoldsOnlyErrors(t *testing.T) {
	_, probs, err := Parse("t.conf", []byte(sec("<sca/>", "<foo/>")))
	if len(probs) != 2 {
		t.Fatalf("problems = %v", probs)
	}
	if want := "t.conf:3: error: unknown section <foo>"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestWarningsOnly(t *testing.T) {
	cfg, probs, err := Parse("t.conf", []byte(sec("<sca/>")))
	if err != nil || cfg == nil || len(probs) != 1 || probs[0].Severity != SeverityWarning {
		t.Errorf("got %v, %v, %v; want a config, one warning, no error", cfg, probs, err)
	}
}

func TestLoadNoFiles(t *testing.T) {
	cfg, probs, err := Load()
	if err != nil || len(probs) != 0 {
		t.Fatalf("Load(): %v %v", probs, err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("Load() differs from Default()")
	}
}

func TestWhiteListEntries(t *testing.T) {
	tests := []struct {
		in     string
		prefix string // "" for host entries
		host   string
	}{
		{"127.0.0.1", "127.0.0.1/32", ""},
		{" 10.1.2.3 ", "10.1.2.3/32", ""},
		{"::1", "::1/128", ""},
		{"2001:DB8::1", "2001:db8::1/128", ""},
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"10.1.2.3/8", "10.0.0.0/8", ""},
		{"192.168.0.0/255.255.0.0", "192.168.0.0/16", ""},
		{"10.0.0.0/255.0.0.0", "10.0.0.0/8", ""},
		{"10.9.9.9/0.0.0.0", "0.0.0.0/0", ""},
		{"10.9.9.9/255.255.255.255", "10.9.9.9/32", ""},
		{"2001:db8::/32", "2001:db8::/32", ""},
		{"2001:db8:1::5/48", "2001:db8:1::/48", ""},
		{"::ffff:192.0.2.7", "192.0.2.7/32", ""},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24", ""},
		{"::ffff:0:0/96", "0.0.0.0/0", ""},
		{"::ffff:0:0/80", "::/80", ""},
		{"^10.0.0.2$", "10.0.0.2/32", ""},
		{"localhost", "", "localhost"},
		{"^localhost.localdomain$", "", "localhost.localdomain"},
		{"Mail-1.Example.COM", "", "mail-1.example.com"},
		{"^bastion", "", "bastion"},
		{"3com.example", "", "3com.example"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			cfg := mustParse(t, sec("<global><white_list>"+tt.in+"</white_list></global>"))
			e := cfg.Global.WhiteList[0]
			want := WhiteListEntry{Pos: Pos{"t.conf", 2}, Raw: strings.TrimSpace(tt.in), Host: tt.host}
			if tt.prefix != "" {
				want.Prefix = pfx(tt.prefix)
			}
			if !reflect.DeepEqual(e, want) {
				t.Errorf("got %+v, want %+v", e, want)
			}
		})
	}
}

func TestWhiteListBadHostNames(t *testing.T) {
	for _, in := range []string{
		"-a.example", "a-.example", "a..example", "a.example.", "a_b.example", "1.2.3",
		strings.Repeat("a", 64) + ".example", strings.Repeat("abcdefgh.", 30) + "example",
		"[::1]", "10.0.0.0/", "10.0.0.0/8/8", "host/24", "exa mple", "^$", "$",
	} {
		_, perr := parseWhiteListEntryText(in)
		if perr == "" {
			t.Errorf("%q: no error", in)
		}
	}
}

// parseWhiteListEntryText parses one white-list entry through Parse and
// returns the first problem's message.
func parseWhiteListEntryText(in string) (*Config, string) {
	cfg, probs, _ := Parse("t.conf", []byte(sec("<global><white_list>"+in+"</white_list></global>")))
	if len(probs) == 0 {
		return cfg, ""
	}
	return cfg, probs[0].Msg
}

func TestGlobalAndCluster(t *testing.T) {
	cfg := mustParse(t, sec(""))
	if cfg.NodeName != "node01" || cfg.Global.WhiteList != nil {
		t.Errorf("defaults: NodeName %q, white list %v", cfg.NodeName, cfg.Global.WhiteList)
	}
	cfg = mustParse(t, sec(
		"<cluster><node_name>a</node_name></cluster>",
		"<cluster><node_name>b</node_name></cluster>",
		"<global><white_list>10.0.0.1</white_list></global>",
		"<global><logall>no</logall><white_list>10.0.0.2</white_list></global>",
	))
	if cfg.NodeName != "b" || len(cfg.Global.WhiteList) != 2 {
		t.Errorf("NodeName %q, white list %v", cfg.NodeName, cfg.Global.WhiteList)
	}
}

func TestRiposteSection(t *testing.T) {
	defaults := Riposte{
		API:              API{Listen: "127.0.0.1:55000"},
		HandshakeTimeout: 10 * time.Second,
		RunTimeout:       60 * time.Second,
		WhiteListScope:   ScopeIP,
		ResolveInterval:  5 * time.Minute,
		Fleet:            defaultFleet(),
	}
	tests := []struct {
		name string
		in   string
		want func(r *Riposte)
	}{
		{"absent", sec(""), func(r *Riposte) {}},
		{"empty", sec("<riposte/>"), func(r *Riposte) {}},
		{
			"every setting",
			sec("<riposte>",
				"<alerts_json>/a.json</alerts_json>",
				"<alerts_json>/b.json</alerts_json>",
				"<http_listen>[::1]:8080</http_listen>",
				"<handshake_timeout>3</handshake_timeout>",
				"<run_timeout>1m30s</run_timeout>",
				"<stateless_dedupe>500ms</stateless_dedupe>",
				"<white_list_resolve_interval>2h</white_list_resolve_interval>",
				"<white_list_scope>all</white_list_scope>",
				"<dry_run>yes</dry_run>",
				"</riposte>"),
			func(r *Riposte) {
				*r = Riposte{
					AlertsJSON:       []string{"/a.json", "/b.json"},
					HTTPListen:       "[::1]:8080",
					HandshakeTimeout: 3 * time.Second,
					RunTimeout:       90 * time.Second,
					StatelessDedupe:  500 * time.Millisecond,
					WhiteListScope:   ScopeAll,
					ResolveInterval:  2 * time.Hour,
					DryRun:           true,
					Fleet:            defaultFleet(),
					API:              API{Listen: "127.0.0.1:55000"},
				}
			},
		},
		{
			"fleet",
			sec("<remote><connection>secure</connection><port>11514</port></remote>",
				"<auth><port>11515</port></auth>",
				"<riposte><fleet>",
				"<agent_url>tls://mgr.example:11514</agent_url>",
				"<server_name>mgr.example</server_name>",
				"<nats_url>nats://10.0.0.1:4222,nats://10.0.0.2:4222</nats_url>",
				"<nats_creds>/etc/riposte/nats.creds</nats_creds>",
				"<replicas>3</replicas>",
				"<subject_prefix>rp</subject_prefix>",
				"<heartbeat_interval>2s</heartbeat_interval>",
				"<disconnect_after>6s</disconnect_after>",
				"<command_ttl>1h</command_ttl>",
				"<all_includes_manager>yes</all_includes_manager>",
				"<central_offenders>no</central_offenders>",
				"<offenders_cap>6h</offenders_cap>",
				"<offenders_decay>12h</offenders_decay>",
				"</fleet></riposte>"),
			func(r *Riposte) {
				r.Fleet = Fleet{
					AgentListen: ":11514", EnrollmentListen: ":11515",
					AgentURLs: []string{"tls://mgr.example:11514"}, ServerNames: []string{"mgr.example"},
					NATSURL: "nats://10.0.0.1:4222,nats://10.0.0.2:4222", NATSCreds: "/etc/riposte/nats.creds",
					Replicas: 3, SubjectPrefix: "rp", Heartbeat: 2 * time.Second, DisconnectAfter: 6 * time.Second,
					CommandTTL: time.Hour, AllIncludesManager: true, CentralOffenders: false,
					OffendersCap: 6 * time.Hour, OffendersDecay: 12 * time.Hour,
				}
			},
		},
		{
			"fleet listen addresses",
			sec("<riposte><fleet><agent_listen>10.0.0.5:1514</agent_listen><enrollment_listen>[::1]:0</enrollment_listen></fleet></riposte>"),
			func(r *Riposte) { r.Fleet.AgentListen, r.Fleet.EnrollmentListen = "10.0.0.5:1514", "[::1]:0" },
		},
		{"http off", sec("<riposte><http_listen>off</http_listen></riposte>"), func(r *Riposte) { r.HTTPListen = "" }},
		{"http localhost", sec("<riposte><http_listen>localhost:1</http_listen></riposte>"), func(r *Riposte) { r.HTTPListen = "localhost:1" }},
		{"http 127.0.0.2", sec("<riposte><http_listen>127.0.0.2:80</http_listen></riposte>"), func(r *Riposte) { r.HTTPListen = "127.0.0.2:80" }},
		{
			"later section wins per setting, alerts add up",
			sec("<riposte><run_timeout>5s</run_timeout><dry_run>yes</dry_run><alerts_json>/a</alerts_json></riposte>",
				"<riposte><run_timeout>7s</run_timeout><alerts_json>/b</alerts_json><alerts_json>/a</alerts_json></riposte>"),
			func(r *Riposte) {
				r.RunTimeout, r.DryRun, r.AlertsJSON = 7*time.Second, true, []string{"/a", "/b"}
			},
		},
		{
			"api",
			sec("<riposte><api><listen>0.0.0.0:55000</listen><cert>/etc/r/api.pem</cert><key>/etc/r/api.key</key></api></riposte>"),
			func(r *Riposte) {
				r.API = API{Listen: "0.0.0.0:55000", CertFile: "/etc/r/api.pem", KeyFile: "/etc/r/api.key"}
			},
		},
		{"api off", sec("<riposte><api><listen>off</listen></api></riposte>"), func(r *Riposte) { r.API.Listen = "" }},
		{"stateless dedupe zero", sec("<riposte><stateless_dedupe>0</stateless_dedupe></riposte>"), func(r *Riposte) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, tt.in)
			want := defaults
			tt.want(&want)
			if !reflect.DeepEqual(cfg.Riposte, want) {
				t.Errorf("got  %+v\nwant %+v", cfg.Riposte, want)
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{Pos{"a.conf", 12}, SeverityError, "x"}, "a.conf:12: error: x"},
		{Problem{Pos{"a.conf", 3}, SeverityWarning, "y"}, "a.conf:3: warning: y"},
		{Problem{Pos{"a.conf", 0}, SeverityError, "z"}, "a.conf: error: z"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// TestInvalidFixtures runs each file of testdata/invalid: the configuration,
// then a line "---- want ----", then the expected problems, one a line.
func TestInvalidFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.conf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, want := readFixture(t, f)
			_, probs, err := Parse(filepath.Base(f), in)
			if err == nil {
				t.Errorf("no error")
			}
			checkProblems(t, probs, want)
		})
	}
}

const fixtureSeparator = "---- want ----\n"

func readFixture(t testing.TB, path string) ([]byte, []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in, want, ok := strings.Cut(string(data), fixtureSeparator)
	if !ok {
		t.Fatalf("%s: no %q line", path, strings.TrimSpace(fixtureSeparator))
	}
	return []byte(in), strings.Split(strings.TrimSpace(want), "\n")
}

func TestDefaultReadsAuthLogOrJournal(t *testing.T) {
	for _, authLog := range []bool{true, false} {
		cfg, probs, err := Parse("d.conf", defaultXMLFor(authLog))
		if err != nil || len(probs) > 0 {
			t.Fatalf("authLog=%v: %v %v", authLog, probs, err)
		}
		want := LocalFile{Location: "journald", LogFormat: "journald"}
		if authLog {
			want = LocalFile{Location: AuthLog, LogFormat: "syslog"}
		}
		got := cfg.LocalFiles[0]
		got.Pos = Pos{}
		if len(cfg.LocalFiles) != 1 || got != want {
			t.Errorf("authLog=%v: localfiles %+v", authLog, cfg.LocalFiles)
		}
		if r := cfg.Responses[0]; r.Command != "firewall-drop" || r.Timeout.Seconds() != 600 || len(r.RepeatedOffenders) != 3 {
			t.Errorf("response %+v", r)
		}
	}
}
