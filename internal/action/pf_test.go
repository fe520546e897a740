package action

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var pfAct = platAction{"pf", "freebsd", "active-response/bin/pf"}

const (
	pfEnabledInfo  = "Status: Enabled for 0 days 01:02:03           Debug: Urgent\n\nState Table                          Total             Rate\n"
	pfDisabledInfo = "Status: Disabled for 0 days 00:00:00          Debug: Urgent\n"
	pfUserConf     = "set skip on lo0\nblock in all\npass out all keep state\n"
)

// pfAnswers is a running pf in which addr is not in the table yet, and
// pfAfterAdd makes it match once "-T add" has run.
func pfAnswers(info, addr string) map[string]fakeAnswer {
	return map[string]fakeAnswer{
		"pfctl -s info":                          {out: info},
		"pfctl -t wazuh_fwtable -T test " + addr: {err: platExit("pfctl -t wazuh_fwtable -T test "+addr, "2", "0/1 addresses match.")},
	}
}

func pfAfterAdd(entry, addr string) map[string]map[string]fakeAnswer {
	return map[string]map[string]fakeAnswer{
		"pfctl -t wazuh_fwtable -T add " + entry: {"pfctl -t wazuh_fwtable -T test " + addr: {}},
	}
}

func TestPF(t *testing.T) {
	conf := map[string]string{"/etc/pf.conf": pfUserConf}
	appended := map[string]string{"/etc/pf.conf": pfUserConf + pfConfLines}
	addCalls := func(entry, test string, reload bool) []string {
		c := []string{"pfctl -s info"}
		if reload {
			c = append(c, "pfctl -f /etc/pf.conf")
		}
		return append(c,
			"pfctl -t wazuh_fwtable -T add "+entry,
			"pfctl -k "+entry,
			"pfctl -t wazuh_fwtable -T test "+test)
	}
	cases := []platCase{{
		name:    "add sets the table up and blocks",
		answers: pfAnswers(pfEnabledInfo, "203.0.113.7"), after: pfAfterAdd("203.0.113.7", "203.0.113.7"),
		files: conf,
		calls: addCalls("203.0.113.7", "203.0.113.7", true),
		keys:  `["203.0.113.7"]`, wantFiles: appended,
		logs:   []string{"Table <wazuh_fwtable> and its block rules appended to /etc/pf.conf and loaded", "Ended"},
		nologs: []string{"may not have an effect"},
	}, {
		name:    "table already in pf.conf, moved by the administrator",
		answers: pfAnswers(pfEnabledInfo, "203.0.113.7"), after: pfAfterAdd("203.0.113.7", "203.0.113.7"),
		files:     map[string]string{"/etc/pf.conf": "set skip on lo0\n" + pfConfLines + "block in all\n"},
		calls:     addCalls("203.0.113.7", "203.0.113.7", false),
		keys:      `["203.0.113.7"]`,
		wantFiles: map[string]string{"/etc/pf.conf": "set skip on lo0\n" + pfConfLines + "block in all\n"},
	}, {
		name:    "table only in a comment is not set up",
		answers: pfAnswers(pfEnabledInfo, "203.0.113.7"), after: pfAfterAdd("203.0.113.7", "203.0.113.7"),
		files: map[string]string{"/etc/pf.conf": "# table <wazuh_fwtable> persist\npass all"},
		calls: addCalls("203.0.113.7", "203.0.113.7", true),
		keys:  `["203.0.113.7"]`,
		// No final newline: one is added before the lines.
		wantFiles: map[string]string{"/etc/pf.conf": "# table <wazuh_fwtable> persist\npass all\n" + pfConfLines},
	}, {
		name:    "pf disabled: Wazuh's note, and the address is still added",
		answers: pfAnswers(pfDisabledInfo, "203.0.113.7"), after: pfAfterAdd("203.0.113.7", "203.0.113.7"),
		files: conf,
		calls: addCalls("203.0.113.7", "203.0.113.7", true),
		keys:  `["203.0.113.7"]`, wantFiles: appended,
		logs: []string{`{"message":"Active response may not have an effect","profile":"default","status":"inactive","script":"pf"}`},
	}, {
		name: "IPv6 is written canonically", srcip: "2001:DB8:0:0::1",
		answers: pfAnswers(pfEnabledInfo, "2001:db8::1"), after: pfAfterAdd("2001:db8::1", "2001:db8::1"),
		files: conf,
		calls: addCalls("2001:db8::1", "2001:db8::1", true),
		keys:  `["2001:db8::1"]`, wantFiles: appended,
	}, {
		name: "IPv4-mapped IPv6 is IPv4", srcip: "::ffff:203.0.113.7",
		answers: pfAnswers(pfEnabledInfo, "203.0.113.7"), after: pfAfterAdd("203.0.113.7", "203.0.113.7"),
		files: conf,
		calls: addCalls("203.0.113.7", "203.0.113.7", true),
		keys:  `["203.0.113.7"]`, wantFiles: appended,
	}, {
		name: "a block is added whole and tested by its first address", srcip: "198.51.100.0/24",
		answers: pfAnswers(pfEnabledInfo, "198.51.100.0"), after: pfAfterAdd("198.51.100.0/24", "198.51.100.0"),
		files: conf,
		calls: addCalls("198.51.100.0/24", "198.51.100.0", true),
		keys:  `["198.51.100.0/24"]`, wantFiles: appended,
	}, {
		name: "macOS", goos: "darwin",
		answers: pfAnswers(pfEnabledInfo, "203.0.113.7"), after: pfAfterAdd("203.0.113.7", "203.0.113.7"),
		files: conf,
		calls: addCalls("203.0.113.7", "203.0.113.7", true),
		keys:  `["203.0.113.7"]`, wantFiles: appended,
	}, {
		name:    "not in the table afterwards",
		answers: pfAnswers(pfEnabledInfo, "203.0.113.7"),
		files:   conf,
		code:    ExitFailed,
		calls:   addCalls("203.0.113.7", "203.0.113.7", true),
		keys:    `["203.0.113.7"]`, wantFiles: appended,
		logs:   []string{"Unable to run active response: add: 203.0.113.7 is not in pf table <wazuh_fwtable> after adding it"},
		nologs: []string{"Ended"},
	}, {
		name:    "pfctl missing",
		answers: map[string]fakeAnswer{"pfctl": {err: platMissing("pfctl")}},
		files:   conf,
		code:    ExitFailed,
		calls:   []string{"pfctl -s info"},
		keys:    `["203.0.113.7"]`, wantFiles: conf,
		logs: []string{"Unable to run active response: add: pfctl: program not found"},
	}, {
		name:      "pf.conf missing",
		answers:   pfAnswers(pfEnabledInfo, "203.0.113.7"),
		code:      ExitFailed,
		calls:     []string{"pfctl -s info"},
		keys:      `["203.0.113.7"]`,
		logs:      []string{"The pf rules file '/etc/pf.conf' does not exist"},
		wantFiles: map[string]string{"/etc/pf.conf": "(missing)"},
	}, {
		name: "pf.conf does not load: the lines are taken back",
		answers: map[string]fakeAnswer{
			"pfctl -s info":         {out: pfEnabledInfo},
			"pfctl -f /etc/pf.conf": {err: platExit("pfctl -f /etc/pf.conf", "1", "/etc/pf.conf:2: syntax error")},
		},
		files:     conf,
		code:      ExitFailed,
		calls:     []string{"pfctl -s info", "pfctl -f /etc/pf.conf"},
		keys:      `["203.0.113.7"]`,
		wantFiles: conf,
		logs:      []string{"load /etc/pf.conf with table <wazuh_fwtable> (lines taken back)"},
	}, {
		name: "states that cannot be killed are logged, the block stands",
		answers: map[string]fakeAnswer{
			"pfctl -s info":        {out: pfEnabledInfo},
			"pfctl -k 203.0.113.7": {err: platExit("pfctl -k 203.0.113.7", "1", "DIOCKILLSTATES: Operation not supported")},
		},
		files:     map[string]string{"/etc/pf.conf": pfConfLines},
		calls:     addCalls("203.0.113.7", "203.0.113.7", false),
		keys:      `["203.0.113.7"]`,
		logs:      []string{"Cannot kill the states of 203.0.113.7", "Ended"},
		wantFiles: map[string]string{"/etc/pf.conf": pfConfLines},
	}, {
		name: "delete", command: "delete",
		files:     conf,
		calls:     []string{"pfctl -t wazuh_fwtable -T delete 203.0.113.7"},
		wantFiles: conf,
		logs:      []string{"Ended"},
	}, {
		name: "delete IPv6", command: "delete", srcip: "2001:db8:0::1",
		calls: []string{"pfctl -t wazuh_fwtable -T delete 2001:db8::1"},
	}, {
		name: "delete without the table is fine", command: "delete",
		answers: map[string]fakeAnswer{
			"pfctl -t wazuh_fwtable -T delete": {err: platExit("pfctl -t wazuh_fwtable -T delete 203.0.113.7", "1", "pfctl: Table does not exist.")},
			"pfctl -t wazuh_fwtable -T test":   {err: platExit("pfctl -t wazuh_fwtable -T test 203.0.113.7", "1", "pfctl: Table does not exist.")},
		},
		calls: []string{"pfctl -t wazuh_fwtable -T delete 203.0.113.7", "pfctl -t wazuh_fwtable -T test 203.0.113.7"},
	}, {
		name: "delete that fails while the address still matches", command: "delete",
		answers: map[string]fakeAnswer{
			"pfctl -t wazuh_fwtable -T delete": {err: platExit("pfctl -t wazuh_fwtable -T delete 203.0.113.7", "1", "pfctl: Permission denied")},
		},
		code:  ExitFailed,
		calls: []string{"pfctl -t wazuh_fwtable -T delete 203.0.113.7", "pfctl -t wazuh_fwtable -T test 203.0.113.7"},
		logs:  []string{"Unable to run active response: delete: pfctl -t wazuh_fwtable -T delete 203.0.113.7: exit status 1: pfctl: Permission denied"},
	}, {
		name: "not on Linux", goos: "linux",
		files: conf,
		code:  ExitFailed,
		keys:  `["203.0.113.7"]`, wantFiles: conf,
		logs: []string{`invalid system "linux": pf runs on OpenBSD, FreeBSD and macOS`},
	}, {
		name: "Wazuh 5 message",
		msg: `{"wazuh":{"active_response":{"name":"block-ip","executable":"pf","type":"stateful","stateful_timeout":600,"extra_arguments":""},` +
			`"agent":{"id":"001","name":"host1"}},"source":{"ip":"203.0.113.7","port":0},"command":"enable"}`,
		answers: pfAnswers(pfEnabledInfo, "203.0.113.7"), after: pfAfterAdd("203.0.113.7", "203.0.113.7"),
		files: conf,
		calls: addCalls("203.0.113.7", "203.0.113.7", true),
		keys:  `["203.0.113.7"]`, wantFiles: appended,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { platCheck(t, pfAct, c) })
	}
}

