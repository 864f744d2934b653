package queue

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// OpenBody opens the bytes of message id (CRLF line ends, no
// dot-stuffing), whether it is still queued (as it is while OnFailure and
// OnDelay run), in the journal or in msg/, or already moved to failed/. It
// returns an error wrapping ErrNotFound when none holds it.
func (q *Queue) OpenBody(id string) (io.ReadCloser, error) {
	if !validID(id) {
		return nil, fmt.Errorf("open body %q: %w", id, ErrNotFound)
	}
	var loc *jloc
	q.mu.Lock()
	if e, ok := q.entries[id]; ok {
		loc = e.loc
	}
	q.mu.Unlock()
	return q.openQueued(id, loc)
}

// openQueued opens the bytes of message id from its journal record loc
// (when not nil and still there), else from msg/ or failed/.
func (q *Queue) openQueued(id string, loc *jloc) (io.ReadCloser, error) {
	if loc != nil {
		if r, ok := q.journal.open(loc); ok {
			return r, nil
		}
		// Migrated to msg/ meanwhile.
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
