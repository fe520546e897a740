//go:build unix

package collect

import (
	"os"
	"syscall"
)

// fileID returns the device and inode numbers of fi, or zeros where the
// platform does not provide them.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return uint64(st.Dev), uint64(st.Ino)
}
