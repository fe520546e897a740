package analysis

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// newEngine loads inline decoder and rule XML through temporary files.
func newEngine(t *testing.T, decoders, rules string) *Engine {
	t.Helper()
	e, err := loadInline(t, decoders, rules)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func loadInline(t *testing.T, decoders, rules string) (*Engine, error) {
	t.Helper()
	dir := t.TempDir()
	dd, rd := filepath.Join(dir, "decoders"), filepath.Join(dir, "rules")
	for _, d := range []string{dd, rd} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dd, "d.xml"), []byte(decoders), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rd, "r.xml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(Options{Decoders: []string{dd}, Rules: []string{rd}, ManagerName: "mgr"})
}

// templates are the category roots of Wazuh's 0010-rules_config.xml,
// written anew for the tests.
const templates = `<group name="base,">
<rule id="1" level="0" noalert="1"><category>syslog</category><description>syslog</description></rule>
<rule id="2" level="0" noalert="1"><category>firewall</category><description>firewall</description></rule>
</group>
`

// outcome is what a line produced: rule id, level and decoder name.
func outcome(t *testing.T, e *Engine, sess *Session, line string) string {
	t.Helper()
	res, err := e.Process(sess, "stdin", line)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rule == nil {
		return "-/" + res.Decoder
	}
	return strconv.Itoa(res.Rule.ID) + "/" + res.Decoder
}

