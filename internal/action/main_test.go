package action

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNameFromArgv0(t *testing.T) {
	for argv0, want := range map[string]string{
		"active-response/bin/firewall-drop":                          "firewall-drop",
		"/var/ossec/active-response/bin/host-deny":                   "host-deny",
		`C:\Program Files\ossec-agent\active-response\bin\netsh.exe`: "netsh.exe",
		"route-null.exe": "route-null.exe",
		"riposte-ar":     "",
		"riposte":        "",
		"firewall-drop2": "",
	} {
		if got := NameFromArgv0(argv0); got != want {
			t.Errorf("%q: %q, want %q", argv0, got, want)
		}
	}
}

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "riposte-ar")
	os.WriteFile(target, []byte("#!/bin/sh\n"), 0o755)
	// The operator's own host-deny must survive.
	os.WriteFile(filepath.Join(dir, "host-deny"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	if err := Install(dir, target); err != nil {
		t.Fatal(err)
	}
	if err := Install(dir, target); err != nil { // idempotent
		t.Fatalf("second install: %v", err)
	}
	for _, n := range Names() {
		p := filepath.Join(dir, n)
		if n == "host-deny" {
			if IsBuiltinLink(p) {
				t.Error("operator's host-deny replaced or taken for a built-in")
			}
			continue
		}
		if got, err := os.Readlink(p); err != nil || got != target {
			t.Errorf("%s -> %q %v", n, got, err)
		}
		if !IsBuiltinLink(p) {
			t.Errorf("%s not seen as built-in", n)
		}
	}
	if !IsBuiltinLink(filepath.Join(dir, "absent")) {
		t.Error("absent file must let the built-in run")
	}
	other := filepath.Join(dir, "custom")
	os.Symlink("/usr/local/bin/my-script", other)
	if IsBuiltinLink(other) {
		t.Error("a link to the operator's script taken for a built-in")
	}
}

func TestInstallDir(t *testing.T) {
	if got := InstallDir("/var/ossec/active-response/bin/firewall-drop"); got != "/var/ossec" {
		t.Errorf("got %q", got)
	}
}
