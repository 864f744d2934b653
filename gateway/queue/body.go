package queue

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// OpenBody opens the bytes of message id (CRLF line ends, no
// dot-stuffing), whether it is still queued (as it is while OnFailure and
// OnDelay run) or already moved to failed/. It returns an error wrapping
// ErrNotFound when neither holds it.
func (q *Queue) OpenBody(id string) (io.ReadCloser, error) {
	if !validID(id) {
		return nil, fmt.Errorf("open body %q: %w", id, ErrNotFound)
	}
	for _, p := range []string{q.store.bodyPath(id), q.store.failedBody(id)} {
		f, err := openBody(p)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open body %s: %w", id, err)
		}
	}
	return nil, fmt.Errorf("open body %s: %w", id, ErrNotFound)
}
