package analysis

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// step is one line of a session and the outcome it must have.
type step struct {
	location string // "" means stdin
	line     string
	after    time.Duration // clock advance before the line
	want     string        // outcome: "rule/decoder" or "-/decoder"
}

// runSteps feeds steps through one session with a controlled clock.
func runSteps(t *testing.T, e *Engine, steps []step) []*Result {
	t.Helper()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.now = func() time.Time { return now }
	sess := NewSession()
	var out []*Result
	for i, s := range steps {
		now = now.Add(s.after)
		loc := s.location
		if loc == "" {
			loc = "stdin"
		}
		res, err := e.Process(sess, loc, s.line)
		if err != nil {
			t.Fatal(err)
		}
		got := "-/" + res.Decoder
		if res.Rule != nil {
			got = itoa(res.Rule.ID) + "/" + res.Decoder
		}
		if got != s.want {
			t.Errorf("step %d (%q): got %s, want %s", i+1, s.line, got, s.want)
		}
		out = append(out, res)
	}
	return out
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// optionsBase opens the rules of the option tests: an "app" event, and a
// failure among them; the group is left open.
const optionsBase = templates + `<group name="t,">
<rule id="100" level="0"><decoded_as>app</decoded_as><description>base</description></rule>
<rule id="101" level="3"><if_sid>100</if_sid><match>fail</match><description>fail</description></rule>
`

func TestRuleOptions(t *testing.T) {
	base := optionsBase
	tests := []struct {
		name  string
		rules string
		steps []step
	}{
		{
			name: "frequency counts the event's agent only",
			rules: `<rule id="110" level="10" frequency="3" timeframe="60">
  <if_matched_sid>101</if_matched_sid><description>three failures</description></rule>`,
			steps: []step{
				{location: "(a1) 10.0.0.1->/var/log/auth.log", line: "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1", want: "101/app"},
				{location: "(a2) 10.0.0.2->/var/log/auth.log", line: "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1", want: "101/app"},
				{location: "(a1) 10.0.0.1->/var/log/auth.log", line: "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1", want: "101/app"},
				{location: "(a1) 10.0.0.1->/var/log/secure", line: "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1", want: "110/app"},
			},
		},
		{
			name: "global_frequency counts every agent",
			rules: `<rule id="110" level="10" frequency="3" timeframe="60">
  <if_matched_sid>101</if_matched_sid><global_frequency /><description>three failures</description></rule>`,
			steps: []step{
				{location: "(a1) 10.0.0.1->/var/log/auth.log", line: "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1", want: "101/app"},
				{location: "(a2) 10.0.0.2->/var/log/auth.log", line: "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1", want: "101/app"},
				{location: "(a3) 10.0.0.3->/var/log/auth.log", line: "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1", want: "110/app"},
			},
		},
		{
			name: "if_matched_regex counts earlier messages that match",
			rules: `<rule id="120" level="7" timeframe="60">
  <if_sid>100</if_sid><match>login ok</match>
  <if_matched_regex>^fail user=\S+ ip=1.1.1.1$</if_matched_regex>
  <same_user />
  <description>login after a failure</description></rule>`,
			steps: []step{
				{line: "Jan  1 00:00:00 h app: login ok user=bob ip=1.1.1.1", want: "100/app"},
				{line: "Jan  1 00:00:00 h app: fail user=eve ip=1.1.1.1", want: "101/app"},
				{line: "Jan  1 00:00:00 h app: login ok user=bob ip=1.1.1.1", want: "100/app"},
				{line: "Jan  1 00:00:00 h app: fail user=bob ip=2.2.2.2", want: "101/app"},
				{line: "Jan  1 00:00:00 h app: login ok user=bob ip=1.1.1.1", want: "100/app"},
				{line: "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1", want: "101/app"},
				{line: "Jan  1 00:00:00 h app: login ok user=bob ip=1.1.1.1", want: "120/app"},
				{after: 2 * time.Minute, line: "Jan  1 00:00:00 h app: login ok user=bob ip=1.1.1.1", want: "100/app"},
			},
		},
		{
			name: "if_matched_regex with frequency",
			rules: `<rule id="120" level="7" frequency="3" timeframe="60">
  <if_sid>100</if_sid><match>login ok</match>
  <if_matched_regex>^fail</if_matched_regex>
  <description>login after two failures</description></rule>`,
			steps: []step{
				{line: "Jan  1 00:00:00 h app: fail user=eve ip=1.1.1.1", want: "101/app"},
				{line: "Jan  1 00:00:00 h app: login ok user=bob ip=1.1.1.1", want: "100/app"},
				{line: "Jan  1 00:00:00 h app: fail user=eve ip=1.1.1.1", want: "101/app"},
				{line: "Jan  1 00:00:00 h app: login ok user=bob ip=1.1.1.1", want: "120/app"},
			},
		},
		{
			name: "ignore and check_if_ignored",
			rules: `<rule id="130" level="10" frequency="2" timeframe="60" ignore="30">
  <if_matched_sid>101</if_matched_sid><same_source_ip />
  <ignore>srcip</ignore>
  <description>repeated failures, now ignoring the address</description></rule>
<rule id="131" level="5"><if_sid>100</if_sid><match>probe</match>
  <check_if_ignored>srcip</check_if_ignored><description>probe</description></rule>`,
			steps: []step{
				{line: "Jan  1 00:00:00 h app: probe user=x ip=1.1.1.1", want: "131/app"},
				{line: "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1", want: "101/app"},
				{line: "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1", want: "130/app"},
				// 1.1.1.1 is ignored by 131 for 30 s; other addresses are not.
				{line: "Jan  1 00:00:00 h app: probe user=x ip=1.1.1.1", want: "-/app"},
				{line: "Jan  1 00:00:00 h app: probe user=x ip=2.2.2.2", want: "131/app"},
				{after: 10 * time.Second, line: "Jan  1 00:00:00 h app: probe user=x ip=1.1.1.1", want: "-/app"},
				// The ignore= window of 130 also holds it back meanwhile.
				{line: "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1", want: "101/app"},
				{after: 30 * time.Second, line: "Jan  1 00:00:00 h app: probe user=x ip=1.1.1.1", want: "131/app"},
			},
		},
		{
			name: "ignore= holds a rule back after it fires",
			rules: `<rule id="140" level="8" ignore="60"><if_sid>101</if_sid><match>root</match>
  <description>root failure</description></rule>`,
			steps: []step{
				{line: "Jan  1 00:00:00 h app: fail user=root ip=1.1.1.1", want: "140/app"},
				{after: 59 * time.Second, line: "Jan  1 00:00:00 h app: fail user=root ip=1.1.1.1", want: "101/app"},
				{after: time.Second, line: "Jan  1 00:00:00 h app: fail user=root ip=1.1.1.1", want: "140/app"},
				{line: "Jan  1 00:00:00 h app: fail user=root ip=1.1.1.1", want: "101/app"},
			},
		},
		{
			name: "ignore without ignore= lasts for the session",
			rules: `<rule id="130" level="10"><if_sid>101</if_sid><match>fatal</match>
  <ignore>user</ignore><description>fatal failure</description></rule>
<rule id="131" level="5"><if_sid>100</if_sid><match>probe</match>
  <check_if_ignored>user</check_if_ignored><description>probe</description></rule>`,
			steps: []step{
				{line: "Jan  1 00:00:00 h app: fail fatal user=bob ip=1.1.1.1", want: "130/app"},
				{line: "Jan  1 00:00:00 h app: probe user=bob ip=1.1.1.1", want: "-/app"},
				{after: time.Hour, line: "Jan  1 00:00:00 h app: probe user=bob ip=1.1.1.1", want: "-/app"},
				{line: "Jan  1 00:00:00 h app: probe user=eve ip=1.1.1.1", want: "131/app"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, treeDecoders, base+tt.rules+"\n</group>")
			runSteps(t, e, tt.steps)
		})
	}
}

func TestPreviousOutput(t *testing.T) {
	rules := templates + `<group name="t,">
<rule id="100" level="0"><decoded_as>app</decoded_as><description>base</description></rule>
<rule id="101" level="3"><if_sid>100</if_sid><match>fail</match><description>fail</description></rule>
<rule id="110" level="10" frequency="3" timeframe="60">
  <if_matched_sid>101</if_matched_sid><same_source_ip /><description>three failures</description></rule>
<rule id="111" level="12"><if_sid>110</if_sid><match>root</match><description>three failures, root</description></rule>
</group>`
	e := newEngine(t, treeDecoders, rules)
	lines := []string{
		"Jan  1 00:00:01 h app: fail user=a ip=1.1.1.1",
		"Jan  1 00:00:02 h app: fail user=b ip=2.2.2.2",
		"Jan  1 00:00:03 h app: fail user=c ip=1.1.1.1",
		"Jan  1 00:00:04 h app: fail user=d ip=1.1.1.1",
		"Jan  1 00:00:05 h app: fail user=root ip=1.1.1.1",
	}
	res := runSteps(t, e, []step{
		{line: lines[0], want: "101/app"},
		{line: lines[1], want: "101/app"},
		{line: lines[2], want: "101/app"},
		{line: lines[3], want: "110/app"},
		{line: lines[4], want: "111/app"},
	})
	prev := func(r *Result) any {
		var doc map[string]any
		if err := json.Unmarshal(r.Alert, &doc); err != nil {
			t.Fatalf("%v: %s", err, r.Alert)
		}
		return doc["previous_output"]
	}
	// Newest first, only the events counted (same source address).
	if got, want := prev(res[3]), lines[2]+"\n"+lines[0]; got != want {
		t.Errorf("previous_output = %q, want %q", got, want)
	}
	// A child of the correlating rule reports what its parent counted:
	// line 4 ended on 110, so it is not one of 101's events.
	if got, want := prev(res[4]), lines[2]+"\n"+lines[0]; got != want {
		t.Errorf("child's previous_output = %q, want %q", got, want)
	}
	if got := prev(res[2]); got != nil {
		t.Errorf("plain rule has previous_output %q", got)
	}
}

func TestAccumulate(t *testing.T) {
	decoders := `
<decoder name="ldap">
  <program_name>^slapd</program_name>
</decoder>
<decoder name="ldap-conn">
  <parent>ldap</parent>
  <prematch>ACCEPT from</prematch>
  <regex>^conn=(\d+) fd=\d+ ACCEPT from IP=(\S+):</regex>
  <order>id, srcip</order>
  <accumulate />
</decoder>
<decoder name="ldap-bind">
  <parent>ldap</parent>
  <prematch> BIND </prematch>
  <regex>^conn=(\d+) op=\d+ BIND dn="(\.+)"</regex>
  <order>id, dstuser</order>
  <accumulate />
</decoder>
<decoder name="ldap-result">
  <parent>ldap</parent>
  <prematch> RESULT </prematch>
  <regex>^conn=(\d+) op=\d+ RESULT tag=\d+ err=(\d+)</regex>
  <order>id, status</order>
  <accumulate />
</decoder>
<decoder name="ldap-other">
  <parent>ldap</parent>
  <regex>^conn=(\d+) </regex>
  <order>id</order>
</decoder>`
	rules := templates + `<group name="t,">
<rule id="100" level="3"><decoded_as>ldap</decoded_as><description>ldap</description></rule>
</group>`
	e := newEngine(t, decoders, rules)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.now = func() time.Time { return now }
	sess := NewSession()
	tests := []struct {
		location, line string
		after          time.Duration
		want           []Field
	}{
		{"stdin", "Jan  1 00:00:00 ldap slapd[1]: conn=7 fd=12 ACCEPT from IP=10.0.0.9:51234 (IP=0.0.0.0:389)", 0,
			[]Field{{Name: "id", Value: "7"}, {Name: "srcip", Value: "10.0.0.9"}}},
		{"stdin", `Jan  1 00:00:01 ldap slapd[1]: conn=7 op=0 BIND dn="cn=admin,dc=example" method=128`, 0,
			[]Field{{Name: "id", Value: "7"}, {Name: "dstuser", Value: "cn=admin,dc=example"}, {Name: "srcip", Value: "10.0.0.9"}}},
		{"stdin", "Jan  1 00:00:01 ldap slapd[1]: conn=7 op=0 RESULT tag=97 err=49 text=", 0,
			[]Field{{Name: "id", Value: "7"}, {Name: "status", Value: "49"}, {Name: "srcip", Value: "10.0.0.9"}, {Name: "dstuser", Value: "cn=admin,dc=example"}}},
		// Another connection id shares nothing.
		{"stdin", "Jan  1 00:00:01 ldap slapd[1]: conn=8 op=0 RESULT tag=97 err=0 text=", 0,
			[]Field{{Name: "id", Value: "8"}, {Name: "status", Value: "0"}}},
		// Neither does the same id from another location.
		{"/var/log/other", "Jan  1 00:00:01 ldap slapd[1]: conn=7 op=1 RESULT tag=97 err=0 text=", 0,
			[]Field{{Name: "id", Value: "7"}, {Name: "status", Value: "0"}}},
		// A decoder without <accumulate> neither gets nor gives fields.
		{"stdin", "Jan  1 00:00:01 ldap slapd[1]: conn=7 op=2 UNBIND", 0,
			[]Field{{Name: "id", Value: "7"}}},
		// Values are updated by later events.
		{"stdin", "Jan  1 00:00:01 ldap slapd[1]: conn=7 op=3 RESULT tag=97 err=0 text=", 0,
			[]Field{{Name: "id", Value: "7"}, {Name: "status", Value: "0"}, {Name: "srcip", Value: "10.0.0.9"}, {Name: "dstuser", Value: "cn=admin,dc=example"}}},
		// Two minutes of silence forget the id.
		{"stdin", "Jan  1 00:00:01 ldap slapd[1]: conn=7 op=4 RESULT tag=97 err=0 text=", 3 * time.Minute,
			[]Field{{Name: "id", Value: "7"}, {Name: "status", Value: "0"}}},
	}
	for i, tt := range tests {
		now = now.Add(tt.after)
		res, err := e.Process(sess, tt.location, tt.line)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tt.want, res.Event.Fields, cmp.AllowUnexported(Field{})); d != "" {
			t.Errorf("line %d: fields (-want +got)\n%s", i+1, d)
		}
	}
}

