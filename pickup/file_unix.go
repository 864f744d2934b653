//go:build unix

package pickup

import (
	"errors"
	"os"
	"syscall"
)

// openFile opens a pickup file for reading without following a symbolic
// link (a link would let whoever may write the pickup directory mail out
// any file the gateway can read) and without blocking on a FIFO put there.
func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// fileOwner returns the uid owning the file, or -1.
func fileOwner(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// isCrossDevice reports whether a rename failed for crossing file systems.
func isCrossDevice(err error) bool { return errors.Is(err, syscall.EXDEV) }
