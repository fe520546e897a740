package config

import (
	"strings"
	"testing"
)

// sec wraps lines in an <ossec_config> element; the first line given is
// line 2 of the file.
func sec(lines ...string) string {
	return "<ossec_config>\n" + strings.Join(lines, "\n") + "\n</ossec_config>\n"
}

// ar builds a file with two commands and one <active-response> block that
// holds lines:
//
//	line 2: command fw (firewall-drop, timeout_allowed yes)
//	line 3: command restart (restart-wazuh, timeout_allowed no)
//	line 4: <active-response>
//	line 5: the first line given
func ar(lines ...string) string {
	return sec(
		"<command><name>fw</name><executable>firewall-drop</executable><timeout_allowed>yes</timeout_allowed></command>",
		"<command><name>restart</name><executable>restart-wazuh</executable></command>",
		"<active-response>\n"+strings.Join(lines, "\n")+"\n</active-response>",
	)
}

// checkProblems compares probs with want, one "file:line: severity: text"
// line per problem, in order, where text need only be part of the message.
// An empty want means no problems.
func checkProblems(t *testing.T, probs []Problem, want []string) {
	t.Helper()
	ok := len(probs) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = matchProblem(probs[i], want[i])
	}
	if ok {
		return
	}
	var got strings.Builder
	for _, p := range probs {
		got.WriteString("\n\t" + p.String())
	}
	t.Errorf("problems:%s\nwant:\n\t%s", got.String(), strings.Join(want, "\n\t"))
}

// matchProblem reports whether p matches "file:line: severity: text".
func matchProblem(p Problem, want string) bool {
	for _, sev := range []string{": error: ", ": warning: "} {
		if i := strings.Index(want, sev); i >= 0 {
			head, text := want[:i+len(sev)], want[i+len(sev):]
			s := p.String()
			return strings.HasPrefix(s, head) && strings.Contains(s[len(head):], text)
		}
	}
	return false
}

type problemCase struct {
	name string
	in   string
	want []string // as for checkProblems
}

