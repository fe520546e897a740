package action

import (
	"slices"
	"strings"
	"testing"
)

var netshAct = platAction{"netsh.exe", "windows", `active-response\bin\netsh.exe`}

const (
	netshRegLocalQuery  = `reg query HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy /s /v EnableFirewall`
	netshRegPolicyQuery = `reg query HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall /s /v EnableFirewall`
	netshNoRule         = "\r\nNo rules match the specified criteria.\r\n"
)

// netshReg is "reg query ... /s /v EnableFirewall" output for the keys
// under base, each with its value.
func netshReg(base string, values ...string) string {
	var sb strings.Builder
	for i := 0; i+1 < len(values); i += 2 {
		sb.WriteString("\r\n" + base + `\` + values[i] + "\r\n    EnableFirewall    REG_DWORD    " + values[i+1] + "\r\n")
	}
	sb.WriteString("\r\nEnd of search: 3 match(es) found.\r\n")
	return sb.String()
}

const (
	netshRegLocalKey  = `HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy`
	netshRegPolicyKey = `HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\WindowsFirewall`
)

// netshShown is "netsh advfirewall firewall show rule" output for a rule.
func netshShown(name, dir, remote string) string {
	return "\r\nRule Name:                            " + name + "\r\n" +
		"----------------------------------------------------------------------\r\n" +
		"Enabled:                              Yes\r\nDirection:                            " + dir + "\r\n" +
		"Profiles:                             Domain,Private,Public\r\nGrouping:                             \r\n" +
		"LocalIP:                              Any\r\nRemoteIP:                             " + remote + "\r\n" +
		"Protocol:                             Any\r\nEdge traversal:                       No\r\nAction:                               Block\r\nOk.\r\n\r\n"
}

func netshShow(name string) string {
	return "netsh advfirewall firewall show rule name=" + name
}

// netshAnswers has no rule for key yet; netshAfterAdd shows each rule
// once it is added.
func netshAnswers(key string) map[string]fakeAnswer {
	a := map[string]fakeAnswer{}
	for _, dir := range []string{"in", "out"} {
		name := "RIPOSTE BLOCK " + key + " " + dir
		a[netshShow(name)] = fakeAnswer{out: netshNoRule, err: platExit(netshShow(name), "1", "")}
	}
	return a
}

func netshAfterAdd(key, remote string) map[string]map[string]fakeAnswer {
	after := map[string]map[string]fakeAnswer{}
	for dir, word := range map[string]string{"in": "In", "out": "Out"} {
		name := "RIPOSTE BLOCK " + key + " " + dir
		add := "netsh advfirewall firewall add rule name=" + name + " interface=any dir=" + dir + " action=block remoteip=" + remote
		after[add] = map[string]fakeAnswer{netshShow(name): {out: netshShown(name, word, remote)}}
	}
	return after
}

// netshAddCalls are the calls of an add that finds no rule.
func netshAddCalls(key, remote string) []string {
	calls := []string{netshRegLocalQuery, netshRegPolicyQuery}
	for _, dir := range []string{"in", "out"} {
		q := `"name=RIPOSTE BLOCK ` + key + " " + dir + `"`
		calls = append(calls,
			"netsh advfirewall firewall show rule "+q,
			"netsh advfirewall firewall add rule "+q+" interface=any dir="+dir+" action=block remoteip="+remote,
			"netsh advfirewall firewall show rule "+q)
	}
	return calls
}

func TestNetsh(t *testing.T) {
	merge := func(ms ...map[string]fakeAnswer) map[string]fakeAnswer {
		out := map[string]fakeAnswer{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	const offNote = `{"message":"Active response may not have an effect","firewall":{` +
		`"profile1":"FIREWALL_DOMAIN","status1":"active","profile2":"FIREWALL_PRIVATE","status2":"active",` +
		`"profile3":"FIREWALL_PUBLIC","status3":"inactive"},"status":"inactive","script":"netsh"}`
	const policyMissing = "ERROR: The system was unable to find the specified registry key or value."
	cases := []platCase{{
		name:    "add blocks both directions",
		answers: netshAnswers("203.0.113.7"), after: netshAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls: netshAddCalls("203.0.113.7", "203.0.113.7/32"),
		keys:  `["203.0.113.7"]`,
		logs:  []string{"Ended"}, nologs: []string{"may not have an effect"},
	}, {
		name: "IPv6 is /128", srcip: "2001:DB8:0::7",
		answers: netshAnswers("2001:db8::7"), after: netshAfterAdd("2001:db8::7", "2001:db8::7/128"),
		calls: netshAddCalls("2001:db8::7", "2001:db8::7/128"),
		keys:  `["2001:db8::7"]`,
	}, {
		name: "IPv4-mapped IPv6 is IPv4 /32", srcip: "::ffff:203.0.113.7",
		answers: netshAnswers("203.0.113.7"), after: netshAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls: netshAddCalls("203.0.113.7", "203.0.113.7/32"),
		keys:  `["203.0.113.7"]`,
	}, {
		name: "a block keeps its prefix", srcip: "10.1.2.3/8",
		answers: netshAnswers("10.0.0.0/8"), after: netshAfterAdd("10.0.0.0/8", "10.0.0.0/8"),
		calls: netshAddCalls("10.0.0.0/8", "10.0.0.0/8"),
		keys:  `["10.0.0.0/8"]`,
	}, {
		name: "Windows event address",
		msg: `{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":[],` +
			`"alert":{"rule":{"level":10,"id":"60122"},"data":{"win":{"eventdata":{"ipAddress":"203.0.113.9","targetUserName":"admin"}}}},` +
			`"program":"active-response\\bin\\netsh.exe"}}`,
		answers: netshAnswers("203.0.113.9"), after: netshAfterAdd("203.0.113.9", "203.0.113.9/32"),
		calls: netshAddCalls("203.0.113.9", "203.0.113.9/32"),
		keys:  `["203.0.113.9"]`,
	}, {
		name: "rules already there: nothing added",
		answers: map[string]fakeAnswer{
			netshShow("RIPOSTE BLOCK 203.0.113.7 in"):  {out: netshShown("RIPOSTE BLOCK 203.0.113.7 in", "In", "203.0.113.7/32")},
			netshShow("RIPOSTE BLOCK 203.0.113.7 out"): {out: netshShown("RIPOSTE BLOCK 203.0.113.7 out", "Out", "203.0.113.7/32")},
		},
		calls: []string{netshRegLocalQuery, netshRegPolicyQuery,
			`netsh advfirewall firewall show rule "name=RIPOSTE BLOCK 203.0.113.7 in"`,
			`netsh advfirewall firewall show rule "name=RIPOSTE BLOCK 203.0.113.7 out"`},
		keys: `["203.0.113.7"]`, logs: []string{"Ended"},
	}, {
		name: "only the inbound rule there",
		answers: merge(netshAnswers("203.0.113.7"), map[string]fakeAnswer{
			netshShow("RIPOSTE BLOCK 203.0.113.7 in"): {out: netshShown("RIPOSTE BLOCK 203.0.113.7 in", "In", "203.0.113.7/32")},
		}),
		after: netshAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls: slices.Concat([]string{netshRegLocalQuery, netshRegPolicyQuery,
			`netsh advfirewall firewall show rule "name=RIPOSTE BLOCK 203.0.113.7 in"`}, netshAddCalls("203.0.113.7", "203.0.113.7/32")[5:]),
		keys: `["203.0.113.7"]`,
	}, {
		name: "a profile off: Wazuh's note, rules still added",
		answers: merge(netshAnswers("203.0.113.7"), map[string]fakeAnswer{
			netshRegLocalQuery:  {out: netshReg(netshRegLocalKey, "DomainProfile", "0x1", "PublicProfile", "0x0", "StandardProfile", "0x1")},
			netshRegPolicyQuery: {err: platExit(netshRegPolicyQuery, "1", policyMissing)},
		}),
		after: netshAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls: netshAddCalls("203.0.113.7", "203.0.113.7/32"),
		keys:  `["203.0.113.7"]`,
		logs:  []string{offNote, "Ended"},
	}, {
		name: "Group Policy turns a profile off",
		answers: merge(netshAnswers("203.0.113.7"), map[string]fakeAnswer{
			netshRegLocalQuery:  {out: netshReg(netshRegLocalKey, "DomainProfile", "0x1", "PublicProfile", "0x1", "StandardProfile", "0x1")},
			netshRegPolicyQuery: {out: netshReg(netshRegPolicyKey, "PublicProfile", "0x0")},
		}),
		after: netshAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls: netshAddCalls("203.0.113.7", "203.0.113.7/32"),
		keys:  `["203.0.113.7"]`,
		logs:  []string{offNote},
	}, {
		name: "Group Policy turns a profile on",
		answers: merge(netshAnswers("203.0.113.7"), map[string]fakeAnswer{
			netshRegLocalQuery:  {out: netshReg(netshRegLocalKey, "DomainProfile", "0x1", "PublicProfile", "0x0", "StandardProfile", "0x1")},
			netshRegPolicyQuery: {out: netshReg(netshRegPolicyKey, "DomainProfile", "0x1", "PrivateProfile", "0x1", "PublicProfile", "0x1")},
		}),
		after:  netshAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls:  netshAddCalls("203.0.113.7", "203.0.113.7/32"),
		keys:   `["203.0.113.7"]`,
		nologs: []string{"may not have an effect"},
	}, {
		name: "reg missing: logged, rules still added",
		answers: merge(netshAnswers("203.0.113.7"), map[string]fakeAnswer{
			"reg": {err: platMissing("reg")},
		}),
		after: netshAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls: slices.Concat([]string{netshRegLocalQuery}, netshAddCalls("203.0.113.7", "203.0.113.7/32")[2:]),
		keys:  `["203.0.113.7"]`,
		logs:  []string{"Cannot check the firewall profiles: reg: program not found", "Ended"},
	}, {
		name:    "rule not there afterwards",
		answers: netshAnswers("203.0.113.7"),
		code:    ExitFailed,
		calls:   netshAddCalls("203.0.113.7", "203.0.113.7/32")[:5],
		keys:    `["203.0.113.7"]`,
		logs:    []string{`Unable to run active response: add: firewall rule "RIPOSTE BLOCK 203.0.113.7 in" not found after adding it`},
		nologs:  []string{"Ended"},
	}, {
		name:    "netsh missing",
		answers: map[string]fakeAnswer{"netsh": {err: platMissing("netsh")}},
		code:    ExitFailed,
		calls: []string{netshRegLocalQuery, netshRegPolicyQuery,
			`netsh advfirewall firewall show rule "name=RIPOSTE BLOCK 203.0.113.7 in"`},
		keys: `["203.0.113.7"]`,
		logs: []string{"netsh: program not found"},
	}, {
		name: "delete removes both rules", command: "delete",
		answers: map[string]fakeAnswer{
			netshShow("RIPOSTE BLOCK 203.0.113.7 in"):  {out: netshShown("RIPOSTE BLOCK 203.0.113.7 in", "In", "203.0.113.7/32")},
			netshShow("RIPOSTE BLOCK 203.0.113.7 out"): {out: netshShown("RIPOSTE BLOCK 203.0.113.7 out", "Out", "203.0.113.7/32")},
		},
		calls: []string{
			`netsh advfirewall firewall show rule "name=RIPOSTE BLOCK 203.0.113.7 in"`,
			`netsh advfirewall firewall delete rule "name=RIPOSTE BLOCK 203.0.113.7 in"`,
			`netsh advfirewall firewall show rule "name=RIPOSTE BLOCK 203.0.113.7 out"`,
			`netsh advfirewall firewall delete rule "name=RIPOSTE BLOCK 203.0.113.7 out"`,
		},
		logs: []string{"Ended"},
	}, {
		name: "delete IPv6", command: "delete", srcip: "2001:db8::7",
		answers: map[string]fakeAnswer{
			netshShow("RIPOSTE BLOCK 2001:db8::7 in"): {out: netshShown("RIPOSTE BLOCK 2001:db8::7 in", "In", "2001:db8::7/128")},
		},
		calls: []string{
			`netsh advfirewall firewall show rule "name=RIPOSTE BLOCK 2001:db8::7 in"`,
			`netsh advfirewall firewall delete rule "name=RIPOSTE BLOCK 2001:db8::7 in"`,
			`netsh advfirewall firewall show rule "name=RIPOSTE BLOCK 2001:db8::7 out"`,
		},
	}, {
		name: "delete of rules not there", command: "delete",
		answers: netshAnswers("203.0.113.7"),
		calls: []string{
			`netsh advfirewall firewall show rule "name=RIPOSTE BLOCK 203.0.113.7 in"`,
			`netsh advfirewall firewall show rule "name=RIPOSTE BLOCK 203.0.113.7 out"`,
		},
		logs: []string{"Ended"},
	}, {
		name: "not on Linux", goos: "linux",
		code: ExitFailed,
		keys: `["203.0.113.7"]`,
		logs: []string{`invalid system "linux": netsh.exe runs on Windows`},
	}, {
		name: "Wazuh 5 message",
		msg: `{"wazuh":{"active_response":{"name":"block-ip","executable":"netsh","type":"stateful","stateful_timeout":600,"extra_arguments":""},` +
			`"agent":{"id":"001","name":"win1"}},"source":{"ip":"2001:db8::7","port":0},"command":"enable"}`,
		answers: netshAnswers("2001:db8::7"), after: netshAfterAdd("2001:db8::7", "2001:db8::7/128"),
		calls: netshAddCalls("2001:db8::7", "2001:db8::7/128"),
		keys:  `["2001:db8::7"]`,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { platCheck(t, netshAct, c) })
	}
}

// TestNetshArgv: the rule name with its spaces is one argv element.
func TestNetshArgv(t *testing.T) {
	r := newPlatRunner(netshAnswers("203.0.113.7"), netshAfterAdd("203.0.113.7", "203.0.113.7/32"))
	env := &Env{Program: netshAct.program, Root: t.TempDir(), Exec: r, GOOS: "windows"}
	if code, _ := platRun(t, "netsh.exe", env, platMsg("add", netshAct.program, "203.0.113.7")); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	want := []string{"netsh", "advfirewall", "firewall", "add", "rule", "name=RIPOSTE BLOCK 203.0.113.7 in",
		"interface=any", "dir=in", "action=block", "remoteip=203.0.113.7/32"}
	if got := r.fake.calls[3]; !slices.Equal(got, want) {
		t.Errorf("argv %q, want %q", got, want)
	}
	want = []string{"netsh", "advfirewall", "firewall", "show", "rule", "name=RIPOSTE BLOCK 203.0.113.7 out"}
	if got := r.fake.calls[5]; !slices.Equal(got, want) {
		t.Errorf("argv %q, want %q", got, want)
	}
}

func TestRegEnableFirewall(t *testing.T) {
	got := regEnableFirewall([]byte(netshReg(netshRegLocalKey, "DomainProfile", "0x1", "PublicProfile", "0x0", "StandardProfile", "0x1")))
	want := map[string]bool{"DomainProfile": true, "PublicProfile": false, "StandardProfile": true}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v, want %v", k, got[k], v)
		}
	}
}
