//go:build !unix

package queue

import (
	"fmt"
	"os"
)

// lockDir opens the lock file; without flock, nothing stops a second
// process from using the same queue.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	return f, nil
}
