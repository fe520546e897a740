package ruleset_test

import "testing"

func TestSuLines(t *testing.T) {
	const h = "Nov 27 10:00:00 bastion su[2001]: "
	tests := []lineCase{
		{h + "(to root) alice on pts/0", "su", 5303, 3,
			map[string]string{"srcuser": "alice", "dstuser": "root", "tty": "pts/0"}},
		{"2026-11-27T10:00:00.5+01:00 bastion su[2001]: (to postgres) alice on pts/1", "su", 5304, 3,
			map[string]string{"srcuser": "alice", "dstuser": "postgres", "tty": "pts/1"}},
		{h + "FAILED SU (to root) alice on pts/0", "su", 5302, 9,
			map[string]string{"srcuser": "alice", "dstuser": "root", "tty": "pts/0"}},
		{h + "FAILED SU (to postgres) alice on pts/0", "su", 5301, 5,
			map[string]string{"srcuser": "alice", "dstuser": "postgres"}},
		{h + "Successful su for root by alice", "su", 5303, 3,
			map[string]string{"srcuser": "alice", "dstuser": "root"}},
		{h + "Successful su for www-data by alice", "su", 5304, 3,
			map[string]string{"srcuser": "alice", "dstuser": "www-data"}},
		{h + "FAILED su for root by mallory", "su", 5302, 9,
			map[string]string{"srcuser": "mallory", "dstuser": "root"}},
		{h + "FAILED su for bob by mallory", "su", 5301, 5,
			map[string]string{"srcuser": "mallory", "dstuser": "bob"}},
		{h + "+ /dev/pts/0 alice:root", "su", 5303, 3,
			map[string]string{"srcuser": "alice", "dstuser": "root", "tty": "/dev/pts/0"}},
		{h + "- /dev/pts/0 mallory:root", "su", 5302, 9,
			map[string]string{"srcuser": "mallory", "dstuser": "root", "tty": "/dev/pts/0"}},
		{h + "- /dev/pts/0 mallory:bob", "su", 5301, 5,
			map[string]string{"srcuser": "mallory", "dstuser": "bob"}},
		// su's pam_unix lines are PAM's.
		{h + "pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root", "pam", 5503, 5,
			map[string]string{"srcuser": "alice", "dstuser": "root"}},
		{h + "pam_unix(su:session): session closed for user root", "pam", 0, 0, nil},
		{"Nov 27 10:00:00 bastion sulogin[1]: (to root) alice on pts/0", "", 0, 0, nil},
	}
	checkLines(t, load(t, nil), tests, "srcuser", "dstuser")
}
