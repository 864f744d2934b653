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

// extraLinks reports whether the file has other hard links: a writer of
// the pickup directory could otherwise link in a file of the gateway's
// and have it mailed out and unlinked.
func extraLinks(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink > 1
}

// isCrossDevice reports whether a rename failed for crossing file systems.
func isCrossDevice(err error) bool { return errors.Is(err, syscall.EXDEV) }
