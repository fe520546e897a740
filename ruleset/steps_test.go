package ruleset_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riposte/riposte/internal/analysis"
)

// TestSteps: lines decoded ahead on several goroutines, matched in order,
// and their alert documents built on another goroutine while later lines
// are matched, come out exactly as Process makes them, correlation and
// previous_output included; a decoded line is matched once.
func TestSteps(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) }
	var lines []string
	for i := range 800 {
		ip := fmt.Sprintf("100.64.0.%d", i%50+1)
		switch i % 4 {
		case 0, 1, 2:
			lines = append(lines, fmt.Sprintf("Nov 27 10:00:00 web01 sshd[%d]: Failed password for root from %s port 50000 ssh2", i, ip))
		default:
			lines = append(lines, fmt.Sprintf(`%s - - [27/Nov/2026:10:00:00 +0000] "GET /../../etc/passwd HTTP/1.1" 400 150 "-" "curl"`, ip))
		}
	}

	e := load(t, now)
	sess := analysis.NewSession()
	want := make([]string, len(lines))
	correlated := 0
	for i, l := range lines {
		res, err := e.Process(sess, "/var/log/auth.log", l)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = describe(res)
		if res.Rule != nil && res.Rule.ID == 5763 {
			correlated++
		}
	}
	if correlated == 0 {
		t.Fatal("no line reached the correlating rule 5763")
	}

	e = load(t, now) // alert ids count from the start again
	decoded := make([]analysis.Decoded, len(lines))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(lines); i += 4 {
				decoded[i] = e.Decode("/var/log/auth.log", lines[i])
			}
		})
	}
	wg.Wait()
	matched := make(chan *analysis.Result, len(lines))
	got := make([]string, 0, len(lines))
	built := make(chan struct{})
	go func() {
		defer close(built)
		for res := range matched {
			e.BuildAlert(res)
			got = append(got, describe(res))
		}
	}()
	sess = analysis.NewSession()
	for _, d := range decoded {
		res, err := e.Match(sess, d)
		if err != nil {
			t.Fatal(err)
		}
		matched <- res
	}
	close(matched)
	<-built
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: in steps\n %s\nprocessed\n %s", i, got[i], want[i])
		}
	}
	if _, err := e.Match(sess, decoded[0]); err == nil {
		t.Error("a decoded line matched twice")
	}
	if _, err := e.Match(sess, analysis.Decoded{}); err == nil {
		t.Error("a zero Decoded matched")
	}
}

// describe is what TestSteps compares of a result: decoder, fields, rule,
// times fired and the alert document.
func describe(res *analysis.Result) string {
	s := fmt.Sprintf("decoder %q fields %v", res.Decoder, res.Event.Fields)
	if res.Rule != nil {
		s += fmt.Sprintf(" rule %d fired %d alert %s", res.Rule.ID, res.FiredTimes, res.Alert)
	}
	return s
}
