package queue

import (
	"fmt"
	"log/slog"
)

// writeMessageFile writes msg/id in the one-file format (spoolfile.go):
// body, then the envelope as committed, envJSON, and the footer;
// atomically and fsynced. syncDir, when not nil, then fsyncs msg/;
// otherwise the caller must.
func (s *store) writeMessageFile(id string, body, envJSON []byte, syncDir func() error) error {
	data := make([]byte, 0, len(body)+len(envJSON)+footerLen)
	data = append(data, body...)
	data = appendTrailer(data, int64(len(body)), envJSON)
	if syncDir == nil {
		syncDir = func() error { return nil }
	}
	if err := writeFileAtomic(s.create, s.tmp, s.bodyPath(id), data, syncDir); err != nil {
		return fmt.Errorf("write message file %s: %w", id, err)
	}
	return nil
}

// ensureFile gives message e, whose bytes may still be in the journal, its
// file msg/<id>, so that the code written for the one-file layout (env/
// writes, hold, failed/) applies unchanged. A message in the journal is
// migrated: its bytes and envelope as committed are written to msg/<id>,
// fsynced with the directory, and only then is its record marked done.
// The caller holds the entry (busy: an attempt, or claimed).
func (q *Queue) ensureFile(e *entry) error {
	q.mu.Lock()
	loc := e.loc
	q.mu.Unlock()
	if loc == nil {
		return nil
	}
	data, err := q.journal.readRecord(loc)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", loc.id, err)
	}
	body, envJSON := data[:loc.bodyLen], data[loc.bodyLen:]
	if err := q.store.writeMessageFile(loc.id, body, envJSON, q.store.msgSync.Sync); err != nil {
		return fmt.Errorf("migrate %s: %w", loc.id, err)
	}
	q.mu.Lock()
	e.loc = nil
	q.mu.Unlock()
	if err := q.journal.markDone(loc); err != nil {
		// The file is in place; at worst the next Open finds the record
		// live, sees msg/<id> and leaves it.
		q.log.Warn("cannot mark migrated journal record done", slog.String("queue_id", loc.id), slog.Any("error", err))
	}
	return nil
}

// dropJournal marks e's journal record done when its message is finished
// (delivered, or deleted). It reports whether e was in the journal; if
// not, its files are the caller's to remove.
func (q *Queue) dropJournal(e *entry) bool {
	q.mu.Lock()
	loc := e.loc
	e.loc = nil
	q.mu.Unlock()
	if loc == nil {
		return false
	}
	if err := q.journal.markDone(loc); err != nil {
		q.log.Error("cannot mark journal record done", slog.String("queue_id", loc.id), slog.Any("error", err))
	}
	return true
}
