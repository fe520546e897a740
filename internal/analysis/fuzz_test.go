package analysis

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func FuzzPredecode(f *testing.F) {
	for _, s := range []string{
		"Feb  9 11:44:56 someserver sshd[1234]: error: x",
		"2013-10-30T14:51:21.901728+01:00 srv sshd[12664]: Invalid user",
		"2020-03-23 06:47:42.801612-0700  localhost sshd[3186]: error",
		"[Fri Dec 13 06:59:54 2013] [error] x",
		"Jun 23 15:04:05 Info: imap-login: x",
		"Aug 18 07:30:25 h sshd[1]: [ID 800047 auth.notice] x",
		"", "Feb", "Feb  9 11:44:56", "Feb  9 11:44:56 ", "Feb  9 11:44:56 h p[",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		ev := Predecode("stdin", line)
		if ev.FullLog != line {
			t.Fatalf("FullLog changed")
		}
		if !strings.Contains(line, ev.Log) {
			t.Fatalf("Log %q is not part of %q", ev.Log, line)
		}
	})
}

func FuzzParseXML(f *testing.F) {
	for _, s := range []string{
		`<a><b x="1">t</b></a>`, `<a>\<</a>`, `<a><!-- c !></a>`, `<?xml version="1.0"?><a/><b/>`,
		`<a>E:\\</a>`, `<a`, `<a x=>`, `<a></b>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		nodes, err := parseXML(src)
		if err == nil && len(nodes) == 0 && strings.Contains(src, "<") && !strings.Contains(src, "<!--") && !strings.Contains(src, "<?") {
			t.Fatalf("no element and no error for %q", src)
		}
	})
}

func FuzzProcess(f *testing.F) {
	for _, s := range []string{
		"Dec 10 01:02:03 h sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2",
		"kv: a=1 b=2 c=3", "FW: src=1.2.3.4 dst=5.6.7.8", `{"a":{"b":[1,{"c":null}]}}`,
		"Dec 10 01:02:03 h sshd[1]: Own ", "kv: ", "{",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	for name, body := range map[string]string{"d.xml": testDecoders, "r.xml": templates +
		`<group name="f,"><rule id="100" level="3"><match>a</match><description>$(a) $(srcip) $(a.b)</description></rule></group>`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	e, err := Load(Options{Decoders: []string{filepath.Join(dir, "d.xml")}, Rules: []string{filepath.Join(dir, "r.xml")}})
	if err != nil {
		f.Fatal(err)
	}
	sess := NewSession()
	f.Fuzz(func(t *testing.T, line string) {
		res, err := e.Process(sess, "stdin", line)
		if err != nil {
			t.Fatal(err)
		}
		if res.Alert != nil && !json.Valid(res.Alert) {
			t.Fatalf("invalid alert JSON %s", res.Alert)
		}
	})
}

// FuzzPlugins runs every plugin decoder on arbitrary text: no panic, and
// what they decode renders as valid alert JSON.
func FuzzPlugins(f *testing.F) {
	for _, s := range []string{
		"rule 2/(match) pass in on xl0: 140.211.166.3.6667 > 192.168.2.10.16290: P 1:2(1)",
		`id=a sn=b time="x y" fw=1.2.3.4 pri=1 msg="m" src=1.2.3.4:1:X0 dst=::1 proto=tcp/22 usr="u`,
		"20070717,73556,1=5,100=Logoff due to timeout.,11=1.2.3.4,10=usera,3=1,2=2",
		"ossec: Alert Level: 3; Rule: 5715 - x.; Location: (a) b->c; srcip: 1.2.3.4; user: r; log",
		`{"a":[1,2],"b":{"c":null}}`, "rule ", "Alert Level: 1; ", "id= sn= fw=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, p := range plugins {
			ev := &Event{FullLog: s, Log: s, Location: "stdin"}
			if !p(ev, s) {
				continue
			}
			r := &Rule{ID: 1, Level: 3, Description: "d"}
			e := &Engine{}
			if b := e.alertDoc(ev, r, 1, time.Unix(0, 0), []*Event{ev}, "0.1"); !json.Valid(b) {
				t.Fatalf("%s: invalid alert JSON %s", name, b)
			}
		}
	})
}
