package osregex

import "testing"

var benchLines = struct{ sshdFail, sshdOK, apache, audit string }{
	sshdFail: "Failed password for root from 192.168.10.34 port 51234 ssh2",
	sshdOK:   "Accepted publickey for deploy from 10.1.2.3 port 40022 ssh2: RSA SHA256:abcdefghijklmnopqrstuvwxyz",
	apache:   `192.168.2.20 - - [28/Jul/2006:10:27:10 -0300] "GET /cgi-bin/try/ HTTP/1.0" 200 3395`,
	audit:    `type=SYSCALL msg=audit(1479982525.380:50): arch=c000003e syscall=2 success=yes exit=3 a0=7ffedc40d83b a1=941 a2=1b6 a3=7ffedc40cce0 items=2 ppid=432 pid=3333 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=2 comm="touch" exe="/bin/touch" key="audit-wazuh-w"`,
}

// BenchmarkRegex measures decoder- and rule-style OS_Regex patterns on
// matching and non-matching lines.
func BenchmarkRegex(b *testing.B) {
	cases := []struct {
		name, pattern, line string
		capture             bool
	}{
		{"anchored-captures/match", `^Failed \S+ for (\S+) from (\S+) port \d+ ssh2`, benchLines.sshdFail, true},
		{"anchored-captures/miss", `^Failed \S+ for (\S+) from (\S+) port \d+ ssh2`, benchLines.sshdOK, true},
		{"anchored-prematch/match", `^sshd[\d+]: `, "sshd[1234]: Failed password for root", false},
		{"anchored-prematch/miss", `^sshd[\d+]: `, benchLines.apache, false},
		{"unanchored-literal/match", `for (\S+) from (\S+) port (\d+)`, benchLines.sshdOK, true},
		{"unanchored-literal/miss", `user (\S+) from (\S+)`, benchLines.audit, true},
		{"unanchored-class/match", `(\d+.\d+.\d+.\d+) - (\S+) [\S+ \S+] "(\w+) (\S+) HTTP\S+ (\d+) `, benchLines.apache, true},
		{"after-regex/audit", `comm=\p*(\w+)\p*`, benchLines.audit, true},
		{"alternatives/miss", `^Invalid user|^Failed none|^error: PAM: (\S+)|^Did not receive`, benchLines.sshdOK, false},
		{"end-anchored/miss", `\s(\d+)$`, benchLines.audit, false},
	}
	for _, c := range cases {
		re := MustCompile(c.pattern)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.line)))
			if c.capture {
				var dst []string
				for i := 0; i < b.N; i++ {
					_, dst, _ = re.ExecuteAppend(dst[:0], c.line)
				}
				return
			}
			for i := 0; i < b.N; i++ {
				re.Match(c.line)
			}
		})
	}
}

// BenchmarkMatch measures rule-style OS_Match patterns.
func BenchmarkMatch(b *testing.B) {
	cases := []struct{ name, pattern, line string }{
		{"substring/match", "Failed password", benchLines.sshdFail},
		{"substring/miss", "authentication failure", benchLines.audit},
		{"alternatives/miss", "illegal user|invalid user|Failed none|error: Could not get shadow|reverse mapping checking", benchLines.sshdOK},
		{"prefix/miss", "^type=SYSCALL|^type=EXECVE", benchLines.apache},
		{"suffix/match", "ssh2$", benchLines.sshdFail},
		{"negated", "!audit-wazuh-x", benchLines.audit},
	}
	for _, c := range cases {
		m := MustCompileMatch(c.pattern)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.line)))
			for i := 0; i < b.N; i++ {
				m.Match(c.line)
			}
		})
	}
}
