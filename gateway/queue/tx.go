package queue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// Tx is one message being handed to the queue: Begin, Write the bytes,
// then Commit or Abort. A Tx is used by one goroutine at a time.
//
// Atomicity: when Commit returns nil the message and its envelope are
// durably on disk and will be delivered or end in failed/; when Commit
// returns an error, or after Abort, nothing of the message is left.
type Tx struct {
	q   *Queue
	env *Envelope

	mu sync.Mutex
	// rec holds the journal record being built (header space, id, the
	// bytes so far) while the message is small; nil once it has spilled
	// to f, or the transaction is over.
	rec  *[]byte
	f    *os.File      // temporary body file; nil once closed
	w    *bufio.Writer // buffers writes to f; back in the pool once done
	n    int64
	err  error // first write error; sticky
	done bool  // committed or aborted

	logAttrs []slog.Attr // added to the "queued" line (Annotate)
}

// Begin starts a transaction for env. The message is buffered in memory
// until it grows past Options.SpillThreshold, when it moves to a temporary
// file (with a negative SpillThreshold, Begin creates that file at once).
// The caller sets env.ID with NewID, or Begin does when it is empty. Empty
// recipient states become pending. The queue keeps its own copy of env at
// Commit.
func (q *Queue) Begin(env *Envelope) (*Tx, error) {
	if env == nil || len(env.Recipients) == 0 {
		return nil, errors.New("queue: begin: message has no recipients")
	}
	for _, r := range env.Recipients {
		if r == nil {
			return nil, errors.New("queue: begin: empty recipient")
		}
		if r.State == "" {
			r.State = StatePending
		}
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil, fmt.Errorf("begin: %w", ErrClosed)
	}
	if env.ID == "" {
		for env.ID == "" || q.taken(env.ID) {
			env.ID = newID(q.opts.Now())
		}
	} else if !validID(env.ID) {
		q.mu.Unlock()
		return nil, fmt.Errorf("queue: begin: invalid message id %q", env.ID)
	} else if q.taken(env.ID) {
		q.mu.Unlock()
		return nil, fmt.Errorf("begin %q: %w", env.ID, ErrDuplicateID)
	}
	q.reserved[env.ID] = true
	q.mu.Unlock()

	if q.opts.SpillThreshold >= 0 {
		rec := q.journal.getBuf()
		*rec = startRecord(*rec, env.ID)
		return &Tx{q: q, env: env, rec: rec}, nil
	}
	f, err := q.opts.CreateTemp(q.store.tmp, env.ID+".*")
	if err != nil {
		q.release(env.ID)
		return nil, fmt.Errorf("queue: begin %s: create temporary file: %w", env.ID, err)
	}
	return &Tx{q: q, env: env, f: f, w: q.getWriter(f)}, nil
}

// spill moves the bytes buffered so far to a temporary file, which takes
// the rest of the message. tx.mu is held.
func (tx *Tx) spill() error {
	q, id := tx.q, tx.env.ID
	f, err := q.opts.CreateTemp(q.store.tmp, id+".*")
	if err != nil {
		return fmt.Errorf("queue: write %s: create temporary file: %w", id, err)
	}
	tx.f, tx.w = f, q.getWriter(f)
	rec := tx.rec
	tx.rec = nil
	_, err = tx.w.Write((*rec)[recordPrefixLen(id):])
	q.journal.putBuf(rec)
	if err != nil {
		return fmt.Errorf("queue: write %s: %w", id, err)
	}
	return nil
}

// taken reports whether id is queued or being written. q.mu is held.
func (q *Queue) taken(id string) bool {
	_, queued := q.entries[id]
	return queued || q.reserved[id]
}

// release forgets the reservation of id for a transaction that failed.
func (q *Queue) release(id string) {
	q.mu.Lock()
	delete(q.reserved, id)
	q.mu.Unlock()
}