// TestPFConfAppendedOnce: on macOS's own pf.conf, blocks and unblocks in a
// row append Wazuh's lines once and load pf.conf once; the file is
// testdata/bsd/pf.conf.darwin.want afterwards, mode unchanged.
func TestPFConfAppendedOnce(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("testdata", "bsd", "pf.conf.darwin"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "bsd", "pf.conf.darwin.want"))
	if err != nil {
		t.Fatal(err)
	}
	r := newPlatRunner(map[string]fakeAnswer{"pfctl -s info": {out: pfEnabledInfo}}, nil)
	log, _ := testLog(t)
	env := &Env{Program: pfAct.program, Log: log, Root: t.TempDir(), Exec: r, GOOS: "darwin"}
	conf := env.Path("/etc/pf.conf")
	platWrite(t, conf, string(orig))
	for _, step := range []struct{ command, ip string }{
		{"add", "203.0.113.7"}, {"add", "2001:db8::7"}, {"delete", "203.0.113.7"}, {"add", "203.0.113.7"},
	} {
		if code, _ := platRun(t, "pf", env, platMsg(step.command, pfAct.program, step.ip)); code != ExitOK {
			t.Fatalf("%s %s: exit %d", step.command, step.ip, code)
		}
	}
	if got := platRead(t, conf); got != string(want) {
		t.Errorf("pf.conf:\n%s\nwant:\n%s", got, want)
	}
	wantCalls := []string{
		"pfctl -s info", "pfctl -f /etc/pf.conf",
		"pfctl -t wazuh_fwtable -T add 203.0.113.7", "pfctl -k 203.0.113.7", "pfctl -t wazuh_fwtable -T test 203.0.113.7",
		"pfctl -s info",
		"pfctl -t wazuh_fwtable -T add 2001:db8::7", "pfctl -k 2001:db8::7", "pfctl -t wazuh_fwtable -T test 2001:db8::7",
		"pfctl -t wazuh_fwtable -T delete 203.0.113.7",
		"pfctl -s info",
		"pfctl -t wazuh_fwtable -T add 203.0.113.7", "pfctl -k 203.0.113.7", "pfctl -t wazuh_fwtable -T test 203.0.113.7",
	}
	if got := r.fake.argvs(); !slices.Equal(got, wantCalls) {
		t.Errorf("calls:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(wantCalls, "\n\t"))
	}
	if fi, err := os.Stat(conf); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("pf.conf mode changed: %v %v", fi.Mode(), err)
	}
}

func TestPFConfHasTable(t *testing.T) {
	for conf, want := range map[string]bool{
		"":                                  false,
		"pass all\n":                        false,
		"# block in from <wazuh_fwtable>\n": false,
		"table <wazuh_fwtable> persist #wazuh_fwtable\n":   true,
		"pass all\nblock in quick from <wazuh_fwtable>":    true,
		"anchor wazuh_fwtable\n":                           false,
		"table <wazuh_fwtable2> persist\n":                 false,
		"  block drop in quick from <wazuh_fwtable> # x\n": true,
	} {
		if got := pfConfHasTable([]byte(conf)); got != want {
			t.Errorf("pfConfHasTable(%q) = %v, want %v", conf, got, want)
		}
	}
}
