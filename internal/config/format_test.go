package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	_, probs, err := Parse("default.conf", DefaultXML())
	if err != nil || len(probs) > 0 {
		t.Fatalf("built-in configuration: %v", probs)
	}
	cfg := Default()
	if len(cfg.Commands) != 6 || len(cfg.Responses) != 1 || cfg.Files != nil {
		t.Fatalf("got %d commands, %d responses, files %v; want 6, 1, none", len(cfg.Commands), len(cfg.Responses), cfg.Files)
	}
	var cmds []string
	for _, c := range cfg.Commands {
		cmds = append(cmds, c.Name+"="+c.Executable+"/"+yesNoText(c.TimeoutAllowed))
	}
	wantCmds := []string{
		"disable-account=disable-account/yes", "restart-wazuh=restart-wazuh/no",
		"firewall-drop=firewall-drop/yes", "host-deny=host-deny/yes",
		"route-null=route-null/yes", "win_route-null=route-null.exe/yes",
	}
	if !reflect.DeepEqual(cmds, wantCmds) {
		t.Errorf("commands = %v, want %v", cmds, wantCmds)
	}
	r := cfg.Responses[0]
	if r.ARName() != "firewall-drop600" || r.Location != LocationLocal || !reflect.DeepEqual(r.RulesID, []string{"5712", "5720", "5763"}) {
		t.Errorf("response = %+v", r)
	}
	if r.File != "(built-in)" || r.Cmd != &cfg.Commands[2] {
		t.Errorf("response position %v, command %v", r.Pos, r.Cmd)
	}
	if wl := cfg.Global.WhiteList; len(wl) != 2 || wl[0].Prefix != pfx("127.0.0.1/32") || wl[1].Prefix != pfx("::1/128") {
		t.Errorf("white list = %+v", wl)
	}
	want := Riposte{
		API:              API{Listen: "127.0.0.1:55000"},
		HandshakeTimeout: 10 * time.Second,
		RunTimeout:       60 * time.Second,
		WhiteListScope:   ScopeIP,
		ResolveInterval:  5 * time.Minute,
		Fleet:            defaultFleet(),
	}
	if !reflect.DeepEqual(cfg.Riposte, want) || cfg.NodeName != "node01" {
		t.Errorf("riposte = %+v, node %q", cfg.Riposte, cfg.NodeName)
	}

	// The defaults of the <riposte> section are the ones applied when it is
	// absent.
	bare := mustParse(t, "<ossec_config/>")
	if !reflect.DeepEqual(bare.Riposte, cfg.Riposte) {
		t.Errorf("defaults without a section %+v differ from the built-in ones %+v", bare.Riposte, cfg.Riposte)
	}
}

func TestDefaultXMLIsACopy(t *testing.T) {
	b := DefaultXML()
	b[0] = 'x'
	if DefaultXML()[0] == 'x' {
		t.Error("DefaultXML returns shared memory")
	}
}

// normalize clears what Format does not keep: positions, Files, and the
// Raw text of address entries. With renumber it also clears what disabled
// blocks change: Disabled and Index.
func normalize(c *Config, renumber bool) {
	c.Files = nil
	for i := range c.Commands {
		c.Commands[i].Pos = Pos{}
	}
	for i := range c.Responses {
		c.Responses[i].Pos = Pos{}
		if renumber {
			c.Responses[i].Index = 0
		}
	}
	if renumber {
		c.Disabled = 0
	}
	for i := range c.LocalFiles {
		c.LocalFiles[i].Pos = Pos{}
	}
	if c.Ruleset != nil {
		c.Ruleset.Pos = Pos{}
	}
	for i := range c.Global.WhiteList {
		e := &c.Global.WhiteList[i]
		e.Pos = Pos{}
		if e.Prefix.IsValid() {
			e.Raw = ""
		}
	}
}

// roundTrip formats cfg, parses the text and compares the two.
func roundTrip(t testing.TB, cfg *Config, renumber bool) {
	t.Helper()
	text := cfg.Format()
	again, probs, err := Parse("formatted.conf", text)
	if err != nil || len(probs) > 0 {
		t.Fatalf("Parse(Format()): %v\n%s", probs, text)
	}
	normalize(cfg, renumber)
	normalize(again, renumber)
	if !reflect.DeepEqual(cfg, again) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v\ntext:\n%s", again, cfg, text)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		roundTrip(t, Default(), false)
	})
	t.Run("rich", func(t *testing.T) {
		cfg, probs, err := Load(filepath.Join("testdata", "rich.conf"))
		if err != nil || len(probs) > 0 {
			t.Fatalf("Load: %v", probs)
		}
		if len(cfg.Commands) != 3 || len(cfg.Responses) != 4 || len(cfg.Global.WhiteList) != 6 {
			t.Fatalf("rich.conf read as %+v", cfg)
		}
		roundTrip(t, cfg, false)
	})
	t.Run("empty", func(t *testing.T) {
		roundTrip(t, mustParse(t, "<ossec_config/>"), false)
	})
}

