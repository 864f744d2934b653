// Package durable holds the one file-system step the queue, the mailbox
// store, the pickup directory and sendmail all need to make a change
// survive a crash.
package durable

import (
	"fmt"
	"os"
)

// SyncDir fsyncs a directory so that entries created, renamed or removed
// in it survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