// ID returns the message's queue id.
func (tx *Tx) ID() string { return tx.env.ID }

// Write appends message bytes (CRLF line ends, no dot-stuffing).
func (tx *Tx) Write(p []byte) (int, error) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return 0, ErrTxDone
	}
	if tx.err != nil {
		return 0, tx.err
	}
	if tx.rec != nil {
		if tx.n+int64(len(p)) <= tx.q.opts.SpillThreshold {
			*tx.rec = append(*tx.rec, p...)
			tx.n += int64(len(p))
			return len(p), nil
		}
		if err := tx.spill(); err != nil {
			tx.err = err
			return 0, err
		}
	}
	n, err := tx.w.Write(p)
	tx.n += int64(n)
	if err != nil {
		tx.err = fmt.Errorf("queue: write %s: %w", tx.env.ID, err)
		return n, tx.err
	}
	return n, nil
}

// Commit stores the message durably and returns nil only once its bytes
// and envelope are on stable storage. A message buffered in memory is
// appended, with its envelope, as one record to the journal, whose
// committer writes and fsyncs the records of concurrent commits together.
// A message spilled to a file gets the envelope appended, the file
// fsynced, renamed into place and the directory fsynced. Commit sets
// env.Size, env.Received and env.NextAttempt on the caller's envelope and
// makes the message due at once. On error nothing of the message is left
// and the transaction is over. ctx is honoured until the record is taken
// for writing; from then Commit waits for that write and fsync, so that an
// error never leaves a message queued. Commit is safe to call from many
// sessions at once.
func (tx *Tx) Commit(ctx context.Context) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return ErrTxDone
	}
	tx.done = true
	if err := ctx.Err(); err != nil {
		tx.cleanup(false, false)
		return fmt.Errorf("queue: commit %s: %w", tx.env.ID, err)
	}
	if tx.rec != nil {
		return tx.commitJournal(ctx)
	}
	return tx.commit()
}

// committedEnvelope returns the queue's copy of the envelope as committed
// now, and its encoding. When a write failed before, or the envelope
// cannot be encoded, it cleans the transaction up and returns the error.
func (tx *Tx) committedEnvelope() (*Envelope, []byte, error) {
	if tx.err != nil {
		tx.cleanup(false, false)
		return nil, nil, tx.err
	}
	now := tx.q.opts.Now()
	env := cloneEnvelope(tx.env)
	env.Size = tx.n
	env.Received = now
	env.NextAttempt = now
	data, err := encodeEnvelope(env)
	if err != nil {
		tx.cleanup(false, false)
		return nil, nil, fmt.Errorf("queue: commit %s: %w", env.ID, err)
	}
	return env, data, nil
}

// commitJournal commits a message buffered in memory as a journal record.
func (tx *Tx) commitJournal(ctx context.Context) error {
	q, id := tx.q, tx.env.ID
	env, data, err := tx.committedEnvelope()
	if err != nil {
		return err
	}
	rec := tx.rec
	tx.rec = nil
	*rec = finishRecord(*rec, id, data)
	loc, err := q.journal.commit(ctx, id, rec)
	if err != nil {
		tx.cleanup(false, false)
		return fmt.Errorf("queue: commit %s: %w", id, err)
	}
	tx.committed(env, loc)
	return nil
}

// Annotate adds attributes to the "queued" line Commit logs, such as the
// client's HELO name and TLS version, so that one line tells where a
// message came from.
func (tx *Tx) Annotate(attrs ...slog.Attr) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.logAttrs = append(tx.logAttrs, attrs...)
}

