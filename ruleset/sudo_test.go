package ruleset_test

import "testing"

func TestSudoLines(t *testing.T) {
	const h = "Nov 27 10:00:00 bastion sudo[900]: "
	const iso = "2026-11-27T10:00:00+0000 bastion sudo[900]: "
	tests := []lineCase{
		{h + "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx", "sudo", 5402, 3,
			map[string]string{"srcuser": "alice", "dstuser": "root", "tty": "pts/0", "pwd": "/home/alice", "command": "/usr/bin/systemctl restart nginx"}},
		{iso + "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id", "sudo", 5402, 3,
			map[string]string{"srcuser": "alice", "dstuser": "root", "command": "/usr/bin/id"}},
		{h + "   alice : TTY=pts/0 ; PWD=/srv ; USER=postgres ; COMMAND=/usr/bin/psql", "sudo", 5407, 3,
			map[string]string{"srcuser": "alice", "dstuser": "postgres", "command": "/usr/bin/psql"}},
		// Newer sudo puts TSID= between USER= and COMMAND=, and may log ENV=.
		{h + "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; TSID=000001 ; COMMAND=/bin/ls", "sudo", 5402, 3,
			map[string]string{"srcuser": "alice", "dstuser": "root", "command": "/bin/ls"}},
		{h + "   alice : 1 incorrect password attempt ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id", "sudo", 5401, 5,
			map[string]string{"srcuser": "alice", "dstuser": "root"}},
		{h + "   alice : 2 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id", "sudo", 5401, 5,
			map[string]string{"srcuser": "alice", "dstuser": "root"}},
		{h + "   alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id", "sudo", 5404, 10,
			map[string]string{"srcuser": "alice", "dstuser": "root"}},
		{h + "     mallory : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh", "sudo", 5405, 5,
			map[string]string{"srcuser": "mallory", "dstuser": "root", "command": "/bin/sh"}},
		{h + "   bob : command not allowed ; TTY=pts/2 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/bash", "sudo", 5406, 5,
			map[string]string{"srcuser": "bob", "dstuser": "root"}},
		// The command line cannot choose the target user.
		{h + "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=www-data ; COMMAND=/bin/echo ; USER=root ; x", "sudo", 5407, 3,
			map[string]string{"srcuser": "alice", "dstuser": "www-data", "command": "/bin/echo ; USER=root ; x"}},
		// Lines without a command: decoded, no rule.
		{h + "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)", "pam", 0, 0, nil},
		{h + "Failed password for root from 203.0.113.7 port 1 ssh2", "sudo", 0, 0, nil},
		// Another program writing the same text is not sudo.
		{"Nov 27 10:00:00 bastion sudoedit-helper[1]: alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id", "", 0, 0, nil},
	}
	checkLines(t, load(t, nil), tests, "srcuser", "dstuser")
}
