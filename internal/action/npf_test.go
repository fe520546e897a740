package action

import "testing"

var npfAct = platAction{"npf", "netbsd", "active-response/bin/npf"}

// npfShow is "npfctl show" of a filtering npf with the table and a rule
// using it.
const (
	npfShow        = "# filtering:\tactive\n# config:\tloaded\n#\n" + npfShowRuleset
	npfShowOff     = "# filtering:\tinactive\n# config:\tloaded\n#\n" + npfShowRuleset
	npfShowRuleset = "table <wazuh_blacklist> type lpm\n\n" +
		"group default {\n\tblock in final from <wazuh_blacklist>\n\tpass final all\n}\n"
)

// npfAnswers is npf with show's output and an empty table; npfAfterAdd
// lists and matches addr once "table add" has run.
func npfAnswers(show, addr string) map[string]fakeAnswer {
	return map[string]fakeAnswer{
		"npfctl show":                        {out: show},
		"npfctl table wazuh_blacklist list":  {out: ""},
		"npfctl table wazuh_blacklist test ": {err: platExit("npfctl table wazuh_blacklist test "+addr, "1", "npfctl: no matching entry was found")},
	}
}

func npfAfterAdd(entry, addr string) map[string]map[string]fakeAnswer {
	return map[string]map[string]fakeAnswer{
		"npfctl table wazuh_blacklist add " + entry: {
			"npfctl table wazuh_blacklist list":         {out: entry + "\n"},
			"npfctl table wazuh_blacklist test " + addr: {out: "npfctl: matching entry found\n"},
		},
	}
}

func TestNPF(t *testing.T) {
	addCalls := func(entry, addr string) []string {
		return []string{"npfctl show", "npfctl table wazuh_blacklist list",
			"npfctl table wazuh_blacklist add " + entry, "npfctl table wazuh_blacklist test " + addr}
	}
	cases := []platCase{{
		name:    "add",
		answers: npfAnswers(npfShow, "203.0.113.7"), after: npfAfterAdd("203.0.113.7", "203.0.113.7"),
		calls: addCalls("203.0.113.7", "203.0.113.7"),
		keys:  `["203.0.113.7"]`, logs: []string{"Ended"},
	}, {
		name: "IPv6", srcip: "2001:db8::0:1",
		answers: npfAnswers(npfShow, "2001:db8::1"), after: npfAfterAdd("2001:db8::1", "2001:db8::1"),
		calls: addCalls("2001:db8::1", "2001:db8::1"),
		keys:  `["2001:db8::1"]`,
	}, {
		name: "IPv4-mapped IPv6", srcip: "::ffff:203.0.113.7",
		answers: npfAnswers(npfShow, "203.0.113.7"), after: npfAfterAdd("203.0.113.7", "203.0.113.7"),
		calls: addCalls("203.0.113.7", "203.0.113.7"),
		keys:  `["203.0.113.7"]`,
	}, {
		name: "a block", srcip: "198.51.100.0/24",
		answers: npfAnswers(npfShow, "198.51.100.0"), after: npfAfterAdd("198.51.100.0/24", "198.51.100.0"),
		calls: addCalls("198.51.100.0/24", "198.51.100.0"),
		keys:  `["198.51.100.0/24"]`,
	}, {
		name: "already listed: nothing added",
		answers: map[string]fakeAnswer{
			"npfctl show":                       {out: npfShow},
			"npfctl table wazuh_blacklist list": {out: "198.51.100.0/24\n203.0.113.7/32\n"},
		},
		calls: []string{"npfctl show", "npfctl table wazuh_blacklist list", "npfctl table wazuh_blacklist test 203.0.113.7"},
		keys:  `["203.0.113.7"]`, logs: []string{"Ended"},
	}, {
		name:    "no match afterwards",
		answers: npfAnswers(npfShow, "203.0.113.7"),
		code:    ExitFailed,
		calls:   addCalls("203.0.113.7", "203.0.113.7"),
		keys:    `["203.0.113.7"]`,
		logs:    []string{"Unable to run active response: add: 203.0.113.7 does not match npf table <wazuh_blacklist> after adding it"},
		nologs:  []string{"Ended"},
	}, {
		name:    "filtering inactive",
		answers: npfAnswers(npfShowOff, "203.0.113.7"),
		code:    ExitFailed,
		calls:   []string{"npfctl show"},
		keys:    `["203.0.113.7"]`,
		logs:    []string{"The filter property is inactive", "npf is not filtering"},
	}, {
		name:    "no filtering line",
		answers: npfAnswers("table <wazuh_blacklist> type lpm\n", "203.0.113.7"),
		code:    ExitFailed,
		calls:   []string{"npfctl show"},
		keys:    `["203.0.113.7"]`,
		logs:    []string{"Unable to find 'filtering'"},
	}, {
		name:    "no table",
		answers: npfAnswers("# filtering:\tactive\n# config:\tloaded\ngroup default {\n\tpass final all\n}\n", "203.0.113.7"),
		code:    ExitFailed,
		calls:   []string{"npfctl show"},
		keys:    `["203.0.113.7"]`,
		logs: []string{"Unable to find 'table <wazuh_blacklist>'",
			"npf has no table <wazuh_blacklist>: add to /etc/npf.conf `table <wazuh_blacklist> type lpm`"},
	}, {
		name:    "npfctl missing",
		answers: map[string]fakeAnswer{"npfctl": {err: platMissing("npfctl")}},
		code:    ExitFailed,
		calls:   []string{"npfctl show"},
		keys:    `["203.0.113.7"]`,
		logs:    []string{"npfctl: program not found"},
	}, {
		name: "delete", command: "delete",
		answers: map[string]fakeAnswer{
			"npfctl show":                       {out: npfShow},
			"npfctl table wazuh_blacklist list": {out: "203.0.113.7/32\n"},
		},
		calls: []string{"npfctl show", "npfctl table wazuh_blacklist list", "npfctl table wazuh_blacklist del 203.0.113.7"},
		logs:  []string{"Ended"},
	}, {
		name: "delete while filtering is off", command: "delete",
		answers: map[string]fakeAnswer{
			"npfctl show":                       {out: npfShowOff},
			"npfctl table wazuh_blacklist list": {out: "203.0.113.7\n"},
		},
		calls: []string{"npfctl show", "npfctl table wazuh_blacklist list", "npfctl table wazuh_blacklist del 203.0.113.7"},
	}, {
		name: "delete of an address not listed", command: "delete",
		answers: map[string]fakeAnswer{"npfctl show": {out: npfShow}},
		calls:   []string{"npfctl show", "npfctl table wazuh_blacklist list"},
		logs:    []string{"Ended"},
	}, {
		name: "delete without the table", command: "delete",
		answers: map[string]fakeAnswer{"npfctl show": {out: "# filtering:\tactive\n"}},
		calls:   []string{"npfctl show"},
		logs:    []string{"Ended"},
	}, {
		name: "not on FreeBSD", goos: "freebsd",
		code: ExitFailed,
		keys: `["203.0.113.7"]`,
		logs: []string{`invalid system "freebsd": npf runs on NetBSD`},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { platCheck(t, npfAct, c) })
	}
}
