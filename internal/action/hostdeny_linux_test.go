package action

import (
	"os"
	"strings"
	"testing"
)

// TestHostDenyNamespace runs host-deny on the real path /etc/hosts.deny
// (Env.Root unset), in a mount namespace whose /etc is a copy.
func TestHostDenyNamespace(t *testing.T) {
	if os.Getenv(innerEnv) == "host-deny" {
		hostDenyInner(t)
		return
	}
	requireProgram(t, "cp")
	before, _ := os.ReadFile("/etc/hosts.deny")
	runInPrivateNS(t, "TestHostDenyNamespace", "host-deny")
	if after, _ := os.ReadFile("/etc/hosts.deny"); string(after) != string(before) {
		t.Fatal("the host's /etc/hosts.deny changed")
	}
	if _, err := os.Stat("/etc/.hosts.deny.riposte-lock"); err == nil {
		t.Fatal("lock file left in the host's /etc")
	}
}

func hostDenyInner(t *testing.T) {
	enterPrivateEtc(t)
	orig := hostsFixture(t, "hosts.deny")
	if err := os.WriteFile("/etc/hosts.deny", []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chmod("/etc/hosts.deny", 0o640)
	os.Chown("/etc/hosts.deny", 1234, 1234)
	act := newHostDeny(&Env{})
	if err := act.Add(t.Context(), inputForIP(t, "add", "1.2.3.4")); err != nil {
		t.Fatal(err)
	}
	if got := hostsRead(t, "/etc/hosts.deny"); got != orig+"ALL:1.2.3.4\n" {
		t.Fatalf("after add:\n%s", got)
	}
	if err := act.Delete(t.Context(), inputForIP(t, "delete", "1.2.3.4")); err != nil {
		t.Fatal(err)
	}
	if got := hostsRead(t, "/etc/hosts.deny"); got != orig {
		t.Fatalf("after delete:\n%s", got)
	}
	checkOwnerMode(t, "/etc/hosts.deny")
	ents, _ := os.ReadDir("/etc")
	for _, e := range ents {
		if strings.Contains(e.Name(), "riposte-") && e.Name() != ".hosts.deny.riposte-lock" {
			t.Errorf("left in /etc: %s", e.Name())
		}
	}
}
