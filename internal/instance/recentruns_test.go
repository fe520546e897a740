package instance

import (
	"fmt"
	"testing"

	"github.com/riposte/riposte/internal/execd"
)

func TestRecentRunsKeepsTheLast(t *testing.T) {
	for _, n := range []int{0, 1, maxRuns - 1, maxRuns, maxRuns + 1, 2*maxRuns - 1, 2 * maxRuns, 5*maxRuns + 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var r recentRuns
			for i := range n {
				r.add(execd.Result{RequestID: fmt.Sprint(i)})
			}
			got := r.list()
			want := min(n, maxRuns)
			if len(got) != want {
				t.Fatalf("%d results kept, want %d", len(got), want)
			}
			for i, res := range got {
				if w := fmt.Sprint(n - want + i); res.RequestID != w {
					t.Fatalf("result %d is %s, want %s", i, res.RequestID, w)
				}
			}
		})
	}
}
