package ruleset_test

import (
	"strings"
	"testing"
)

func TestPAMLines(t *testing.T) {
	tests := []lineCase{
		{"Nov 27 10:00:00 bastion su[2001]: pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root", "pam", 5503, 5,
			map[string]string{"srcuser": "alice", "dstuser": "root"}},
		{"Nov 27 10:00:00 bastion sudo[900]: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice", "pam", 5503, 5,
			map[string]string{"srcuser": "alice", "dstuser": "alice"}},
		{"Nov 27 10:00:00 bastion login[700]: pam_unix(login:auth): authentication failure; logname=LOGIN uid=0 euid=0 tty=/dev/tty1 ruser= rhost=  user=bob", "pam", 5503, 5,
			map[string]string{"dstuser": "bob"}},
		{"2026-11-27T10:00:00+0000 ftp vsftpd[812]: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=carol rhost=198.51.100.23  user=carol", "pam", 5503, 5,
			map[string]string{"srcuser": "carol", "dstuser": "carol", "srcip": "198.51.100.23"}},
		// No user= when the account does not exist.
		{"Nov 27 10:00:00 mail dovecot[1]: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=ghost rhost=::ffff:203.0.113.9", "pam", 5503, 5,
			map[string]string{"srcuser": "ghost", "srcip": "::ffff:203.0.113.9"}},
		{"Nov 27 10:00:00 bastion login[700]: pam_unix(login:auth): check pass; user unknown", "pam", 5504, 5, nil},
		{"Nov 27 10:00:00 bastion su[2001]: pam_unix(su:session): session opened for user root(uid=0) by alice(uid=1000)", "pam", 0, 0, nil},
		{"Nov 27 10:00:04 bastion CRON[4242]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", "pam", 0, 0, nil},
		// sshd keeps its own pam_unix lines.
		{"Nov 27 10:00:00 bastion sshd[123]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=root", "sshd", 5716, 5,
			map[string]string{"srcip": "203.0.113.7", "dstuser": "root"}},
	}
	checkLines(t, load(t, nil), tests, "srcuser", "dstuser", "srcip")
}

func TestPAMCorrelation(t *testing.T) {
	const f = "Nov 27 10:00:00 ftp vsftpd[812]: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=u%d rhost=198.51.100.23  user=carol"
	tests := []freqCase{
		{"one source", repeat(8, f), 5551, "pam", "authentication_failures"},
		{"seven failures", repeat(7, f), 5503, "pam", ""},
		{"many sources", repeat(8, strings.Replace(f, "ruser=u%d rhost=198.51.100.23", "ruser=carol rhost=198.51.100.%d", 1)), 5503, "pam", ""},
		{"local failures", repeat(8, "Nov 27 10:00:00 bastion su[%d]: pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root"), 5503, "pam", ""},
	}
	checkFrequency(t, load(t, nil), tests)
}
