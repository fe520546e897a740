//go:build !unix

package collect

import "os"

// fileID returns zeros: this platform does not expose device and inode
// numbers through os.FileInfo.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	return 0, 0
}
