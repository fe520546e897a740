package instance

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/api"
	"github.com/riposte/riposte/internal/config"
	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/fleet/manager"
)

func TestCommandRequest(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		expires time.Time
		want    time.Duration
	}{
		{"stateless", 0, now.Add(10 * time.Minute), 0},
		{"on time", time.Minute, now.Add(time.Minute - 5*time.Millisecond), time.Minute},
		{"late", time.Minute, now.Add(20 * time.Second), 20 * time.Second},
		{"nearly expired", time.Minute, now.Add(100 * time.Millisecond), time.Second},
	} {
		cmd := fleet.Command{ID: "c", Kind: fleet.KindRun, Name: "fw", Executable: "firewall-drop", Timeout: fleet.Duration(tc.timeout),
			Expires: tc.expires, Issued: now, ExtraArgs: []string{"-a"}, Alert: json.RawMessage(`{}`), Ladder: []int{1}}
		req := commandRequest(cmd, now)
		if req.Timeout != tc.want || req.ID != "c" || req.Executable != "firewall-drop" || req.Command != "fw" || len(req.Ladder) != 1 || req.Accepted != now {
			t.Errorf("%s: %+v, want timeout %s", tc.name, req, tc.want)
		}
	}
}

func TestFleetResult(t *testing.T) {
	started := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	r := fleetResult(execd.Result{RequestID: "c1", Command: "fw", Program: "active-response/bin/firewall-drop", Verb: "add",
		Key: "firewall-drop|1.2.3.4", Keys: []string{"1.2.3.4"}, Status: execd.StatusOK, Duration: time.Millisecond,
		Timeout: time.Minute, Started: started, Builtin: true})
	want := fleet.Result{Kind: fleet.Run, CommandID: "c1", Outcome: "ok", Time: started.Add(time.Millisecond), Name: "fw",
		Executable: "firewall-drop", Verb: "add", Key: "firewall-drop|1.2.3.4", Keys: []string{"1.2.3.4"},
		Duration: fleet.Duration(time.Millisecond), Timeout: fleet.Duration(time.Minute), Started: started, Backend: "builtin"}
	gb, _ := json.Marshal(r)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("fleetResult:\n got %s\nwant %s", gb, wb)
	}
}

func TestWithAgent(t *testing.T) {
	doc := []byte(`{"rule":{"id":"5712"},"agent":{"id":"000","name":"mgr \"x\""},"id":"1.2","location":"/var/log/auth.log"}`)
	got, rewritten := withAgent(doc, `mgr "x"`, fleet.Agent{ID: "007", Name: "web", RegisteredIP: "10.0.0.7"})
	if !rewritten {
		t.Error("withAgent reports the agent part not found")
	}
	var v struct {
		Agent    map[string]string `json:"agent"`
		Location string            `json:"location"`
	}
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if v.Agent["id"] != "007" || v.Agent["name"] != "web" || v.Agent["ip"] != "10.0.0.7" || v.Location != "/var/log/auth.log" {
		t.Errorf("withAgent = %s", got)
	}
	if other, rewritten := withAgent(doc, "someone else", fleet.Agent{ID: "007"}); rewritten || string(other) != string(doc) {
		t.Errorf("a document without this host's agent part changed: %s", other)
	}
	// A name with characters encoding/json escapes, as the engine writes it.
	amp := []byte(`{"agent":{"id":"000","name":"r&d <1>"},"id":"1.2"}`)
	if _, rewritten := withAgent(amp, "r&d <1>", fleet.Agent{ID: "007"}); !rewritten {
		t.Error("the agent part of a manager named r&d <1> not found")
	}
}

// statefulConf has a stateful response run by a script that asks for the
// address as its key.
const statefulConf = `<ossec_config>
  <command><name>stateful</name><executable>stateful</executable><timeout_allowed>yes</timeout_allowed></command>
  <active-response><command>stateful</command><location>local</location><level>5</level><timeout>600</timeout></active-response>
  <riposte><http_listen>off</http_listen><api><listen>off</listen></api></riposte>
</ossec_config>`

const statefulScript = `#!/bin/sh
read -r msg
echo '{"version":1,"origin":{"name":"stateful","module":"active-response"},"command":"check_keys","parameters":{"keys":["203.0.113.7"]}}'
read -r reply
exit 0
`

// TestReconcileAtStart: a block whose entry of the central list never
// reached the store (a crash before the list's put-off write) is back in
// the list at the next start, as execd's timer describes it.
func TestReconcileAtStart(t *testing.T) {
	dir := t.TempDir()
	cfg, _, err := config.Parse("stateful.conf", []byte(statefulConf))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, execd.BinDir)
	os.MkdirAll(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "stateful"), []byte(statefulScript), 0o755); err != nil {
		t.Fatal(err)
	}
	start := func() (*Instance, func()) {
		in, err := New(cfg, Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- in.Run(ctx) }()
		return in, func() { cancel(); <-done }
	}
	in, stop := start()
	a, err := alert.Parse([]byte(`{"rule":{"id":"5712","level":10},"agent":{"id":"000"},"data":{"srcip":"203.0.113.7"}}`))
	if err != nil {
		t.Fatal(err)
	}
	in.Ingest(context.Background(), []*alert.Alert{a}, api.IngestOptions{})
	var held []execd.Pending
	for end := time.Now().Add(10 * time.Second); len(held) == 0 && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		held = in.Pending()
	}
	if len(held) != 1 {
		t.Fatalf("execd holds %+v", held)
	}
	// The list's write lands, then goes as a crash would have lost it.
	ctx := context.Background()
	kv, err := in.js.KeyValue(ctx, fleet.BucketActive)
	if err != nil {
		t.Fatal(err)
	}
	id := manager.ActiveID(fleet.ManagerID, held[0].Key)
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := kv.Get(ctx, id); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the central list's entry never reached the store")
		}
	}
	if err := kv.Purge(ctx, id); err != nil {
		t.Fatal(err)
	}
	stop()

	in2, stop2 := start()
	defer stop2()
	got := in2.mgr.Active(manager.Filter{Agent: fleet.ManagerID})
	if len(got) != 1 {
		t.Fatalf("central list after the start: %+v", got)
	}
	e := got[0]
	if e.ID != id || e.SrcIP != "203.0.113.7" || !slices.Equal(e.Keys, []string{"203.0.113.7"}) || e.Name != "stateful" || e.Executable != "stateful" ||
		!e.Until.Equal(held[0].Deadline.UTC()) || !e.Added.Equal(held[0].Added.UTC()) {
		t.Errorf("reconciled entry %+v, execd holds %+v", e, held[0])
	}
}
