package fleet

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestValidateAgentID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"000", true}, {"001", true}, {"12345678", true},
		{"", false}, {"01", false}, {"123456789", false}, {"00a", false}, {"0.1", false}, {"*", false}, {"001>", false},
	} {
		err := ValidateAgentID(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateAgentID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrAgentID) {
			t.Errorf("ValidateAgentID(%q) = %v, want ErrAgentID", tc.id, err)
		}
	}
}

func TestPermissions(t *testing.T) {
	s := Subjects{}
	pub, sub := s.AgentPermissions("007")
	want := map[string]bool{"riposte.result.007": true, "riposte.hb.007": true, "riposte.events.007": true}
	if len(pub) != len(want) {
		t.Fatalf("publish = %v", pub)
	}
	for _, p := range pub {
		if !want[p] {
			t.Errorf("unexpected publish permission %q", p)
		}
		if AgentOf(p) != "007" {
			t.Errorf("AgentOf(%q) = %q", p, AgentOf(p))
		}
	}
	if len(sub) != 1 || sub[0] != "riposte.cmd.007" {
		t.Errorf("subscribe = %v", sub)
	}
	if got := (Subjects{Prefix: "x"}).Command("001"); got != "x.cmd.001" {
		t.Errorf("prefixed command subject = %q", got)
	}
}

func TestCommandValidate(t *testing.T) {
	now := time.Now()
	ok := Command{ID: "c1", Kind: KindRun, Agent: "001", Expires: now, Executable: "firewall-drop"}
	for _, tc := range []struct {
		name string
		edit func(*Command)
		ok   bool
	}{
		{"valid run", func(*Command) {}, true},
		{"no id", func(c *Command) { c.ID = "" }, false},
		{"bad agent", func(c *Command) { c.Agent = "x" }, false},
		{"no expiry", func(c *Command) { c.Expires = time.Time{} }, false},
		{"traversal", func(c *Command) { c.Executable = "../../bin/sh" }, false},
		{"slash", func(c *Command) { c.Executable = "a/b" }, false},
		{"dash", func(c *Command) { c.Executable = "-rf" }, false},
		{"shell", func(c *Command) { c.Executable = "a;rm" }, false},
		{"negative timeout", func(c *Command) { c.Timeout = -1 }, false},
		{"undo without key", func(c *Command) { c.Kind = KindUndo }, false},
		{"undo", func(c *Command) { c.Kind, c.Key = KindUndo, "k" }, true},
		{"extend without until", func(c *Command) { c.Kind, c.Key = KindExtend, "k" }, false},
		{"extend", func(c *Command) { c.Kind, c.Key, c.Until = KindExtend, "k", now }, true},
		{"unknown kind", func(c *Command) { c.Kind = "rm" }, false},
	} {
		c := ok
		tc.edit(&c)
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(Command{Timeout: Duration(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	var c Command
	if err := json.Unmarshal(b, &c); err != nil || c.Timeout.D() != 10*time.Minute {
		t.Fatalf("round trip: %v %v (%s)", c.Timeout.D(), err, b)
	}
	var d Duration
	if err := json.Unmarshal([]byte("90"), &d); err != nil || d.D() != 90*time.Second {
		t.Errorf("seconds: %v %v", d.D(), err)
	}
	if err := json.Unmarshal([]byte(`"soon"`), &d); err == nil {
		t.Error("bad duration accepted")
	}
}
