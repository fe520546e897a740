package action

import "testing"

var ipfwAct = platAction{"ipfw", "freebsd", "active-response/bin/ipfw"}

const (
	ipfwShowEmpty = "65535 0 0 deny ip from any to any\n"
	// ipfwShowRules is "ipfw show" with both rules, table written table(1)
	// as ipfw prints it.
	ipfwShowRules = "00001      12      720 deny ip from table(1) to any\n" +
		"00001       0        0 deny ip from any to table(1)\n" + ipfwShowEmpty
	ipfwListHead = "--- table(1), set(0) ---\n"
)

// ipfwAnswers is ipfw with show's output and an empty table; after adding
// entry, the table lists it as listed.
func ipfwAnswers(show string) map[string]fakeAnswer {
	return map[string]fakeAnswer{"ipfw show": {out: show}, "ipfw table 00001 list": {out: ipfwListHead}}
}

func ipfwAfterAdd(entry, listed string) map[string]map[string]fakeAnswer {
	return map[string]map[string]fakeAnswer{
		"ipfw -q table 00001 add " + entry: {"ipfw table 00001 list": {out: ipfwListHead + listed + " 0\n"}},
	}
}

func TestIPFW(t *testing.T) {
	const (
		ruleIn  = "ipfw -q add 00001 deny ip from table(00001) to any"
		ruleOut = "ipfw -q add 00001 deny ip from any to table(00001)"
	)
	cases := []platCase{{
		name:    "add creates both rules and blocks",
		answers: ipfwAnswers(ipfwShowEmpty), after: ipfwAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls: []string{"ipfw show", ruleIn, ruleOut,
			"ipfw table 00001 list", "ipfw -q table 00001 add 203.0.113.7", "ipfw table 00001 list"},
		keys: `["203.0.113.7"]`, logs: []string{"Ended"},
	}, {
		name:    "rules already there (as ipfw prints them)",
		answers: ipfwAnswers(ipfwShowRules), after: ipfwAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls: []string{"ipfw show",
			"ipfw table 00001 list", "ipfw -q table 00001 add 203.0.113.7", "ipfw table 00001 list"},
		keys: `["203.0.113.7"]`,
	}, {
		name:    "rules already there (as Wazuh's check expects them)",
		answers: ipfwAnswers("00001 0 0 deny ip from table(00001) to any\n00001 0 0 deny ip from any to table(00001)\n"),
		after:   ipfwAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls: []string{"ipfw show",
			"ipfw table 00001 list", "ipfw -q table 00001 add 203.0.113.7", "ipfw table 00001 list"},
		keys: `["203.0.113.7"]`,
	}, {
		name:    "only the inbound rule there",
		answers: ipfwAnswers("00001 0 0 deny ip from table(1) to any\n" + ipfwShowEmpty),
		after:   ipfwAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls: []string{"ipfw show", ruleOut,
			"ipfw table 00001 list", "ipfw -q table 00001 add 203.0.113.7", "ipfw table 00001 list"},
		keys: `["203.0.113.7"]`,
	}, {
		name:    "a rule 00001 of someone else's does not count",
		answers: ipfwAnswers("00001 0 0 allow ip from table(1) to any\n00010 0 0 deny ip from any to table(1)\n"),
		after:   ipfwAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls: []string{"ipfw show", ruleIn, ruleOut,
			"ipfw table 00001 list", "ipfw -q table 00001 add 203.0.113.7", "ipfw table 00001 list"},
		keys: `["203.0.113.7"]`,
	}, {
		name: "address already in the table: nothing added",
		answers: map[string]fakeAnswer{
			"ipfw show":             {out: ipfwShowRules},
			"ipfw table 00001 list": {out: ipfwListHead + "198.51.100.0/24 0\n203.0.113.7/32 0\n"},
		},
		calls: []string{"ipfw show", "ipfw table 00001 list"},
		keys:  `["203.0.113.7"]`, logs: []string{"Ended"},
	}, {
		name: "a covering block is not the address", srcip: "198.51.100.9",
		answers: map[string]fakeAnswer{
			"ipfw show":             {out: ipfwShowRules},
			"ipfw table 00001 list": {out: ipfwListHead + "198.51.100.0/24 0\n"},
		},
		after: ipfwAfterAdd("198.51.100.9", "198.51.100.0/24 0\n198.51.100.9/32"),
		calls: []string{"ipfw show", "ipfw table 00001 list", "ipfw -q table 00001 add 198.51.100.9", "ipfw table 00001 list"},
		keys:  `["198.51.100.9"]`,
	}, {
		name: "IPv6", srcip: "2001:db8:0:0:0:0:0:1",
		answers: ipfwAnswers(ipfwShowRules), after: ipfwAfterAdd("2001:db8::1", "2001:db8::1/128"),
		calls: []string{"ipfw show", "ipfw table 00001 list", "ipfw -q table 00001 add 2001:db8::1", "ipfw table 00001 list"},
		keys:  `["2001:db8::1"]`,
	}, {
		name: "IPv4-mapped IPv6", srcip: "::ffff:203.0.113.7",
		answers: ipfwAnswers(ipfwShowRules), after: ipfwAfterAdd("203.0.113.7", "203.0.113.7/32"),
		calls: []string{"ipfw show", "ipfw table 00001 list", "ipfw -q table 00001 add 203.0.113.7", "ipfw table 00001 list"},
		keys:  `["203.0.113.7"]`,
	}, {
		name: "a block", srcip: "198.51.100.0/24",
		answers: ipfwAnswers(ipfwShowRules), after: ipfwAfterAdd("198.51.100.0/24", "198.51.100.0/24"),
		calls: []string{"ipfw show", "ipfw table 00001 list", "ipfw -q table 00001 add 198.51.100.0/24", "ipfw table 00001 list"},
		keys:  `["198.51.100.0/24"]`,
	}, {
		name:    "not listed afterwards",
		answers: ipfwAnswers(ipfwShowRules),
		code:    ExitFailed,
		calls:   []string{"ipfw show", "ipfw table 00001 list", "ipfw -q table 00001 add 203.0.113.7", "ipfw table 00001 list"},
		keys:    `["203.0.113.7"]`,
		logs:    []string{"Unable to run active response: add: 203.0.113.7 is not in ipfw table 00001 after adding it"},
		nologs:  []string{"Ended"},
	}, {
		name:    "ipfw missing",
		answers: map[string]fakeAnswer{"ipfw": {err: platMissing("ipfw")}},
		code:    ExitFailed,
		calls:   []string{"ipfw show"},
		keys:    `["203.0.113.7"]`,
		logs:    []string{"Unable to run active response: add: ipfw: program not found"},
	}, {
		name: "rule that cannot be added",
		answers: map[string]fakeAnswer{
			"ipfw show":   {out: ipfwShowEmpty},
			"ipfw -q add": {err: platExit(ruleIn, "71", "ipfw: getsockopt(IP_FW_XADD): Protocol not available")},
		},
		code:  ExitFailed,
		calls: []string{"ipfw show", ruleIn},
		keys:  `["203.0.113.7"]`,
		logs:  []string{"Protocol not available"},
	}, {
		name: "delete", command: "delete",
		answers: map[string]fakeAnswer{"ipfw table 00001 list": {out: ipfwListHead + "203.0.113.7/32 0\n"}},
		calls:   []string{"ipfw table 00001 list", "ipfw -q table 00001 delete 203.0.113.7"},
		logs:    []string{"Ended"},
	}, {
		name: "delete IPv6", command: "delete", srcip: "2001:DB8::1",
		answers: map[string]fakeAnswer{"ipfw table 00001 list": {out: ipfwListHead + "2001:db8::1/128 0\n"}},
		calls:   []string{"ipfw table 00001 list", "ipfw -q table 00001 delete 2001:db8::1"},
	}, {
		name: "delete of an address not there", command: "delete",
		answers: map[string]fakeAnswer{"ipfw table 00001 list": {out: ipfwListHead + "203.0.113.8/32 0\n"}},
		calls:   []string{"ipfw table 00001 list"},
		logs:    []string{"Ended"},
	}, {
		name: "not on macOS", goos: "darwin",
		code: ExitFailed,
		keys: `["203.0.113.7"]`,
		logs: []string{`invalid system "darwin": ipfw runs on FreeBSD`},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { platCheck(t, ipfwAct, c) })
	}
}