func TestPluginDecoders(t *testing.T) {
	tests := []struct {
		plugin, in string
		ok         bool
		want       []Field
	}{
		{"PF_Decoder", "Mar 30 15:32:33.483712 rule 2/(match) pass in on xl0: 140.211.166.3.6667 > 192.168.2.10.16290: P 7408:7677(269) ack 1773 win 2520 (DF)", true,
			[]Field{{Name: "action", Value: "pass"}, {Name: "srcip", Value: "140.211.166.3"}, {Name: "srcport", Value: "6667"},
				{Name: "dstip", Value: "192.168.2.10"}, {Name: "dstport", Value: "16290"}, {Name: "protocol", Value: "TCP"}}},
		{"PF_Decoder", "Mar 30 15:54:22.171929 rule 3/(match) block out on xl0: 192.168.2.10.1514 > 192.168.2.190.1030:  udp 73", true,
			[]Field{{Name: "action", Value: "block"}, {Name: "srcip", Value: "192.168.2.10"}, {Name: "srcport", Value: "1514"},
				{Name: "dstip", Value: "192.168.2.190"}, {Name: "dstport", Value: "1030"}, {Name: "protocol", Value: "UDP"}}},
		{"PF_Decoder", "rule 1/(match) block in on em0: 10.0.0.1 > 10.0.0.2: icmp: echo request", true,
			[]Field{{Name: "action", Value: "block"}, {Name: "srcip", Value: "10.0.0.1"}, {Name: "dstip", Value: "10.0.0.2"}, {Name: "protocol", Value: "ICMP"}}},
		{"PF_Decoder", "rule 1/(match) pass in on em0: 2001:db8::1.443 > 2001:db8::2.50000: S 1:1(0) win 512", true,
			[]Field{{Name: "action", Value: "pass"}, {Name: "srcip", Value: "2001:db8::1"}, {Name: "srcport", Value: "443"},
				{Name: "dstip", Value: "2001:db8::2"}, {Name: "dstport", Value: "50000"}, {Name: "protocol", Value: "TCP"}}},
		{"PF_Decoder", "no pf text here", false, nil},
		{"PF_Decoder", "rule 1/(match) pass in on em0: garbage > 10.0.0.2: x", false, nil},
		{"SonicWall_Decoder", `id=NSA2650GG sn=18B169D79980 time="2019-03-19 06:44:01 UTC" fw=83.211.91.146 pri=3 c=4 m=14 msg="Web site access denied" app=49177 n=856789 src=192.168.0.46:59668:X0:nb020.example.com dst=34.194.213.204:443:X1:example.com proto=tcp/https usr="alice"`, true,
			[]Field{{Name: "srcip", Value: "192.168.0.46"}, {Name: "srcport", Value: "59668"}, {Name: "dstip", Value: "34.194.213.204"},
				{Name: "dstport", Value: "443"}, {Name: "status", Value: "3"}, {Name: "action", Value: "Web site access denied"},
				{Name: "id", Value: "14"}, {Name: "protocol", Value: "tcp"}, {Name: "dstuser", Value: "alice"}}},
		{"SonicWall_Decoder", `<134>id=firewall sn=C0EAE4599999 time="2019-02-15 09:45:17 UTC" fw=2.228.169.242 pri=5 c=512 m=1233 msg="Unhandled link-local or multicast IPv6 packet dropped" srcV6=fe80::9851:b780:9d9d:a29e src=:49702:X0-V514 dstV6=ff02::1:3 dst=:5355 proto=udp/5355`, true,
			[]Field{{Name: "srcip", Value: "fe80::9851:b780:9d9d:a29e"}, {Name: "srcport", Value: "49702"}, {Name: "dstip", Value: "ff02::1:3"},
				{Name: "dstport", Value: "5355"}, {Name: "status", Value: "5"}, {Name: "action", Value: "Unhandled link-local or multicast IPv6 packet dropped"},
				{Name: "id", Value: "1233"}, {Name: "protocol", Value: "udp"}}},
		{"SonicWall_Decoder", `id=x time="now" pri=1`, false, nil},
		{"SymantecWS_Decoder", "20070717,73556,1=5,100=Logoff due to timeout.,11=1.2.3.4,10=usera,3=1,2=2", true,
			[]Field{{Name: "extra_data", Value: "Logoff due to timeout."}, {Name: "srcip", Value: "1.2.3.4"}, {Name: "dstuser", Value: "usera"}, {Name: "id", Value: "3=1,2=2"}}},
		{"SymantecWS_Decoder", "20070717,30517,1=3,41=SWS-3.0.1.86/vendor-config,100=Version 3.0.6,3=7,2=29", true,
			[]Field{{Name: "extra_data", Value: "Version 3.0.6"}, {Name: "id", Value: "3=7,2=29"}}},
		{"SymantecWS_Decoder", "July 17,1=5", false, nil},
		{"OSSECAlert_Decoder", "ossec: Alert Level: 3; Rule: 5715 - sshd: authentication success.; Location: (web1) 10.0.0.5->/var/log/secure; srcip: 10.0.0.9; user: root; Jan  1 00:00:00 web1 sshd[1]: Accepted password for root", true,
			[]Field{{Name: "alert.level", Value: "3"}, {Name: "id", Value: "5715"}, {Name: "alert.description", Value: "sshd: authentication success."},
				{Name: "alert.location", Value: "(web1) 10.0.0.5->/var/log/secure"}, {Name: "srcip", Value: "10.0.0.9"}, {Name: "dstuser", Value: "root"},
				{Name: "extra_data", Value: "Jan  1 00:00:00 web1 sshd[1]: Accepted password for root"}}},
		{"OSSECAlert_Decoder", "Alert Level: 10; Rule: 1002 - Unknown problem somewhere in the system.; Location: /var/log/syslog; kernel: oops", true,
			[]Field{{Name: "alert.level", Value: "10"}, {Name: "id", Value: "1002"}, {Name: "alert.description", Value: "Unknown problem somewhere in the system."},
				{Name: "alert.location", Value: "/var/log/syslog"}, {Name: "extra_data", Value: "kernel: oops"}}},
		{"OSSECAlert_Decoder", "Alert Level: high; Rule: 1", false, nil},
	}
	for _, tt := range tests {
		var ev Event
		ok := plugins[tt.plugin](&ev, tt.in)
		if ok != tt.ok {
			t.Errorf("%s(%q) = %v, want %v", tt.plugin, tt.in, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if d := cmp.Diff(tt.want, ev.Fields, cmp.AllowUnexported(Field{})); d != "" {
			t.Errorf("%s(%q) fields (-want +got)\n%s", tt.plugin, tt.in, d)
		}
	}
}

// TestPluginInDecoder runs a plugin decoder through Load and Process.
func TestPluginInDecoder(t *testing.T) {
	decoders := `
<decoder name="pf">
  <type>firewall</type>
  <program_name>^pf$</program_name>
  <plugin_decoder>PF_Decoder</plugin_decoder>
</decoder>`
	rules := templates + `<group name="t,">
<rule id="100" level="0"><category>firewall</category><decoded_as>pf</decoded_as><description>pf</description></rule>
<rule id="101" level="5"><if_sid>100</if_sid><action>block</action><description>pf block from $(srcip)</description></rule>
</group>`
	e := newEngine(t, decoders, rules)
	res := runSteps(t, e, []step{
		{line: "Mar 30 15:47:05 fw pf: Mar 30 15:47:05.522341 rule 4/(match) block in on lo0: 127.0.0.1.48784 > 127.0.0.1.23: S 1381529123:1381529123(0) win 16384", want: "101/pf"},
		{line: "Mar 30 15:47:05 fw pf: Mar 30 15:47:05.522341 rule 4/(match) pass in on lo0: 127.0.0.1.48784 > 127.0.0.1.23: S 1381529123:1381529123(0) win 16384", want: "100/pf"},
	})
	if !strings.Contains(string(res[0].Alert), `"description":"pf block from 127.0.0.1"`) {
		t.Errorf("alert: %s", res[0].Alert)
	}
}

// TestBounds: a huge line is cut to the event size cap, and a pattern
// that backtracks catastrophically on it ends as no match instead of
// stalling analysis (PCRE2 match time limit; OS_Regex is linear past its
// step budget).
func TestBounds(t *testing.T) {
	decoders := `
<decoder name="app">
  <program_name>^app$</program_name>
</decoder>
<decoder name="app-catastrophic">
  <parent>app</parent>
  <prematch type="pcre2">^(a+)+$</prematch>
</decoder>
<decoder name="app-osregex">
  <parent>app</parent>
  <regex>^(\.+)(\.+)(\.+)x(\.+)y$</regex>
  <order>a, b, c, d</order>
</decoder>`
	rules := templates + `<group name="t,">
<rule id="100" level="3"><decoded_as>app</decoded_as><description>app</description></rule>
<rule id="101" level="5"><if_sid>100</if_sid><regex type="pcre2">^(\w+\s?)+$</regex><description>catastrophic</description></rule>
</group>`
	for _, tt := range []struct {
		name     string
		max      int
		line     string
		wantFull int
	}{
		{"default cap", 0, "Jan  1 00:00:00 h app: " + strings.Repeat("a", 40) + "!" + strings.Repeat("a", 4<<20), DefaultMaxEventSize},
		{"small cap", 1000, "Jan  1 00:00:00 h app: " + strings.Repeat("ab ", 20) + "!" + strings.Repeat("ab ", 10000), 1000},
		{"under the cap", 0, "Jan  1 00:00:00 h app: " + strings.Repeat("a", 30000) + "!", 23 + 30001},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := loadInline(t, decoders, rules)
			if err != nil {
				t.Fatal(err)
			}
			if tt.max > 0 {
				e.opts.MaxEventSize = tt.max
			}
			res, err := e.Process(NewSession(), "stdin", tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(res.Event.FullLog); got != tt.wantFull {
				t.Errorf("full_log is %d bytes, want %d", got, tt.wantFull)
			}
			if res.Rule == nil || res.Rule.ID != 100 {
				t.Errorf("rule = %v, want 100 (the catastrophic patterns give no match)", res.Rule)
			}
		})
	}
}

func TestPreviousOutputBound(t *testing.T) {
	rules := templates + `<group name="t,">
<rule id="100" level="0"><decoded_as>app</decoded_as><description>base</description></rule>
<rule id="101" level="3"><if_sid>100</if_sid><match>fail</match><description>fail</description></rule>
<rule id="110" level="10" frequency="40" timeframe="60">
  <if_matched_sid>101</if_matched_sid><description>many failures</description></rule>
</group>`
	e := newEngine(t, treeDecoders, rules)
	sess := NewSession()
	var res *Result
	for i := range 40 {
		var err error
		res, err = e.Process(sess, "stdin", "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1 "+strings.Repeat("x", 4000)+itoa(i))
		if err != nil {
			t.Fatal(err)
		}
	}
	if res.Rule == nil || res.Rule.ID != 110 {
		t.Fatalf("rule %v, want 110", res.Rule)
	}
	var doc struct {
		Previous string `json:"previous_output"`
	}
	if err := json.Unmarshal(res.Alert, &doc); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(doc.Previous, "\n")
	if len(doc.Previous) > maxPreviousOutput || len(lines) != maxPreviousOutput/4046 {
		t.Errorf("previous_output has %d bytes in %d lines", len(doc.Previous), len(lines))
	}
	if !strings.HasSuffix(lines[0], "x38") {
		t.Errorf("first line is not the newest: ...%s", lines[0][len(lines[0])-10:])
	}
}

// TestProgramNameIndex: roots are still tried in file order once indexed
// by the first byte of their program_name prefixes.
func TestProgramNameIndex(t *testing.T) {
	decoders := `
<decoder name="not-ss"><program_name>!^ss</program_name><prematch>^neg </prematch></decoder>
<decoder name="prefix"><program_name>^SS|^tel</program_name></decoder>
<decoder name="substring"><program_name>sshd</program_name></decoder>
<decoder name="any"><program_name/><prematch>^any </prematch></decoder>
<decoder name="exact"><program_name>^xsshd$</program_name></decoder>
<decoder name="regex"><program_name type="osregex">^\w+d$</program_name></decoder>
<decoder name="empty-alt"><program_name>^zz|^$</program_name></decoder>`
	e := newEngine(t, decoders, templates)
	for _, tt := range []struct{ line, want string }{
		{"Jan  1 00:00:00 h sshd[1]: x", "prefix"},
		{"Jan  1 00:00:00 h SSHD[1]: x", "prefix"},
		{"Jan  1 00:00:00 h telnetd[1]: x", "prefix"},
		{"Jan  1 00:00:00 h xsshd[1]: x", "substring"},
		{"Jan  1 00:00:00 h xsshd[1]: any x", "substring"},
		{"Jan  1 00:00:00 h abc[1]: any x", "any"},
		{"Jan  1 00:00:00 h abc[1]: neg x", "not-ss"},
		{"Jan  1 00:00:00 h ssx[1]: neg x", "prefix"},
		{"Jan  1 00:00:00 h food[1]: x", "regex"},
		{"Jan  1 00:00:00 h Zzz[1]: x", "empty-alt"},
		{"Jan  1 00:00:00 h qqq[1]: x", ""},
	} {
		res, err := e.Process(NewSession(), "stdin", tt.line)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Event.DecoderName(); got != tt.want {
			t.Errorf("%q: decoder %q, want %q", tt.line, got, tt.want)
		}
	}
}

// TestRecentKeepsRules: with if_matched_regex loaded, the session keeps
// every event with the rule it ended on, also the alerting events whose
// result goes apart from their block.
func TestRecentKeepsRules(t *testing.T) {
	e := newEngine(t, treeDecoders, optionsBase+`<rule id="120" level="7" frequency="3" timeframe="60">
  <if_sid>100</if_sid><match>login ok</match>
  <if_matched_regex>^fail</if_matched_regex>
  <description>login after two failures</description></rule>
</group>`)
	sess := NewSession()
	var want []int
	for _, line := range []string{
		"Jan  1 00:00:00 h app: fail user=eve ip=1.1.1.1",
		"Jan  1 00:00:00 h app: login ok user=bob ip=1.1.1.1",
		"Jan  1 00:00:00 h app: nothing to see",
	} {
		res, err := e.Process(sess, "/var/log/auth.log", line)
		if err != nil {
			t.Fatal(err)
		}
		id := 0
		if res.Rule != nil {
			id = res.Rule.ID
		}
		want = append(want, id)
	}
	var got []int
	for _, p := range sess.recent {
		id := 0
		if p.rule != nil {
			id = p.rule.ID
		}
		got = append(got, id)
	}
	if !slices.Equal(got, want) || want[0] == 0 {
		t.Errorf("rules kept with the recent events %v, want %v", got, want)
	}
}
