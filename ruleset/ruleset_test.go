package ruleset_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/analysis"
	"github.com/riposte/riposte/internal/collect"
	"github.com/riposte/riposte/ruleset"
)

// load writes the embedded ruleset to a temporary directory and loads it.
func load(tb testing.TB, clock func() time.Time) *analysis.Engine {
	tb.Helper()
	dir := tb.TempDir()
	if err := ruleset.WriteTo(dir); err != nil {
		tb.Fatal(err)
	}
	e, err := analysis.Load(analysis.Options{
		Decoders:      []string{filepath.Join(dir, ruleset.DecodersDir)},
		Rules:         []string{filepath.Join(dir, ruleset.RulesDir)},
		ManagerName:   "mgr",
		MinAlertLevel: 3,
		Clock:         clock,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if w := e.Warnings(); len(w) > 0 {
		tb.Fatalf("load warnings:\n%s", strings.Join(w, "\n"))
	}
	return e
}

func TestFS(t *testing.T) {
	var got []string
	err := fs.WalkDir(ruleset.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"decoders/0010-riposte-sshd.xml",
		"rules/0010-riposte-base.xml",
		"rules/0095-riposte-sshd.xml",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("FS lacks %s (has %v)", want, got)
		}
	}
}

func TestLoad(t *testing.T) {
	e := load(t, nil)
	if e.NumDecoders() < 2 {
		t.Errorf("%d decoders", e.NumDecoders())
	}
	for _, id := range []int{1, 5700, 5710, 5712, 5715, 5716, 5720, 5758, 5760, 5763} {
		if e.Rule(id) == nil {
			t.Errorf("rule %d missing", id)
		}
	}
}

// header is the syslog header of the test lines; the journal's
// short-iso form is checked too.
const (
	header    = "Nov 27 10:00:00 bastion sshd[123]: "
	isoHeader = "2026-11-27T10:00:00+0000 bastion sshd[123]: "
	isoHdrCol = "2026-11-27T10:00:00.123456+01:00 bastion sshd-session[123]: "
)

func TestSSHDLines(t *testing.T) {
	tests := []struct {
		msg    string
		rule   int // 0: no rule
		level  int
		fields map[string]string
	}{
		{"Failed password for invalid user admin from 203.0.113.7 port 40002 ssh2", 5710, 5,
			map[string]string{"srcuser": "admin", "srcip": "203.0.113.7", "srcport": "40002"}},
		{"Failed password for root from 203.0.113.7 port 40001 ssh2", 5760, 5,
			map[string]string{"dstuser": "root", "srcip": "203.0.113.7", "srcport": "40001"}},
		{"Failed publickey for root from 203.0.113.7 port 40001 ssh2: RSA SHA256:abc", 5716, 5,
			map[string]string{"dstuser": "root", "srcip": "203.0.113.7", "srcport": "40001"}},
		{"Failed keyboard-interactive/pam for root from 2001:db8::7 port 40001 ssh2", 5760, 5,
			map[string]string{"dstuser": "root", "srcip": "2001:db8::7", "srcport": "40001"}},
		{"Invalid user oracle from 198.51.100.9 port 51234", 5710, 5,
			map[string]string{"srcuser": "oracle", "srcip": "198.51.100.9", "srcport": "51234"}},
		{"Invalid user oracle from 198.51.100.9", 5710, 5,
			map[string]string{"srcuser": "oracle", "srcip": "198.51.100.9"}},
		{"Accepted password for alice from 192.0.2.10 port 50514 ssh2", 5715, 3,
			map[string]string{"dstuser": "alice", "srcip": "192.0.2.10", "srcport": "50514"}},
		{"Accepted publickey for alice from 192.0.2.10 port 50514 ssh2: ED25519 SHA256:Xyz", 5715, 3,
			map[string]string{"dstuser": "alice", "srcip": "192.0.2.10", "srcport": "50514"}},
		{"Connection closed by authenticating user root 203.0.113.7 port 40001 [preauth]", 0, 0,
			map[string]string{"dstuser": "root", "srcip": "203.0.113.7", "srcport": "40001"}},
		{"Disconnected from invalid user admin 203.0.113.7 port 40002 [preauth]", 0, 0,
			map[string]string{"srcuser": "admin", "srcip": "203.0.113.7", "srcport": "40002"}},
		{"Connection closed by invalid user admin 203.0.113.7 port 40002 [preauth]", 0, 0,
			map[string]string{"srcuser": "admin", "srcip": "203.0.113.7", "srcport": "40002"}},
		{"Connection closed by 203.0.113.8 port 40003 [preauth]", 0, 0,
			map[string]string{"srcip": "203.0.113.8", "srcport": "40003"}},
		{"error: maximum authentication attempts exceeded for root from 203.0.113.7 port 40001 ssh2 [preauth]", 5758, 8,
			map[string]string{"dstuser": "root", "srcip": "203.0.113.7", "srcport": "40001"}},
		{"error: maximum authentication attempts exceeded for invalid user admin from 203.0.113.7 port 40002 ssh2 [preauth]", 5758, 8,
			map[string]string{"srcuser": "admin", "srcip": "203.0.113.7", "srcport": "40002"}},
		{"Received disconnect from 203.0.113.7 port 40001:11: Bye Bye [preauth]", 0, 0,
			map[string]string{"srcip": "203.0.113.7", "srcport": "40001"}},
		{"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=root", 5716, 5,
			map[string]string{"srcip": "203.0.113.7", "dstuser": "root"}},
		{"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7", 5716, 5,
			map[string]string{"srcip": "203.0.113.7"}},
		{"Server listening on 0.0.0.0 port 22.", 0, 0, nil},
		{"error: PAM: Authentication failure for root from 203.0.113.7", 5716, 5,
			map[string]string{"dstuser": "root", "srcip": "203.0.113.7"}},
		{"error: PAM: Authentication failure for illegal user a b from 203.0.113.7", 5716, 5,
			map[string]string{"srcuser": "a b", "srcip": "203.0.113.7"}},
		// Client-chosen user names must not choose the source address.
		{"Invalid user x from 10.0.0.1 port 22 from 203.0.113.7 port 40000", 5710, 5,
			map[string]string{"srcuser": "x from 10.0.0.1 port 22", "srcip": "203.0.113.7", "srcport": "40000"}},
		{"Invalid user x from 10.0.0.1 from 203.0.113.7", 5710, 5,
			map[string]string{"srcuser": "x from 10.0.0.1", "srcip": "203.0.113.7"}},
		{"Failed password for invalid user x from 10.0.0.1 port 22 ssh2 from 203.0.113.7 port 40000 ssh2", 5710, 5,
			map[string]string{"srcuser": "x from 10.0.0.1 port 22 ssh2", "srcip": "203.0.113.7", "srcport": "40000"}},
		{"Failed publickey for invalid user a b from 203.0.113.7 port 40001 ssh2: RSA SHA256:abc", 5710, 5,
			map[string]string{"srcuser": "a b", "srcip": "203.0.113.7", "srcport": "40001"}},
		{"error: maximum authentication attempts exceeded for invalid user y from 10.0.0.1 port 1 ssh2 from 203.0.113.7 port 40002 ssh2 [preauth]", 5758, 8,
			map[string]string{"srcuser": "y from 10.0.0.1 port 1 ssh2", "srcip": "203.0.113.7", "srcport": "40002"}},
		{"Disconnected from invalid user x 10.0.0.1 port 22 203.0.113.7 port 40002 [preauth]", 0, 0,
			map[string]string{"srcuser": "x 10.0.0.1 port 22", "srcip": "203.0.113.7", "srcport": "40002"}},
	}
	e := load(t, nil)
	for _, hdr := range []string{header, isoHeader, isoHdrCol} {
		for _, tt := range tests {
			line := hdr + tt.msg
			t.Run(line, func(t *testing.T) {
				res, err := e.Process(analysis.NewSession(), "journald", line)
				if err != nil {
					t.Fatal(err)
				}
				if res.Decoder != "sshd" {
					t.Fatalf("decoder %q, want sshd", res.Decoder)
				}
				id, level := 0, 0
				if res.Rule != nil {
					id, level = res.Rule.ID, res.Rule.Level
				}
				if id != tt.rule || level != tt.level {
					t.Errorf("rule %d level %d, want %d level %d", id, level, tt.rule, tt.level)
				}
				for k, want := range tt.fields {
					if got, _ := res.Event.Get(k); got != want {
						t.Errorf("%s = %q, want %q", k, got, want)
					}
				}
				for _, k := range []string{"srcuser", "dstuser"} {
					if _, ok := tt.fields[k]; ok {
						continue
					}
					if got, ok := res.Event.Get(k); ok {
						t.Errorf("unexpected %s = %q", k, got)
					}
				}
				if tt.rule != 0 && tt.level >= 3 && res.Alert == nil {
					t.Error("no alert document")
				}
			})
		}
	}
}

// TestJournalEntries runs entries as the journal reader delivers them.
func TestJournalEntries(t *testing.T) {
	e := load(t, nil)
	sess := analysis.NewSession()
	var res *analysis.Result
	for i := range 8 {
		// sshd-session, and the message as an array of bytes once.
		msg := fmt.Sprintf("%q", fmt.Sprintf("Failed password for root from 203.0.113.7 port %d ssh2", 40000+i))
		if i == 3 {
			b, _ := json.Marshal([]int{70, 97, 105, 108, 101, 100, 32, 112, 97, 115, 115, 119, 111, 114, 100, 32, 102, 111, 114, 32, 114, 111, 111, 116, 32, 102, 114, 111, 109, 32, 50, 48, 51, 46, 48, 46, 49, 49, 51, 46, 55, 32, 112, 111, 114, 116, 32, 49, 32, 115, 115, 104, 50})
			msg = string(b)
		}
		line := `{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1795773600000000","_HOSTNAME":"bastion","SYSLOG_IDENTIFIER":"sshd-session","_PID":"77","MESSAGE":` + msg + `}`
		je, err := collect.ParseJournalEntry([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if res, err = e.Process(sess, "journald", je.SyslogLine()); err != nil {
			t.Fatal(err)
		}
		if res.Decoder != "sshd" || res.Rule == nil {
			t.Fatalf("entry %d %q: decoder %q rule %v", i+1, je.SyslogLine(), res.Decoder, res.Rule)
		}
	}
	if res.Rule.ID != 5763 || res.Event.Hostname != "bastion" {
		t.Errorf("rule %d host %q, want 5763 bastion", res.Rule.ID, res.Event.Hostname)
	}
}

func TestOtherProgramNotSSHD(t *testing.T) {
	e := load(t, nil)
	res, err := e.Process(analysis.NewSession(), "journald", "Nov 27 10:00:00 bastion sudo[9]: Failed password for root from 203.0.113.7 port 1 ssh2")
	if err != nil {
		t.Fatal(err)
	}
	if res.Decoder == "sshd" || res.Rule != nil {
		t.Errorf("decoder %q rule %v", res.Decoder, res.Rule)
	}
}

// alertData is the part of an alert document the tests look at.
type alertData struct {
	Rule struct {
		ID     string   `json:"id"`
		Level  int      `json:"level"`
		Groups []string `json:"groups"`
	} `json:"rule"`
	Data struct {
		SrcIP string `json:"srcip"`
	} `json:"data"`
	Decoder struct {
		Name string `json:"name"`
	} `json:"decoder"`
}

// run feeds lines to one session and returns the last result.
func run(t *testing.T, e *analysis.Engine, lines []string) *analysis.Result {
	t.Helper()
	sess := analysis.NewSession()
	var res *analysis.Result
	for i, l := range lines {
		var err error
		if res, err = e.Process(sess, "journald", l); err != nil {
			t.Fatal(err)
		}
		if i < len(lines)-1 && res.Rule != nil && res.Rule.Level >= 10 {
			t.Fatalf("line %d already fired rule %d", i+1, res.Rule.ID)
		}
	}
	return res
}

func repeat(n int, format string) []string {
	var l []string
	for i := range n {
		l = append(l, fmt.Sprintf(format, i+1))
	}
	return l
}

func TestCorrelation(t *testing.T) {
	sshd := func(name string, lines []string, rule int) freqCase {
		return freqCase{name: name, lines: lines, rule: rule, decoder: "sshd", group: "authentication_failures"}
	}
	e := load(t, nil)
	for _, id := range []int{5712, 5720, 5763} {
		if r := e.Rule(id); r == nil || r.Level != 10 {
			t.Errorf("rule %d: %+v, want level 10", id, r)
		}
	}
	checkFrequency(t, e, []freqCase{
		sshd("failed passwords one source", repeat(8, header+"Failed password for root from 203.0.113.7 port 4000%d ssh2"), 5763),
		sshd("failed passwords many sources", repeat(8, header+"Failed password for root from 203.0.113.%d port 40000 ssh2"), 5760),
		sshd("seven failed passwords", repeat(7, header+"Failed password for root from 203.0.113.7 port 4000%d ssh2"), 5760),
		sshd("invalid users one source", repeat(8, header+"Invalid user user%d from 198.51.100.9 port 51234"), 5712),
		sshd("invalid users many sources", repeat(8, header+"Invalid user admin from 198.51.100.%d port 51234"), 5710),
		sshd("failed passwords invalid users", repeat(8, header+"Failed password for invalid user u%d from 198.51.100.9 port 5 ssh2"), 5712),
		sshd("publickey failures one source", repeat(8, header+"Failed publickey for root from 203.0.113.7 port 4000%d ssh2"), 5720),
		sshd("pam failures one source", repeat(8, header+"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=u%d"), 5720),
	})
}

func TestTimeframe(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	e := load(t, func() time.Time { return now })
	sess := analysis.NewSession()
	line := header + "Failed password for root from 203.0.113.7 port 40001 ssh2"
	for i := range 8 {
		res, err := e.Process(sess, "journald", line)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rule.ID != 5760 {
			t.Fatalf("event %d: rule %d, spaced 30s apart", i+1, res.Rule.ID)
		}
		now = now.Add(30 * time.Second)
	}
}

// corpus is a mix of sshd traffic and unrelated noise.
var corpus = []string{
	"Nov 27 10:00:00 bastion sshd[123]: Failed password for root from 203.0.113.7 port 40001 ssh2",
	"Nov 27 10:00:00 bastion sshd[123]: Invalid user oracle from 198.51.100.9 port 51234",
	"Nov 27 10:00:01 bastion sshd[123]: Failed password for invalid user oracle from 198.51.100.9 port 51234 ssh2",
	"Nov 27 10:00:01 bastion sshd[123]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=root",
	"Nov 27 10:00:02 bastion sshd[123]: Accepted publickey for alice from 192.0.2.10 port 50514 ssh2: ED25519 SHA256:Xyz",
	"Nov 27 10:00:02 bastion sshd[123]: Received disconnect from 203.0.113.7 port 40001:11: Bye Bye [preauth]",
	"Nov 27 10:00:03 bastion sshd[123]: Connection closed by authenticating user root 203.0.113.7 port 40001 [preauth]",
	"Nov 27 10:00:03 bastion sshd[123]: Disconnected from invalid user oracle 198.51.100.9 port 51234 [preauth]",
	"Nov 27 10:00:04 bastion sshd[123]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
	"Nov 27 10:00:04 bastion CRON[4242]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
	"Nov 27 10:00:05 bastion systemd[1]: Started session-42.scope - Session 42 of User alice.",
	"Nov 27 10:00:05 bastion kernel: [12345.678] IN=eth0 OUT= MAC=00:11 SRC=203.0.113.7 DST=192.0.2.1 PROTO=TCP DPT=23",
	"Nov 27 10:00:06 bastion systemd-logind[512]: New session 42 of user alice.",
	"Nov 27 10:00:06 bastion dhclient[700]: DHCPACK of 192.0.2.1 from 192.0.2.254",
	"Nov 27 10:00:07 bastion sudo[900]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/true",
	"Nov 27 10:00:07 bastion postfix/smtpd[1000]: connect from unknown[203.0.113.50]",
}

func BenchmarkDefaultRuleset(b *testing.B) {
	e := load(b, nil)
	sess := analysis.NewSession()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := e.Process(sess, "journald", corpus[n%len(corpus)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}