// problemCases has one case per rule of the configuration: each input with
// the problems it must produce.
func problemCases() []problemCase {
	return []problemCase{
		// Files and top level.
		{"empty file", "", []string{"t.conf: error: no <ossec_config> element"}},
		{"only a comment", "<!-- nothing -->\n", []string{"t.conf: error: no <ossec_config> element"}},
		{"empty ossec_config", "<ossec_config/>", nil},
		{"several roots", "<ossec_config/>\n<ossec_config></ossec_config>", nil},
		{"attributes are allowed", `<ossec_config lang="en"><global name='x'/></ossec_config>`, nil},
		{
			"other top-level element",
			"<ossec_config/>\n\n<agent_config/>",
			[]string{"t.conf:3: error: unexpected top-level element <agent_config>"},
		},
		{
			"text in ossec_config",
			sec("", "  stray"),
			[]string{`t.conf:3: error: unexpected text "stray" in <ossec_config>`},
		},
		{
			"unknown section",
			sec("<global/>", "<foo/>"),
			[]string{"t.conf:3: error: unknown section <foo>"},
		},
		{
			"ignored sections warn once each",
			sec("<sca/>", "<syscheck><disabled>no</disabled></syscheck>", "<sca><x/></sca>", "<wodle name=\"syscollector\"/>"),
			[]string{
				"t.conf:2: warning: section <sca> is not used by Riposte; ignored",
				"t.conf:3: warning: section <syscheck> is not used by Riposte; ignored",
				"t.conf:5: warning: section <wodle> is not used by Riposte; ignored",
			},
		},
		{
			"malformed XML still reports every problem",
			sec(
				"<command>",
				"  <name>a</name>",
				"</ossec_config>",
				"<ossec_config>",
				"<foo/>",
			),
			[]string{
				"t.conf:2: error: element <command> opened here is never closed",
				"t.conf:2: error: command has no <executable>",
				"t.conf:6: error: unknown section <foo>",
			},
		},
		{
			"unclosed command",
			"<ossec_config>\n\n<command><name>a</name><executable>b</executable>\n",
			[]string{
				"t.conf:1: error: element <ossec_config> opened here is never closed",
				"t.conf:3: error: element <command> opened here is never closed",
			},
		},

		// <command>.
		{
			"command ok",
			sec("<command>", "<name>a</name>", "<executable>a.sh</executable>", "<timeout_allowed>no</timeout_allowed>",
				"<extra_args>-x</extra_args>", "<expect>srcip</expect>", "</command>"),
			nil,
		},
		{"command without name", sec("", "<command><executable>a</executable></command>"), []string{"t.conf:3: error: command has no <name>"}},
		{"command with empty name", sec("<command><name> </name><executable>a</executable></command>"), []string{"t.conf:2: error: command has no <name>"}},
		{"command without executable", sec("<command><name>a</name></command>"), []string{"t.conf:2: error: command has no <executable>"}},
		{
			"command name starting with !",
			sec("<command>", "<name>!a</name><executable>a</executable></command>"),
			[]string{`t.conf:3: error: command name "!a" must not start with '!'`},
		},
		{
			"executable with slash",
			sec("<command><name>a</name>", "<executable>../bin/sh</executable></command>"),
			[]string{`t.conf:3: error: executable must be a file name in the active-response bin directory, not "../bin/sh"`},
		},
		{
			"executable with backslash",
			sec("<command><name>a</name><executable>bin\\x.exe</executable></command>"),
			[]string{"t.conf:2: error: executable must be a file name in the active-response bin directory"},
		},
		{"executable dot", sec("<command><name>a</name><executable>.</executable></command>"), []string{"t.conf:2: error: executable must be a file name"}},
		{"executable dot dot", sec("<command><name>a</name><executable>..</executable></command>"), []string{"t.conf:2: error: executable must be a file name"}},
		{"executable empty", sec("<command><name>a</name><executable/></command>"), []string{"t.conf:2: error: executable must be a file name"}},
		{
			"timeout_allowed not yes or no",
			sec("<command><name>a</name><executable>a</executable>", "<timeout_allowed>Yes</timeout_allowed></command>"),
			[]string{`t.conf:3: error: timeout_allowed must be yes or no, not "Yes"`},
		},
		{
			"unknown element in command",
			sec("<command><name>a</name><executable>a</executable>", "<timeout>5</timeout></command>"),
			[]string{"t.conf:3: error: unknown element <timeout> in <command>"},
		},
		{
			"duplicate command",
			sec("<command><name>a</name><executable>a</executable></command>", "", "<command>", "<name>a</name><executable>b</executable></command>"),
			[]string{`t.conf:5: error: command "a" is already defined at t.conf:2`},
		},
		{
			"repeated element in command",
			sec("<command><name>a</name><executable>a</executable>", "<name>b</name></command>"),
			[]string{"t.conf:3: warning: <name> is given more than once in <command> (first on line 2); the last one is used"},
		},
		{
			"element inside a value",
			sec("<command><name>a</name>", "<executable><x/></executable></command>"),
			[]string{
				"t.conf:3: error: <executable> must hold a value, not elements such as <x>",
				"t.conf:3: error: executable must be a file name",
			},
		},
		{
			"text in command",
			sec("<command>a", "<name>a</name><executable>a</executable></command>"),
			[]string{`t.conf:2: error: unexpected text "a" in <command>`},
		},

		// <active-response>.
		{"response ok", ar("<command>fw</command>", "<location>local</location>", "<level>10</level>"), nil},
		{"location any case and spaces", ar("<command>fw</command>", "<location> Defined-Agent </location>", "<agent_id>1</agent_id>", "<level>10</level>"), nil},
		{"ca_store ignored", ar("<command>fw</command>", "<location>all</location>", "<rules_id>1</rules_id>", "<ca_store>wpk_root.pem</ca_store>"), nil},
		{
			"unknown element in active-response",
			ar("<command>fw</command>", "<location>local</location>", "<level>3</level>", "<srcip>1.2.3.4</srcip>"),
			[]string{"t.conf:8: error: unknown element <srcip> in <active-response>"},
		},
		{
			"no command",
			ar("<location>local</location>", "<level>3</level>"),
			[]string{"t.conf:4: error: active response has no <command>"},
		},
		{
			"no location",
			ar("<command>fw</command>", "<level>3</level>"),
			[]string{"t.conf:4: error: active response has no <location>"},
		},
		{
			"unknown command",
			ar("<level>3</level>", "<command>fw2</command>", "<location>local</location>"),
			[]string{`t.conf:6: error: unknown command "fw2"`},
		},
		{
			"location matched as a substring in Wazuh is refused",
			ar("<command>fw</command>", "<location>local-server</location>", "<level>3</level>"),
			[]string{`t.conf:6: error: location "local-server" is not one of local, server, defined-agent, all`},
		},
		{
			"location empty",
			ar("<command>fw</command>", "<location/>", "<level>3</level>"),
			[]string{`t.conf:6: error: location "" is not one of`},
		},
		{
			"defined-agent without agent_id",
			ar("<command>fw</command>", "<location>defined-agent</location>", "<level>3</level>"),
			[]string{"t.conf:6: error: location defined-agent needs <agent_id>"},
		},
		{
			"agent_id not a number",
			ar("<command>fw</command>", "<location>defined-agent</location>", "<agent_id>001, web1</agent_id>", "<level>3</level>"),
			[]string{`t.conf:7: error: agent_id: "web1" is not an agent id`},
		},
		{
			"agent_id empty",
			ar("<command>fw</command>", "<location>defined-agent</location>", "<agent_id> , </agent_id>", "<level>3</level>"),
			[]string{"t.conf:7: error: agent_id is empty"},
		},
		{
			"agent_id with another location",
			ar("<command>fw</command>", "<location>local</location>", "<agent_id>001</agent_id>", "<level>3</level>"),
			[]string{"t.conf:7: warning: agent_id is used only with location defined-agent"},
		},
		{
			"rules_id with a bad piece",
			ar("<command>fw</command>", "<location>local</location>", "<rules_id>5712, 57x0,,</rules_id>"),
			[]string{`t.conf:7: error: rules_id: "57x0" is not a rule id`},
		},
		{
			"rules_group empty",
			ar("<command>fw</command>", "<location>local</location>", "<rules_group></rules_group>"),
			[]string{"t.conf:7: error: rules_group is empty"},
		},
		{
			"level not a number",
			ar("<command>fw</command>", "<location>local</location>", "<level>high</level>"),
			[]string{`t.conf:7: error: level must be a number from 0 to 20, not "high"`},
		},
		{
			"level too high",
			ar("<command>fw</command>", "<location>local</location>", "<level>21</level>"),
			[]string{`t.conf:7: error: level must be a number from 0 to 20, not "21"`},
		},
		{
			"level negative",
			ar("<command>fw</command>", "<location>local</location>", "<level>-1</level>"),
			[]string{`t.conf:7: error: level must be a number from 0 to 20, not "-1"`},
		},
		{"level 20 accepted", ar("<command>fw</command>", "<location>local</location>", "<level>20</level>"), nil},
		{
			"no trigger",
			ar("<command>fw</command>", "<location>local</location>", "<timeout>60</timeout>"),
			[]string{"t.conf:4: error: active response has no trigger: set level, rules_group or rules_id"},
		},
		{
			"level 0 is no trigger",
			ar("<command>fw</command>", "<location>local</location>", "<level>0</level>", "<rules_id>,</rules_id>"),
			[]string{"t.conf:4: error: active response has no trigger"},
		},
		{
			"timeout negative",
			ar("<command>fw</command>", "<location>local</location>", "<level>3</level>", "<timeout>-5</timeout>"),
			[]string{`t.conf:8: error: timeout must be a whole number of seconds, not "-5"`},
		},
		{
			"timeout with a unit",
			ar("<command>fw</command>", "<location>local</location>", "<level>3</level>", "<timeout>10m</timeout>"),
			[]string{`t.conf:8: error: timeout must be a whole number of seconds, not "10m"`},
		},
		{
			"timeout not allowed",
			ar("<command>restart</command>", "<location>local</location>", "<level>3</level>", "<timeout>600</timeout>"),
			[]string{`t.conf:8: warning: timeout ignored: command "restart" does not allow timeouts (timeout_allowed no)`},
		},
		{"timeout 0 with a command that allows none", ar("<command>restart</command>", "<location>local</location>", "<level>3</level>", "<timeout>0</timeout>"), nil},
		{
			"repeated_offenders too long",
			ar("<command>fw</command>", "<location>local</location>", "<level>3</level>", "<repeated_offenders>1,2,3,4,5,6</repeated_offenders>"),
			[]string{"t.conf:8: error: repeated_offenders has 6 values; at most 5 are allowed"},
		},
		{
			"repeated_offenders zero",
			ar("<command>fw</command>", "<location>local</location>", "<level>3</level>", "<repeated_offenders>10, 0</repeated_offenders>"),
			[]string{`t.conf:8: error: repeated_offenders: "0" is not a positive number of minutes`},
		},
		{
			"repeated_offenders not a number",
			ar("<repeated_offenders>10m</repeated_offenders>"),
			[]string{`t.conf:5: error: repeated_offenders: "10m" is not a positive number of minutes`},
		},
		{
			"repeated_offenders empty",
			ar("<repeated_offenders></repeated_offenders>"),
			[]string{"t.conf:5: error: repeated_offenders is empty"},
		},
		{
			"repeated_offenders default ladder set twice",
			sec(
				"<active-response><repeated_offenders>10,20</repeated_offenders></active-response>",
				"<active-response>",
				"<repeated_offenders>30</repeated_offenders>",
				"</active-response>",
			),
			[]string{"t.conf:3: error: the default repeated_offenders ladder is set twice: at t.conf:2 and at t.conf:3"},
		},
		{
			"repeated_offenders block with a trigger but no command",
			ar("<repeated_offenders>10</repeated_offenders>", "<level>3</level>"),
			[]string{"t.conf:6: error: <level> has no effect in a block without <command>"},
		},
		{
			"disabled not yes or no",
			ar("<disabled>true</disabled>", "<command>fw</command>", "<location>local</location>", "<level>3</level>"),
			[]string{`t.conf:5: error: disabled must be yes or no, not "true"`},
		},
		{
			"disabled block values are still checked",
			ar("<disabled>yes</disabled>", "<command>fw</command>", "<location>local</location>", "<level>x</level>"),
			[]string{`t.conf:8: error: level must be a number from 0 to 20, not "x"`},
		},
		{
			"disabled block needs neither a known command nor a trigger",
			ar("<disabled>yes</disabled>", "<command>gone</command>"),
			nil,
		},
		{
			"only disabled yes",
			ar("<disabled>yes</disabled>"),
			[]string{"t.conf:5: warning: an <active-response> block with only <disabled>yes</disabled> turns off Wazuh's execd; Riposte ignores it"},
		},
		{"only disabled no", ar("<disabled>no</disabled>"), nil},
		{
			"repeated element in active-response",
			ar("<command>fw</command>", "<location>local</location>", "<level>3</level>", "<level>5</level>"),
			[]string{"t.conf:8: warning: <level> is given more than once in <active-response> (first on line 7)"},
		},

		// <global>.
		{
			"white list ok",
			sec("<global>", "<jsonout_output>yes</jsonout_output>", "<white_list>10.0.0.0/8</white_list>",
				"<white_list>^localhost.localdomain$</white_list>", "<email_notification>no</email_notification>", "</global>"),
			nil,
		},
		{
			"white list negated",
			sec("<global>", "<white_list>!10.0.0.1</white_list></global>"),
			[]string{`t.conf:3: error: white_list entry "!10.0.0.1": negated white_list entries are not supported`},
		},
		{
			"white list alternatives",
			sec("<global>", "<white_list>^a|^b</white_list></global>"),
			[]string{`t.conf:3: error: white_list entry "^a|^b" is neither an address, a CIDR block nor a host name`},
		},
		{
			"white list with a space",
			sec("<global><white_list>10.0.0.1 10.0.0.2</white_list></global>"),
			[]string{"t.conf:2: error: white_list entry \"10.0.0.1 10.0.0.2\" is neither"},
		},
		{
			"white list partial address",
			sec("<global><white_list>192.168.1</white_list></global>"),
			[]string{"t.conf:2: error: white_list entry \"192.168.1\" is neither"},
		},
		{
			"white list empty",
			sec("<global><white_list/></global>"),
			[]string{"t.conf:2: error: white_list entry is empty"},
		},
		{
			"white list non-contiguous netmask",
			sec("<global><white_list>10.0.0.0/255.0.255.0</white_list></global>"),
			[]string{`t.conf:2: error: white_list entry "10.0.0.0/255.0.255.0": netmask 255.0.255.0 is not contiguous`},
		},
		{
			"white list prefix too long",
			sec("<global><white_list>10.0.0.0/33</white_list></global>"),
			[]string{`t.conf:2: error: white_list entry "10.0.0.0/33": prefix length /33 is out of range 0-32`},
		},
		{
			"white list IPv6 netmask",
			sec("<global><white_list>2001:db8::/ffff::</white_list></global>"),
			[]string{`t.conf:2: error: white_list entry "2001:db8::/ffff::": "ffff::" is neither a prefix length nor an IPv4 netmask`},
		},
		{
			"white list zone",
			sec("<global><white_list>fe80::1%eth0</white_list></global>"),
			[]string{"t.conf:2: error: white_list entry \"fe80::1%eth0\": addresses with a zone are not supported"},
		},

		// <cluster>.
		{"cluster ok", sec("<cluster><name>wazuh</name><node_name>master</node_name><disabled>yes</disabled></cluster>"), nil},
		{"node_name empty", sec("<cluster>", "<node_name></node_name></cluster>"), []string{"t.conf:3: error: node_name is empty"}},

		// <riposte>.
		{
			"riposte ok",
			sec("<riposte>", "<alerts_json>/var/ossec/logs/alerts/alerts.json</alerts_json>", "<http_listen>localhost:8080</http_listen>",
				"<handshake_timeout>5</handshake_timeout>", "<run_timeout>2m</run_timeout>", "<stateless_dedupe>0</stateless_dedupe>",
				"<white_list_resolve_interval>1h</white_list_resolve_interval>", "<white_list_scope>all</white_list_scope>",
				"<dry_run>yes</dry_run>", "</riposte>"),
			nil,
		},
		{"riposte unknown element", sec("<riposte>", "<listen>x</listen></riposte>"), []string{"t.conf:3: error: unknown element <listen> in <riposte>"}},
		{"alerts_json empty", sec("<riposte><alerts_json/></riposte>"), []string{"t.conf:2: error: alerts_json is empty"}},
		{
			"http_listen on every interface",
			sec("<riposte>", "<http_listen>0.0.0.0:55000</http_listen></riposte>"),
			[]string{`t.conf:3: error: http_listen "0.0.0.0:55000": host must be a loopback address`},
		},
		{
			"http_listen without host",
			sec("<riposte><http_listen>:55000</http_listen></riposte>"),
			[]string{"t.conf:2: error: host must be a loopback address"},
		},
		{
			"http_listen host name",
			sec("<riposte><http_listen>example.com:55000</http_listen></riposte>"),
			[]string{"t.conf:2: error: host must be a loopback address"},
		},
		{
			"http_listen without port",
			sec("<riposte><http_listen>127.0.0.1</http_listen></riposte>"),
			[]string{`t.conf:2: error: http_listen "127.0.0.1" is not host:port`},
		},
		{
			"http_listen port too high",
			sec("<riposte><http_listen>[::1]:65536</http_listen></riposte>"),
			[]string{"t.conf:2: error: port must be a number from 0 (any free port) to 65535"},
		},
		{
			"duration zero",
			sec("<riposte>", "<handshake_timeout>0s</handshake_timeout></riposte>"),
			[]string{"t.conf:3: error: handshake_timeout must be greater than 0"},
		},
		{
			"duration negative",
			sec("<riposte>", "<run_timeout>-1s</run_timeout></riposte>"),
			[]string{`t.conf:3: error: run_timeout: "-1s" is negative`},
		},
		{
			"duration not a duration",
			sec("<riposte>", "<white_list_resolve_interval>often</white_list_resolve_interval></riposte>"),
			[]string{`t.conf:3: error: white_list_resolve_interval: "often" is not a duration`},
		},
		{
			"duration seconds overflow",
			sec("<riposte>", "<stateless_dedupe>99999999999999999999</stateless_dedupe></riposte>"),
			[]string{"t.conf:3: error: stateless_dedupe: \"99999999999999999999\" is too long"},
		},
		{
			"white_list_scope bad",
			sec("<riposte>", "<white_list_scope>IP</white_list_scope></riposte>"),
			[]string{`t.conf:3: error: white_list_scope must be ip or all, not "IP"`},
		},
		{
			"dry_run bad",
			sec("<riposte>", "<dry_run>1</dry_run></riposte>"),
			[]string{`t.conf:3: error: dry_run must be yes or no, not "1"`},
		},
		{
			"repeated element in riposte",
			sec("<riposte>", "<dry_run>yes</dry_run>", "<dry_run>no</dry_run></riposte>"),
			[]string{"t.conf:4: warning: <dry_run> is given more than once in <riposte> (first on line 3)"},
		},
	}
}

