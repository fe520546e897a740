package analysis

import (
	"strconv"
	"testing"
)

const treeDecoders = `
<decoder name="app">
  <program_name>^app$</program_name>
</decoder>
<decoder name="app-kv">
  <parent>app</parent>
  <regex>user=(\S+) ip=(\S+)</regex>
  <order>user, srcip</order>
  <fts>name, user</fts>
</decoder>
`

func TestRuleTree(t *testing.T) {
	rules := templates + `<group name="t,">
<rule id="100" level="0"><decoded_as>app</decoded_as><description>base</description></rule>
<rule id="101" level="3"><if_sid>100</if_sid><match>a</match><description>a</description></rule>
<rule id="102" level="3"><if_sid>100</if_sid><match>b</match><description>b</description></rule>
<!-- 103 has two parents; 104 hangs under its first node only (under 101). -->
<rule id="103" level="4"><if_sid>101, 102</if_sid><match>x</match><description>x</description></rule>
<rule id="104" level="5"><if_sid>103</if_sid><match>y</match><description>y</description></rule>
<rule id="105" level="12"><if_level>4</if_level><match>z</match><description>level 4 or more</description></rule>
<rule id="106" level="6"><if_sid>100</if_sid><match>new</match><if_fts /><description>first time seen</description></rule>
</group>`
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"via first parent", []string{"Jan  1 00:00:00 h app: a x y"}, "104/app"},
		{"via second parent: no grandchild", []string{"Jan  1 00:00:00 h app: b x y"}, "103/app"},
		{"if_level", []string{"Jan  1 00:00:00 h app: a x z"}, "105/app"},
		{"if_fts first time", []string{"Jan  1 00:00:00 h app: new user=kim ip=1.1.1.1"}, "106/app"},
		{"if_fts second time", []string{
			"Jan  1 00:00:00 h app: new user=kim ip=1.1.1.1",
			"Jan  1 00:00:00 h app: new user=kim ip=2.2.2.2",
		}, "100/app"},
		{"if_fts new value", []string{
			"Jan  1 00:00:00 h app: new user=kim ip=1.1.1.1",
			"Jan  1 00:00:00 h app: new user=eve ip=1.1.1.1",
		}, "106/app"},
	}
	e := newEngine(t, treeDecoders, rules)
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

func TestIfMatchedGroup(t *testing.T) {
	rules := templates + `<group name="t,">
<rule id="100" level="0"><decoded_as>app</decoded_as><description>base</description></rule>
<rule id="101" level="3"><if_sid>100</if_sid><match>fail</match><description>fail</description><group>failures,</group></rule>
<rule id="102" level="8" frequency="2" timeframe="60">
  <if_matched_group>failures</if_matched_group>
  <same_user />
  <description>two failures for one user</description>
</rule>
</group>`
	e := newEngine(t, treeDecoders, rules)
	sess := NewSession()
	outcome(t, e, sess, "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1")
	if got := outcome(t, e, sess, "Jan  1 00:00:00 h app: fail user=eve ip=1.1.1.1"); got != "101/app" {
		t.Errorf("different user: got %s, want 101/app", got)
	}
	if got := outcome(t, e, sess, "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1"); got != "102/app" {
		t.Errorf("same user: got %s, want 102/app", got)
	}
}

// TestIfMatchedGroupKeyed: the events an if_matched_group rule with a
// same_* condition counts are kept per value, so many other values do not
// push them out.
func TestIfMatchedGroupKeyed(t *testing.T) {
	rules := templates + `<group name="t,">
<rule id="100" level="0"><decoded_as>app</decoded_as><description>base</description></rule>
<rule id="101" level="3"><if_sid>100</if_sid><match>fail</match><description>fail</description><group>failures,</group></rule>
<rule id="102" level="8" frequency="2" timeframe="3600">
  <if_matched_group>failures</if_matched_group>
  <same_user />
  <description>two failures for one user</description>
</rule>
</group>`
	e := newEngine(t, treeDecoders, rules)
	sess := NewSession()
	outcome(t, e, sess, "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1")
	for i := range 3 * maxHistory {
		if got := outcome(t, e, sess, "Jan  1 00:00:00 h app: fail user=u"+strconv.Itoa(i)+" ip=1.1.1.1"); got != "101/app" {
			t.Fatalf("user u%d: got %s, want 101/app", i, got)
		}
	}
	if got := outcome(t, e, sess, "Jan  1 00:00:00 h app: fail user=bob ip=1.1.1.1"); got != "102/app" {
		t.Errorf("same user after many others: got %s, want 102/app", got)
	}
}

func TestCheckDiff(t *testing.T) {
	rules := templates + `<group name="t,">
<rule id="100" level="0"><decoded_as>app</decoded_as><description>base</description></rule>
<rule id="101" level="7"><if_sid>100</if_sid><match>ports:</match><check_diff /><description>output changed</description></rule>
</group>`
	e := newEngine(t, treeDecoders, rules)
	sess := NewSession()
	for i, tt := range []struct{ line, want string }{
		{"Jan  1 00:00:00 h app: ports: 22", "100/app"},
		{"Jan  1 00:00:00 h app: ports: 22", "100/app"},
		{"Jan  1 00:00:00 h app: ports: 22 80", "101/app"},
	} {
		if got := outcome(t, e, sess, tt.line); got != tt.want {
			t.Errorf("line %d: got %s, want %s", i+1, got, tt.want)
		}
	}
}

// TestConcurrentSessions runs sessions in parallel on one engine (run with
// -race).
func TestConcurrentSessions(t *testing.T) {
	e := newEngine(t, ruleDecoders, rules)
	done := make(chan string)
	for range 4 {
		go func() {
			sess := NewSession()
			var got string
			for range 3 {
				res, err := e.Process(sess, "stdin", "Jan  1 00:00:00 h app: login user=bob ip=1.1.1.1 n=1")
				if err != nil || res.Rule == nil {
					done <- "error"
					return
				}
				got = res.Decoder + "/" + res.Rule.Description
			}
			done <- got
		}()
	}
	for range 4 {
		if got := <-done; got != "app/repeated logins" {
			t.Errorf("got %q", got)
		}
	}
}
