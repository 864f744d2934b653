//go:build !unix

package pickup

import "os"

// openFile opens a pickup file for reading; the caller checks that it is a
// regular file.
func openFile(path string) (*os.File, error) { return os.Open(path) }

// fileOwner returns -1: no uid here.
func fileOwner(os.FileInfo) int { return -1 }

// isCrossDevice reports false: the rename error is returned as it is.
func isCrossDevice(error) bool { return false }

// extraLinks reports false: link counts are not known here.
func extraLinks(os.FileInfo) bool { return false }