func TestParseProblems(t *testing.T) {
	for _, tt := range problemCases() {
		t.Run(tt.name, func(t *testing.T) {
			cfg, probs, err := Parse("t.conf", []byte(tt.in))
			checkProblems(t, probs, tt.want)

			hasErr := false
			for _, p := range probs {
				hasErr = hasErr || p.Severity == SeverityError
			}
			switch {
			case hasErr && err == nil:
				t.Errorf("error is nil with error problems")
			case !hasErr && err != nil:
				t.Errorf("error %v without error problems", err)
			case err != nil && cfg != nil:
				t.Errorf("config is not nil on error")
			case err == nil && cfg == nil:
				t.Errorf("config is nil without error")
			}
		})
	}
}

func TestActionSettings(t *testing.T) {
	cfg, _, err := Parse("a.conf", []byte(`<ossec_config><riposte>
  <firewall_backend>ipset</firewall_backend><block_output>yes</block_output>
  <ingress_device>eth0</ingress_device><ipv6_prefix>64</ipv6_prefix>
  <firewalld_permanent>yes</firewalld_permanent><kill_sessions>yes</kill_sessions><slack_on_delete>yes</slack_on_delete>
</riposte></ossec_config>`))
	if err != nil {
		t.Fatal(err)
	}
	want := ActionSettings{FirewallBackend: "ipset", BlockOutput: true, IngressDevice: "eth0", IPv6Prefix: 64,
		FirewalldPermanent: true, KillSessions: true, SlackOnDelete: true}
	if cfg.Riposte.Actions != want {
		t.Fatalf("got %+v", cfg.Riposte.Actions)
	}
	again, _, err := Parse("b.conf", cfg.Format())
	if err != nil || again.Riposte.Actions != want {
		t.Fatalf("round trip: %+v %v", again.Riposte.Actions, err)
	}
	for _, bad := range []string{
		"<firewall_backend>pf</firewall_backend>", "<block_output>maybe</block_output>",
		"<ipv6_prefix>129</ipv6_prefix>", "<ingress_device>a b</ingress_device>",
	} {
		if _, _, err := Parse("c.conf", []byte("<ossec_config><riposte>"+bad+"</riposte></ossec_config>")); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestLocalFileAndRuleset(t *testing.T) {
	cfg, _, err := Parse("/etc/riposte/r.conf", []byte(`<ossec_config>
  <localfile><log_format>syslog</log_format><location>/var/log/auth.log</location></localfile>
  <localfile><log_format>journald</log_format><location>journald</location></localfile>
  <localfile><log_format>json</log_format><location>/var/log/app.json</location><only-future-events>yes</only-future-events></localfile>
  <localfile><log_format>multi-line: 3</log_format><location>/var/log/app.log</location></localfile>
  <localfile><log_format>apache</log_format><location>/var/log/apache2/error.log</location></localfile>
  <ruleset>
    <decoder_dir>ruleset/decoders</decoder_dir>
    <rule_dir>/var/ossec/ruleset/rules</rule_dir>
    <rule_exclude>0215-policy_rules.xml</rule_exclude>
    <list>etc/lists/audit-keys</list>
  </ruleset>
</ossec_config>`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.LocalFiles) != 5 || cfg.LocalFiles[1].Location != "journald" || cfg.LocalFiles[2].LogFormat != "json" ||
		cfg.LocalFiles[3].LogFormat != "multi-line" || cfg.LocalFiles[3].Lines != 3 || cfg.LocalFiles[4].LogFormat != "apache" {
		t.Fatalf("localfiles %+v", cfg.LocalFiles)
	}
	roundTrip(t, cfg, false)
	rs := cfg.Ruleset
	if rs == nil || rs.DecoderDirs[0] != "/etc/riposte/ruleset/decoders" || rs.RuleDirs[0] != "/var/ossec/ruleset/rules" ||
		rs.RuleExclude[0] != "0215-policy_rules.xml" || rs.Lists[0] != "/etc/riposte/etc/lists/audit-keys" {
		t.Fatalf("ruleset %+v", rs)
	}
	for _, bad := range []string{
		"<localfile><log_format>syslog</log_format></localfile>",
		"<localfile><log_format>evtx</log_format><location>x</location></localfile>",
		"<localfile><log_format>multi-line:0</log_format><location>x</location></localfile>",
		"<localfile><log_format>multi-line:x</log_format><location>x</location></localfile>",
		"<ruleset><rule_exclude>a/b.xml</rule_exclude></ruleset>",
		"<ruleset><rules>x</rules></ruleset>",
	} {
		if _, _, err := Parse("c.conf", []byte("<ossec_config>"+bad+"</ossec_config>")); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestFleetProblems(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<riposte><fleet><replicas>7</replicas></fleet></riposte>", "x.conf:1: error: replicas must be a number from 1 to 5"},
		{"<riposte><fleet><agent_listen>1514</agent_listen></fleet></riposte>", "x.conf:1: error: agent_listen"},
		{"<riposte><fleet><subject_prefix>a.b</subject_prefix></fleet></riposte>", "subject_prefix"},
		{"<riposte><fleet><agent_url>http://x</agent_url></fleet></riposte>", "agent_url"},
		{"<riposte><fleet><heartbeat_interval>1m</heartbeat_interval></fleet></riposte>", "disconnect_after (30s) is shorter"},
		{"<riposte><fleet><bogus/></fleet></riposte>", "unknown element <bogus> in <fleet>"},
		{"<remote><port>70000</port></remote>", "<remote><port> must be a port number"},
		{"<riposte><api><cert>/a</cert></api></riposte>", "<api> needs both <cert> and <key>"},
		{"<riposte><api><listen>x</listen></api></riposte>", "api listen"},
	} {
		_, probs, err := Parse("x.conf", []byte("<ossec_config>"+tc.in+"</ossec_config>"))
		if err == nil {
			t.Errorf("%s accepted", tc.in)
			continue
		}
		var all []string
		for _, p := range probs {
			all = append(all, p.String())
		}
		if !strings.Contains(strings.Join(all, "\n"), tc.want) {
			t.Errorf("%s: problems %q, want one containing %q", tc.in, all, tc.want)
		}
	}
}
