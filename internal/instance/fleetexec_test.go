package instance

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/execd"
	"github.com/riposte/riposte/internal/fleet"
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
}
