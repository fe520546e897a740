//go:build unix

package action

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// hostsFileOwner returns the owner and group of a file.
func hostsFileOwner(fi fs.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}

// hostsCopyOwner gives f the owner and group of fi.
func hostsCopyOwner(f *os.File, fi fs.FileInfo) error {
	uid, gid, ok := hostsFileOwner(fi)
	if !ok {
		return nil
	}
	if err := f.Chown(uid, gid); err != nil {
		// Only root may give a file away; a file we own already is fine.
		if uid == os.Geteuid() && errors.Is(err, fs.ErrPermission) {
			return nil
		}
		return err
	}
	return nil
}
