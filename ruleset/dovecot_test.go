package ruleset_test

import "testing"

func TestDovecotLines(t *testing.T) {
	const h = "Nov 27 10:00:00 mail dovecot[800]: "
	tests := []lineCase{
		{h + "imap-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.10, lip=192.0.2.1, mpid=4242, TLS, session=<bY3x1N8F>", "dovecot", 9701, 3,
			map[string]string{"dstuser": "alice", "srcip": "192.0.2.10", "dstip": "192.0.2.1"}},
		{h + "imap-login: Disconnected (auth failed, 3 attempts in 15 secs): user=<alice>, method=PLAIN, rip=203.0.113.60, lip=192.0.2.1, TLS, session=<bY3x1N8F>", "dovecot", 9702, 5,
			map[string]string{"dstuser": "alice", "srcip": "203.0.113.60", "dstip": "192.0.2.1"}},
		{"2026-11-27T10:00:00+0000 mail dovecot[800]: pop3-login: Aborted login (auth failed, 1 attempts in 2 secs): user=<bob>, method=PLAIN, rip=2001:db8::60, lip=2001:db8::1, session=<x>", "dovecot", 9702, 5,
			map[string]string{"dstuser": "bob", "srcip": "2001:db8::60", "dstip": "2001:db8::1"}},
		{h + "auth: passwd-file(alice,203.0.113.60,<bY3x1N8F>): Password mismatch", "dovecot", 9702, 5,
			map[string]string{"dstuser": "alice", "srcip": "203.0.113.60"}},
		{h + "auth-worker(912): pam(alice,203.0.113.60,<bY3x1N8F>): pam_authenticate() failed: Authentication failure (Password mismatch?)", "dovecot", 9702, 5,
			map[string]string{"dstuser": "alice", "srcip": "203.0.113.60"}},
		{h + "auth: sql(ghost,203.0.113.61,<bY3x1N8F>): unknown user", "dovecot", 9705, 5,
			map[string]string{"dstuser": "ghost", "srcip": "203.0.113.61"}},
		{h + "auth-worker(912): pam(ghost,203.0.113.61): unknown user", "dovecot", 9705, 5,
			map[string]string{"dstuser": "ghost", "srcip": "203.0.113.61"}},
		// The user name cannot choose the source address.
		{h + "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, rip=6.6.6.6, lip=1.1.1.1, y>, method=PLAIN, rip=203.0.113.62, lip=192.0.2.1, session=<z>", "dovecot", 9702, 5,
			map[string]string{"dstuser": "x>, method=PLAIN, rip=6.6.6.6, lip=1.1.1.1, y", "srcip": "203.0.113.62", "dstip": "192.0.2.1"}},
		{h + "imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=203.0.113.63, lip=192.0.2.1, session=<z>", "dovecot", 0, 0, nil},
		{h + "master: Dovecot v2.3.21 (47349e2482) starting up for imap, pop3", "dovecot", 0, 0, nil},
		// Dovecot's pam_unix lines are PAM's.
		{"Nov 27 10:00:00 mail dovecot[800]: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=alice rhost=203.0.113.60  user=alice", "pam", 5503, 5,
			map[string]string{"srcip": "203.0.113.60", "dstuser": "alice"}},
	}
	checkLines(t, load(t, nil), tests, "dstuser", "srcip")
}

func TestDovecotCorrelation(t *testing.T) {
	const h = "Nov 27 10:00:00 mail dovecot[800]: "
	tests := []freqCase{
		{"failures one source", repeat(8, h+"auth: passwd-file(u%d,203.0.113.60,<s>): Password mismatch"), 9750, "dovecot", "authentication_failures"},
		{"login failures one source", repeat(8, h+"imap-login: Disconnected (auth failed, %d attempts in 9 secs): user=<alice>, method=PLAIN, rip=203.0.113.60, lip=192.0.2.1, TLS, session=<s>"), 9750, "dovecot", "authentication_failures"},
		{"seven failures", repeat(7, h+"auth: passwd-file(u%d,203.0.113.60,<s>): Password mismatch"), 9702, "dovecot", ""},
		{"failures many sources", repeat(8, h+"auth: passwd-file(alice,203.0.113.%d,<s>): Password mismatch"), 9702, "dovecot", ""},
		{"unknown users one source", repeat(8, h+"auth: sql(u%d,203.0.113.61,<s>): unknown user"), 9751, "dovecot", "authentication_failures"},
		{"unknown users many sources", repeat(8, h+"auth: sql(ghost,203.0.113.%d,<s>): unknown user"), 9705, "dovecot", ""},
	}
	checkFrequency(t, load(t, nil), tests)
}