func TestPredecode(t *testing.T) {
	tests := []struct {
		name, line          string
		ts, host, prog, log string
	}{
		{"syslog", "Feb  9 11:44:56 someserver sshd[1234]: error: x", "Feb  9 11:44:56", "someserver", "sshd", "error: x"},
		{"no pid", "Dec 10 01:02:03 host su: pam ok", "Dec 10 01:02:03", "host", "su", "pam ok"},
		{"no blank after colon", "Dec 19 17:20:08 User test_noalert[12345]:Test", "Dec 19 17:20:08", "User", "test_noalert", "Test"},
		{"no program", "Dec 10 01:02:03 host just text", "Dec 10 01:02:03", "host", "", "just text"},
		{"no hostname", "Jun 23 15:04:05 Info: imap-login: x", "Jun 23 15:04:05", "", "Info", "imap-login: x"},
		{"iso8601", "2013-10-30T14:51:21.901728+01:00 srv sshd[12664]: Invalid user", "2013-10-30T14:51:21.901728+01:00", "srv", "sshd", "Invalid user"},
		{"iso8601 Z", "2020-01-02T03:04:05Z h p: m", "2020-01-02T03:04:05Z", "h", "p", "m"},
		{"macos", "2020-03-23 06:47:42.801612-0700  localhost sshd[3186]: error", "2020-03-23 06:47:42.801612-0700", "localhost", "sshd", "error"},
		{"year first", "2024 Jan 02 03:04:05 h p: m", "2024 Jan 02 03:04:05", "h", "p", "m"},
		{"solaris id", "Aug 18 07:30:25 192.168.1.5 sshd[20247]: [ID 800047 auth.notice] Failed none", "Aug 18 07:30:25", "192.168.1.5", "sshd", "Failed none"},
		{"apache 2.2", "[Fri Dec 13 06:59:54 2013] [error] [client 1.2.3.4] x", "Fri Dec 13 06:59:54 2013", "", "", "[error] [client 1.2.3.4] x"},
		{"no header", `{"a":1}`, "", "", "", `{"a":1}`},
		{"snort", "01/28-09:13:16.240702  [**] [1:2:3] x", "01/28-09:13:16.240702", "", "", "[**] [1:2:3] x"},
		{"suricata", "01/28/2020-09:13:16.240702  [**] [1:2:3] x", "01/28/2020-09:13:16.240702", "", "", "[**] [1:2:3] x"},
		{"proftpd", "2006-10-06 12:55:43,613 myhost proftpd[8931] myhost (1.2.3.4[1.2.3.4]): USER x", "2006-10-06 12:55:43,613", "myhost", "proftpd", "myhost (1.2.3.4[1.2.3.4]): USER x"},
		{"asl", "[Time 2006.12.28 15:53:55 UTC] [Facility auth] [Sender sshd] [PID 483] [Message error: PAM: x] [Level 3] [Host mac]", "2006.12.28 15:53:55 UTC", "mac", "sshd", "error: PAM: x"},
		{"iis date is not a header", "2015-03-11 21:59:09 1.2.3.4 GET /", "", "", "", "2015-03-11 21:59:09 1.2.3.4 GET /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := Predecode("stdin", tt.line)
			got := []string{ev.Timestamp, ev.Hostname, ev.ProgramName, ev.Log}
			want := []string{tt.ts, tt.host, tt.prog, tt.log}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestParseXML(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // name=text of the first element's first child
		err       string
	}{
		{"no entity decoding", `<a><b>x &lt; y</b></a>`, "b=x &lt; y", ""},
		{"escaped lt", `<a><b>x \< y</b></a>`, `b=x \< y`, ""},
		{"double backslash", `<a><b>E:\\</b></a>`, `b=E:\\`, ""},
		{"comment ending !>", `<a><!-- c !><b>t</b></a>`, "b=t", ""},
		{"blanks kept", `<a><b>x </b></a>`, "b=x ", ""},
		{"several roots", `<a><b>1</b></a><c/>`, "b=1", ""},
		{"unclosed", "<a>\n<b>x</a>", "", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := parseXML(tt.src)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := nodes[0].Children[0]
			if got := c.Name + "=" + c.Text; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSubstituteVars(t *testing.T) {
	vars := map[string]string{"BAD": "a|b", "X": "1"}
	tests := []struct{ in, want string }{
		{"$BAD", "a|b"},
		{"$BAD|c", "a|b|c"},
		{"$X.$X,$X $X$", "1.1,1 1$"},
		{"$UNKNOWN", "$UNKNOWN"},
		{"cost $", "cost $"},
	}
	for _, tt := range tests {
		if got := substituteVars(tt.in, vars); got != tt.want {
			t.Errorf("substituteVars(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

const testDecoders = `
<!-- roots with and without program_name -->
<decoder name="sshd">
  <program_name>^sshd</program_name>
</decoder>
<decoder name="sshd-fail">
  <parent>sshd</parent>
  <prematch>^Failed \S+ </prematch>
  <regex offset="after_prematch">^for (\S+) from (\S+) port (\d+)</regex>
  <order>user, srcip, srcport</order>
</decoder>
<decoder name="sshd-own">
  <parent>sshd</parent>
  <use_own_name>true</use_own_name>
  <prematch>^Own </prematch>
  <regex offset="after_prematch">(\w+)</regex>
  <order>word</order>
</decoder>
<decoder name="anyprog">
  <program_name/>
  <prematch>^ANY </prematch>
</decoder>
<decoder name="kv">
  <prematch>^kv: </prematch>
</decoder>
<decoder name="kv-chain">
  <parent>kv</parent>
  <regex offset="after_parent">a=(\w+)</regex>
  <order>a</order>
</decoder>
<decoder name="kv-chain">
  <parent>kv</parent>
  <regex offset="after_regex">^ b=(\w+)</regex>
  <order>b</order>
</decoder>
<decoder name="kv-chain">
  <parent>kv</parent>
  <regex>c=(\w+)</regex>
  <order>c</order>
</decoder>
<decoder name="fw">
  <type>firewall</type>
  <prematch type="pcre2">^FW(?=:)</prematch>
  <regex type="pcre2">src=(\d+\.\d+\.\d+\.\d+) dst=(\S+)</regex>
  <order>srcip, dstip</order>
</decoder>
<decoder name="json">
  <prematch>^{\s*"</prematch>
  <plugin_decoder>JSON_Decoder</plugin_decoder>
</decoder>
`

func TestDecoders(t *testing.T) {
	e := newEngine(t, testDecoders, templates)
	tests := []struct {
		name, line, decoder string
		fields              []Field
	}{
		{"child renamed to parent", "Dec 10 01:02:03 h sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2",
			"sshd", []Field{{Name: "dstuser", Value: "root"}, {Name: "srcip", Value: "10.0.0.1"}, {Name: "srcport", Value: "22"}}},
		{"use_own_name", "Dec 10 01:02:03 h sshd[1]: Own hello", "sshd-own", []Field{{Name: "word", Value: "hello"}}},
		{"parent only", "Dec 10 01:02:03 h sshd[1]: something else", "sshd", nil},
		{"empty program_name means any", "Dec 10 01:02:03 h whatever: ANY x", "anyprog", nil},
		{"roots without program_name skip events that have one", "Dec 10 01:02:03 h p: kv: a=1", "", nil},
		{"regex chain with after_regex", "kv: a=1 b=2 c=3", "kv", []Field{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}, {Name: "c", Value: "3"}}},
		{"failing chain link is skipped", "kv: a=1 x=2 c=3", "kv", []Field{{Name: "a", Value: "1"}, {Name: "c", Value: "3"}}},
		{"pcre2 lookahead", "FW: src=1.2.3.4 dst=5.6.7.8", "fw", []Field{{Name: "srcip", Value: "1.2.3.4"}, {Name: "dstip", Value: "5.6.7.8"}}},
		{"json flattened", `{"a":{"b":"x","n":2.50},"l":[1,2],"z":null,"t":true}`, "json",
			[]Field{{Name: "a.b", Value: "x"}, {Name: "a.n", Value: "2.5"}, {Name: "l", Value: "[1,2]", raw: true}, {Name: "t", Value: "true"}}},
		{"json static names", `{"srcip":"1.2.3.4","user":"bob"}`, "json", []Field{{Name: "srcip", Value: "1.2.3.4"}, {Name: "dstuser", Value: "bob"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.Process(NewSession(), "stdin", tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if res.Decoder != tt.decoder {
				t.Errorf("decoder %q, want %q", res.Decoder, tt.decoder)
			}
			if d := cmp.Diff(tt.fields, res.Event.Fields, cmp.AllowUnexported(Field{})); d != "" {
				t.Errorf("fields (-want +got)\n%s", d)
			}
		})
	}
}

const ruleDecoders = `
<decoder name="app">
  <program_name>^app$</program_name>
</decoder>
<decoder name="app-kv">
  <parent>app</parent>
  <regex>user=(\S+) ip=(\S+) n=(\d+)</regex>
  <order>user, srcip, number</order>
</decoder>
<decoder name="fw">
  <type>firewall</type>
  <prematch>^FW </prematch>
</decoder>
`

const rules = templates + `
<var name="BAD">evil|worse</var>
<group name="app,">
<rule id="100" level="0">
  <decoded_as>app</decoded_as>
  <description>app events</description>
</rule>
<rule id="101" level="3">
  <if_sid>100</if_sid>
  <match>login</match>
  <description>login by $(dstuser) from $(srcip)</description>
  <group>auth,pci_dss_10.2.5,</group>
</rule>
<rule id="102" level="5">
  <if_sid>100</if_sid>
  <match>login</match>
  <field name="number" negate="yes">^0$</field>
  <description>login with number</description>
</rule>
<rule id="103" level="0">
  <if_sid>100</if_sid>
  <match>login</match>
  <user>^ignored$</user>
  <description>ignored user</description>
</rule>
<rule id="104" level="10" frequency="3" timeframe="60">
  <if_matched_sid>102</if_matched_sid>
  <same_source_ip />
  <description>repeated logins</description>
  <options>no_ar</options>
</rule>
<rule id="105" level="4" noalert="1">
  <if_sid>100</if_sid>
  <match>quiet</match>
  <description>noalert parent</description>
</rule>
<rule id="106" level="6">
  <if_sid>105</if_sid>
  <match>loud</match>
  <description>noalert child</description>
</rule>
<rule id="107" level="2">
  <if_sid>100</if_sid>
  <match>$BAD</match>
  <description>bad words</description>
</rule>
<rule id="108" level="7">
  <if_group>auth</if_group>
  <srcip>10.0.0.0/8</srcip>
  <description>auth from inside</description>
</rule>
<rule id="109" level="4">
  <if_sid>100</if_sid>
  <action>Block</action>
  <description>never: no action field</description>
</rule>
<rule id="110" level="9" ignore="60">
  <if_sid>100</if_sid>
  <match>once</match>
  <description>ignored for a minute after firing</description>
</rule>
<rule id="111" level="3">
  <if_sid>100</if_sid>
  <match>quiet</match>
  <description>after the noalert sibling</description>
</rule>
<rule id="200" level="5">
  <category>firewall</category>
  <match>drop</match>
  <description>firewall drop</description>
</rule>
</group>
`

func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string // "rule/decoder" of the last line
	}{
		{"level 0 child is tried first", []string{"Jan  1 00:00:00 h app: login user=ignored ip=1.1.1.1 n=1"}, "103/app"},
		{"higher level sibling first", []string{"Jan  1 00:00:00 h app: login user=bob ip=1.1.1.1 n=1"}, "102/app"},
		{"negated field", []string{"Jan  1 00:00:00 h app: login user=bob ip=1.1.1.1 n=0"}, "101/app"},
		{"srcip list outside", []string{"Jan  1 00:00:00 h app: login user=bob ip=11.1.2.3 n=0"}, "101/app"},
		{"if_group with srcip list", []string{"Jan  1 00:00:00 h app: login user=bob ip=10.1.2.3 n=0"}, "108/app"},
		{"parent matches alone", []string{"Jan  1 00:00:00 h app: hello user=bob ip=1.1.1.1 n=0"}, "100/app"},
		{"noalert child matches", []string{"Jan  1 00:00:00 h app: quiet loud"}, "106/app"},
		{"noalert falls through to sibling", []string{"Jan  1 00:00:00 h app: quiet"}, "111/app"},
		{"var in match", []string{"Jan  1 00:00:00 h app: worse"}, "107/app"},
		{"category root", []string{"FW drop 1"}, "200/fw"},
		{"no decoder no rule", []string{"nothing here"}, "-/"},
		{"frequency", []string{
			"Jan  1 00:00:00 h app: login user=bob ip=1.1.1.1 n=1",
			"Jan  1 00:00:00 h app: login user=bob ip=1.1.1.1 n=1",
			"Jan  1 00:00:00 h app: login user=bob ip=1.1.1.1 n=1",
		}, "104/app"},
		{"frequency with same_source_ip", []string{
			"Jan  1 00:00:00 h app: login user=bob ip=1.1.1.1 n=1",
			"Jan  1 00:00:00 h app: login user=bob ip=2.2.2.2 n=1",
			"Jan  1 00:00:00 h app: login user=bob ip=1.1.1.1 n=1",
		}, "102/app"},
		{"ignore", []string{"Jan  1 00:00:00 h app: once", "Jan  1 00:00:00 h app: once"}, "100/app"},
	}
	e := newEngine(t, ruleDecoders, rules)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess := NewSession()
			var got string
			for _, l := range tt.lines {
				got = outcome(t, e, sess, l)
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFrequencyTimeframe(t *testing.T) {
	e := newEngine(t, ruleDecoders, rules)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.now = func() time.Time { return now }
	sess := NewSession()
	line := "Jan  1 00:00:00 h app: login user=bob ip=1.1.1.1 n=1"
	outcome(t, e, sess, line)
	outcome(t, e, sess, line)
	now = now.Add(2 * time.Minute) // both earlier events leave the 60 s window
	if got := outcome(t, e, sess, line); got != "102/app" {
		t.Errorf("got %s, want 102/app", got)
	}
}

func TestAlertJSON(t *testing.T) {
	e := newEngine(t, ruleDecoders, rules)
	sess := NewSession()
	line := "Jan  1 00:00:00 h app: login user=bob ip=1.1.1.1 n=1"
	var res *Result
	for range 3 {
		var err error
		if res, err = e.Process(sess, "/var/log/auth.log", line); err != nil {
			t.Fatal(err)
		}
	}
	var doc struct {
		Rule struct {
			Level      int      `json:"level"`
			ID         string   `json:"id"`
			FiredTimes int      `json:"firedtimes"`
			Groups     []string `json:"groups"`
			Options    []string `json:"options"`
		} `json:"rule"`
		Agent      struct{ ID, Name string }
		ID         string `json:"id"`
		FullLog    string `json:"full_log"`
		Predecoder struct {
			ProgramName string `json:"program_name"`
			Hostname    string `json:"hostname"`
		} `json:"predecoder"`
		Decoder  struct{ Parent, Name string }
		Data     map[string]string `json:"data"`
		Location string            `json:"location"`
	}
	if err := json.Unmarshal(res.Alert, &doc); err != nil {
		t.Fatalf("%v\n%s", err, res.Alert)
	}
	if doc.Rule.ID != "104" || doc.Rule.Level != 10 || doc.Rule.FiredTimes != 1 {
		t.Errorf("rule = %+v", doc.Rule)
	}
	if d := cmp.Diff([]string{"app"}, doc.Rule.Groups); d != "" {
		t.Errorf("groups (-want +got)\n%s", d)
	}
	if d := cmp.Diff([]string{"no_ar"}, doc.Rule.Options); d != "" {
		t.Errorf("options (-want +got)\n%s", d)
	}
	if doc.Agent.ID != "000" || doc.Agent.Name != "mgr" || !strings.Contains(doc.ID, ".") {
		t.Errorf("agent/id = %+v %q", doc.Agent, doc.ID)
	}
	want := map[string]string{"dstuser": "bob", "srcip": "1.1.1.1", "number": "1"}
	if d := cmp.Diff(want, doc.Data); d != "" {
		t.Errorf("data (-want +got)\n%s", d)
	}
	if doc.FullLog != line || doc.Predecoder.ProgramName != "app" || doc.Predecoder.Hostname != "h" ||
		doc.Decoder.Name != "app" || doc.Decoder.Parent != "app" || doc.Location != "/var/log/auth.log" {
		t.Errorf("document = %s", res.Alert)
	}
	if got := len(res.Chain); got != 4 { // 1 → 100 → 102 → 104
		t.Errorf("chain length %d, want 4", got)
	}
}

func TestDescriptionAndCompliance(t *testing.T) {
	e := newEngine(t, ruleDecoders, rules)
	res, err := e.Process(NewSession(), "stdin", "Jan  1 00:00:00 h app: login user=bob ip=1.1.1.1 n=0")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rule struct {
			Description string   `json:"description"`
			Groups      []string `json:"groups"`
			PCI         []string `json:"pci_dss"`
		} `json:"rule"`
	}
	if err := json.Unmarshal(res.Alert, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Rule.Description != "login by bob from 1.1.1.1" {
		t.Errorf("description %q", doc.Rule.Description)
	}
	if d := cmp.Diff([]string{"app", "auth"}, doc.Rule.Groups); d != "" {
		t.Errorf("groups (-want +got)\n%s", d)
	}
	if d := cmp.Diff([]string{"10.2.5"}, doc.Rule.PCI); d != "" {
		t.Errorf("pci_dss (-want +got)\n%s", d)
	}
}

func TestOverwrite(t *testing.T) {
	e := newEngine(t, ruleDecoders, templates+`<group name="g,">
<rule id="100" level="0"><decoded_as>app</decoded_as><description>base</description></rule>
<rule id="101" level="3"><if_sid>100</if_sid><match>old</match><description>old</description></rule>
<rule id="102" level="5"><if_sid>101</if_sid><match>child</match><description>child</description></rule>
<rule id="101" level="4" overwrite="yes"><match>new</match><description>new</description></rule>
<rule id="101" level="9"><match>dup</match><description>dropped duplicate</description></rule>
</group>`)
	tests := []struct{ line, want string }{
		{"Jan  1 00:00:00 h app: old", "100/app"},
		{"Jan  1 00:00:00 h app: new", "101/app"},
		{"Jan  1 00:00:00 h app: new child", "102/app"},
	}
	for _, tt := range tests {
		if got := outcome(t, e, NewSession(), tt.line); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.line, got, tt.want)
		}
	}
	if lvl := e.Rule(101).Level; lvl != 4 {
		t.Errorf("level %d after overwrite, want 4", lvl)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, decoders, rules, err string
	}{
		{"bad osregex names file line and decoder", `<decoder name="x">
  <prematch>a\qb</prematch>
</decoder>`, templates, "d.xml:1: decoder x: prematch"},
		{"missing parent", `<decoder name="x"><parent>nope</parent></decoder>`, templates, `parent decoder "nope" not found`},
		{"bad rule level", `<decoder name="x"/>`, `<group name="g"><rule id="5" level="high"></rule></group>`, "r.xml:1: rule 5: invalid level"},
		{"bad pcre2", `<decoder name="x"/>`, `<group name="g">
<rule id="5" level="1">
<field name="a" type="pcre2">(</field></rule></group>`, "r.xml:2: rule 5: line 3: field a"},
		{"unknown element", `<decoder name="x"/>`, `<group name="g"><rule id="5" level="1"><bogus/></rule></group>`, "unknown element <bogus>"},
		{"syntax", `<decoder name="x">`, templates, "d.xml:1: element <decoder> is not closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadInline(t, tt.decoders, tt.rules)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
		})
	}
}

func TestLoadReportsEveryFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"a.xml": `<decoder name="a"><prematch>\q</prematch></decoder>`,
		"b.xml": `<decoder name="b"><regex>\q</regex></decoder>`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Load(Options{Decoders: []string{dir}})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v is not a *LoadError", err)
	}
	for _, want := range []string{"a.xml:1: decoder a: prematch", "b.xml:1: decoder b: regex"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestSkippedRulesWarn(t *testing.T) {
	e := newEngine(t, ruleDecoders, templates+`<group name="g,">
<rule id="100" level="3"><if_sid>1|2</if_sid><description>bad if_sid</description></rule>
<rule id="101" level="3"><list field="srcip" lookup="match_key">etc/lists/none</list><description>no list</description></rule>
</group>`)
	if e.Rule(100) != nil || e.Rule(101) != nil {
		t.Error("rules with an invalid if_sid or a missing list were loaded")
	}
	if got := len(e.Warnings()); got != 2 {
		t.Errorf("%d warnings, want 2: %q", got, e.Warnings())
	}
}

func TestExprDialects(t *testing.T) {
	tests := []struct {
		pattern, typ string
		def          exprKind
		negate       bool
		in           string
		want         bool
	}{
		{"^Fail|refused$", "", kindOSMatch, false, "connection REFUSED", true},
		{"!abc", "", kindOSMatch, false, "xyz", true},
		{`^\d+$`, "", kindOSRegex, false, "123", true},
		{`^\d+$`, "", kindOSRegex, true, "123", false},
		{"Block", "", kindExact, false, "block", false},
		{`(?i)^ab(?=c)`, "pcre2", kindOSMatch, false, "ABc", true},
		{"ab", "osregex", kindOSMatch, false, "xaby", true},
	}
	for _, tt := range tests {
		e, err := compileExpr(tt.pattern, tt.typ, tt.def, tt.negate)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.test(tt.in); got != tt.want {
			t.Errorf("%q (%s) on %q = %v, want %v", tt.pattern, tt.typ, tt.in, got, tt.want)
		}
	}
}

func TestPCRETimeout(t *testing.T) {
	e, err := compileExpr(`^(a+)+$`, "pcre2", kindOSMatch, false)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if e.test(strings.Repeat("a", 40) + "b") {
		t.Error("catastrophic pattern matched")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("match took %v", d)
	}
}

func TestIPList(t *testing.T) {
	tests := []struct {
		list, ip string
		want     bool
	}{
		{"192.168.0.0/16", "192.168.9.9", true},
		{"192.168.0.0/16", "10.1.1.1", false},
		{"10.0.0.1, 172.16.0.0/255.240.0.0", "172.20.1.1", true},
		{"any", "8.8.8.8", true},
		{"!192.168.1.1", "192.168.1.1", false},
		// After a negated entry, an address no entry contains matches.
		{"!192.168.1.1", "8.8.8.8", true},
		// The first containing entry decides, before the negation is seen.
		{"10.0.0.0/8, !10.9.9.9", "10.9.9.9", true},
		{"!10.9.9.9, 10.0.0.0/8", "10.9.9.9", false},
		{"!10.9.9.9, 10.0.0.0/8", "10.1.1.1", false},
		{"10.0.0.0/8", "not an address", false},
	}
	for _, tt := range tests {
		l, err := parseIPList(tt.list)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.contains(tt.ip); got != tt.want {
			t.Errorf("%q contains %s = %v, want %v", tt.list, tt.ip, got, tt.want)
		}
	}
}

func TestParseIni(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "x.ini")
	src := `; comment
[Section A]
log 1 pass = first ; cut
log 1 pass = second
rule = 1
alert = 2
decoder = d
[Section B]
log 1 fail = x
rule = ""
[Section A]
log 2 pass = third
`
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cases, err := parseIni(f, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []iniCase{
		{section: "Section A", lines: []string{"first", "second"}, pass: true, rule: "1", alert: "2", decoder: "d"},
		{section: "Section A", lines: []string{"third"}, pass: true, rule: "1", alert: "2", decoder: "d"},
		{section: "Section B", lines: []string{"x"}, pass: false},
	}
	if d := cmp.Diff(want, cases, cmp.AllowUnexported(iniCase{})); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func BenchmarkSSHD(b *testing.B) {
	e := loadCompat(b)
	lines := []string{
		"Feb  9 11:44:56 someserver sshd[1234]: Failed password for root from 192.168.1.10 port 22 ssh2",
		"Feb  9 11:44:56 someserver sshd[1234]: Accepted password for bob from 192.168.1.10 port 22 ssh2",
		"Jul  3 21:44:07 vmi189193 sshd[26279]: Failed password for invalid user sammy from 82.202.219.155 port 51676 ssh2",
		"Feb 10 23:21:05 someserver sshd[1234]: Read error from remote host 192.168.1.1: Connection reset by peer",
	}
	sess := NewSession()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := e.Process(sess, "/var/log/secure", lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
