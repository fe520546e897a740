//go:build !unix || solaris || aix

package action

import "context"

// hostsFlock does nothing where there is no flock: runs are serialised
// within one process only.
func hostsFlock(ctx context.Context, lp string) (unlock func(), err error) {
	return func() {}, nil
}