func TestFormatText(t *testing.T) {
	cfg := mustParse(t, ar(
		"<command>fw</command>", "<location>DEFINED-AGENT</location>", "<agent_id>7</agent_id>",
		"<rules_id>1, 2</rules_id>", "<rules_group>a<![CDATA[<b]]>c</rules_group>", "<timeout>90</timeout>",
	)+"<ossec_config><global><white_list>::ffff:10.0.0.1</white_list><white_list>10.0.0.1/8</white_list></global></ossec_config>")
	want := `<ossec_config>
  <command>
    <name>fw</name>
    <executable>firewall-drop</executable>
    <timeout_allowed>yes</timeout_allowed>
  </command>
  <command>
    <name>restart</name>
    <executable>restart-wazuh</executable>
    <timeout_allowed>no</timeout_allowed>
  </command>
  <active-response>
    <command>fw</command>
    <location>defined-agent</location>
    <agent_id>007</agent_id>
    <rules_id>1,2</rules_id>
    <rules_group><![CDATA[a<bc]]></rules_group>
    <timeout>90</timeout>
  </active-response>
  <global>
    <white_list>10.0.0.1</white_list>
    <white_list>10.0.0.0/8</white_list>
  </global>
  <cluster>
    <node_name>node01</node_name>
  </cluster>
  <riposte>
    <http_listen>off</http_listen>
    <handshake_timeout>10s</handshake_timeout>
    <run_timeout>1m</run_timeout>
    <stateless_dedupe>0s</stateless_dedupe>
    <white_list_scope>ip</white_list_scope>
    <white_list_resolve_interval>5m</white_list_resolve_interval>
    <dry_run>no</dry_run>
    <firewall_backend>auto</firewall_backend>
    <block_output>no</block_output>
    <ipv6_prefix>0</ipv6_prefix>
    <firewalld_permanent>no</firewalld_permanent>
    <kill_sessions>no</kill_sessions>
    <slack_on_delete>no</slack_on_delete>
    <fleet>
      <agent_listen>:1514</agent_listen>
      <enrollment_listen>:1515</enrollment_listen>
      <replicas>1</replicas>
      <subject_prefix>riposte</subject_prefix>
      <heartbeat_interval>10s</heartbeat_interval>
      <disconnect_after>30s</disconnect_after>
      <command_ttl>10m</command_ttl>
      <all_includes_manager>no</all_includes_manager>
      <central_offenders>yes</central_offenders>
      <offenders_cap>24h</offenders_cap>
      <offenders_decay>24h</offenders_decay>
    </fleet>
    <api>
      <listen>127.0.0.1:55000</listen>
    </api>
  </riposte>
</ossec_config>
`
	if got := string(cfg.Format()); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                       "0s",
		90 * time.Second:        "90s",
		2 * time.Minute:         "2m",
		3 * time.Hour:           "3h",
		90 * time.Minute:        "90m",
		1500 * time.Millisecond: "1.5s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := parseDuration(want); err != nil || back != d {
			t.Errorf("parseDuration(%q) = %v, %v", want, back, err)
		}
	}
}

// FuzzParse checks that Parse never panics on any input, and that whatever
// it accepts prints, with Format, as text it reads back the same.
func FuzzParse(f *testing.F) {
	for _, tt := range problemCases() {
		f.Add([]byte(tt.in))
	}
	f.Add(DefaultXML())
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.conf"))
	more, _ := filepath.Glob(filepath.Join("testdata", "*.conf"))
	for _, name := range append(files, more...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		in, _, _ := bytes.Cut(data, []byte(fixtureSeparator))
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, probs, err := Parse("fuzz.conf", data)
		hasErr := false
		for _, p := range probs {
			if p.File != "fuzz.conf" || p.Line < 0 || p.Msg == "" {
				t.Fatalf("bad problem %+v", p)
			}
			hasErr = hasErr || p.Severity == SeverityError
		}
		if hasErr != (err != nil) || (err == nil) != (cfg != nil) {
			t.Fatalf("error %v, config %v, problems %v", err, cfg != nil, probs)
		}
		if cfg != nil {
			roundTrip(t, cfg, true)
		}
	})
}
