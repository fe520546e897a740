package ruleset_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/analysis"
)

// TestInterleavedAttackers: thousands of addresses taking turns each reach
// the brute-force threshold; the correlation history of one rule must not
// let them push each other out.
func TestInterleavedAttackers(t *testing.T) {
	e := load(t, func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) })
	sess := analysis.NewSession()
	const n = 3000
	fired := map[string]bool{}
	for round := 0; round < 8; round++ {
		for i := 0; i < n; i++ {
			ip := fmt.Sprintf("100.64.%d.%d", i/250, i%250+1)
			res, err := e.Process(sess, "/var/log/auth.log",
				fmt.Sprintf("Nov 27 10:00:00 web01 sshd[%d]: Failed password for root from %s port 50000 ssh2", i, ip))
			if err != nil {
				t.Fatal(err)
			}
			if res.Rule != nil && res.Rule.ID == 5763 {
				if round != 7 {
					t.Fatalf("%s reached 5763 after %d failures", ip, round+1)
				}
				fired[ip] = true
			}
		}
	}
	if len(fired) != n {
		t.Fatalf("%d of %d interleaved attackers reached rule 5763", len(fired), n)
	}
}
