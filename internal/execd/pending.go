package execd

import "sort"

func sortPending(p []Pending) {
	sort.Slice(p, func(i, j int) bool { return p[i].Deadline.Before(p[j].Deadline) })
}