// committed hands the committed message to the schedule and logs it.
func (tx *Tx) committed(env *Envelope, loc *jloc) {
	tx.env.Size, tx.env.Received, tx.env.NextAttempt = env.Size, env.Received, env.NextAttempt
	tx.q.add(env, loc)
	attrs := append([]slog.Attr{slog.String("queue_id", env.ID), slog.String("from", env.From),
		slog.Int("rcpts", len(env.Recipients)), slog.Int64("size", env.Size),
		slog.String("login", env.Login), slog.String("client_ip", env.ClientIP),
		slog.String("listener", env.Listener)}, tx.logAttrs...)
	tx.q.log.LogAttrs(context.Background(), slog.LevelInfo, "queued", attrs...)
}

// commit commits a message spilled to its temporary file.
func (tx *Tx) commit() error {
	st, id := tx.q.store, tx.env.ID
	env, data, err := tx.committedEnvelope()
	if err != nil {
		return err
	}

	// The envelope goes at the end of the same file as the bytes (see
	// spoolfile.go): one file to create, fsync and rename per message,
	// and one directory fsync shared with the concurrent commits.
	if _, err := tx.w.Write(appendTrailer(nil, tx.n, data)); err != nil {
		tx.cleanup(false, false)
		return fmt.Errorf("queue: commit %s: write envelope: %w", id, err)
	}
	if err := tx.w.Flush(); err != nil {
		tx.cleanup(false, false)
		return fmt.Errorf("queue: commit %s: write message: %w", id, err)
	}
	tx.q.putWriter(tx.w)
	tx.w = nil
	f := tx.f
	tx.f = nil
	if ok, err := placeBody(f, st.bodyPath(id), st.msgSync); err != nil {
		tx.cleanup(ok, false)
		return fmt.Errorf("queue: commit %s: %w", id, err)
	}

	tx.committed(env, nil)
	return nil
}

// placeBody fsyncs and closes the temporary body file f, renames it to dst
// and fsyncs dst's directory. It reports whether dst is in place; when it
// is not, f is removed.
func placeBody(f *os.File, dst string, dir *dirSyncer) (bool, error) {
	tmp := f.Name()
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return false, fmt.Errorf("fsync message: %w", err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("close message: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("place message: %w", err)
	}
	if err := dir.Sync(); err != nil {
		return true, fmt.Errorf("place message: %w", err)
	}
	return true, nil
}

// cleanup removes whatever the transaction left on disk and frees its id.
func (tx *Tx) cleanup(bodyPlaced, envPlaced bool) {
	st, id := tx.q.store, tx.env.ID
	if tx.rec != nil {
		tx.q.journal.putBuf(tx.rec)
		tx.rec = nil
	}
	if tx.w != nil {
		tx.q.putWriter(tx.w)
		tx.w = nil
	}
	if tx.f != nil {
		_ = tx.f.Close()
		_ = os.Remove(tx.f.Name())
		tx.f = nil
	}
	if envPlaced {
		if err := os.Remove(st.envPath(id)); err != nil {
			tx.q.log.Error("cannot remove envelope of failed commit", slog.String("queue_id", id), slog.Any("error", err))
		}
	}
	if bodyPlaced {
		if err := os.Remove(st.bodyPath(id)); err != nil {
			tx.q.log.Error("cannot remove message of failed commit", slog.String("queue_id", id), slog.Any("error", err))
		}
	}
	tx.q.release(id)
}

// Abort ends the transaction and removes its temporary file. It is a
// no-op after Commit or a previous Abort.
func (tx *Tx) Abort() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return nil
	}
	tx.done = true
	tx.cleanup(false, false)
	return nil
}

// writeBufferSize is the size of a transaction's write buffer.
const writeBufferSize = 32 << 10

// getWriter returns a pooled write buffer writing to f.
func (q *Queue) getWriter(f *os.File) *bufio.Writer {
	if w, ok := q.writers.Get().(*bufio.Writer); ok {
		w.Reset(f)
		return w
	}
	return bufio.NewWriterSize(f, writeBufferSize)
}

// putWriter returns a write buffer to the pool.
func (q *Queue) putWriter(w *bufio.Writer) {
	w.Reset(nil)
	q.writers.Put(w)
}
