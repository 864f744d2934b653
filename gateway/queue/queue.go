package queue

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors returned by the queue.
var (
	// ErrNotFound means no queued message has the given id.
	ErrNotFound = errors.New("queue: no such message")
	// ErrClosed means the queue has been closed.
	ErrClosed = errors.New("queue: closed")
	// ErrHeld means the message is held and is not attempted until
	// released.
	ErrHeld = errors.New("queue: message is held")
	// ErrDuplicateID means a message with that id is already queued or
	// being written.
	ErrDuplicateID = errors.New("queue: duplicate message id")
	// ErrTxDone means the transaction was already committed or aborted.
	ErrTxDone = errors.New("queue: transaction already committed or aborted")
	// ErrRunning means Run was called while it was already running.
	ErrRunning = errors.New("queue: already running")
)

// Queue is the durable message queue. Its methods are safe for concurrent
// use.
type Queue struct {
	opts  Options
	log   *slog.Logger
	store *store
	lock  *os.File
	// journal holds the fresh messages' records (journal.go).
	journal *journal

	// settled, if set (by tests, before Run), is called after each
	// attempt's outcome has been recorded.
	settled func(id string)

	// writers pools the transactions' write buffers.
	writers sync.Pool

	// wake is signalled (without blocking) whenever the schedule may have
	// a message due sooner than the dispatcher thinks.
	wake chan struct{}

	mu       sync.Mutex
	entries  map[string]*entry
	reserved map[string]bool // ids of open transactions
	sched    schedule
	running  bool
	closed   bool
}

// Open opens the queue in opts.Dir, creating it if missing, and recovers
// the messages committed there: unreadable envelopes are moved to
// corrupt/, leftovers of interrupted writes are removed, messages due (or
// whose attempt a crash cut short) are attempted as soon as Run starts,
// deferred ones keep their next attempt time. The queue's directory is
// locked against other processes until Close.
func Open(ctx context.Context, opts Options) (*Queue, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	st, err := newStore(opts.Dir, opts.CreateTemp)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	lock, err := lockDir(filepath.Join(opts.Dir, "lock"))
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	q := &Queue{
		opts:     opts,
		log:      opts.Logger,
		store:    st,
		lock:     lock,
		wake:     make(chan struct{}, 1),
		entries:  map[string]*entry{},
		reserved: map[string]bool{},
	}
	jdir := filepath.Join(opts.Dir, "journal")
	if err := os.MkdirAll(jdir, 0o700); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("open queue: create queue directory: %w", err)
	}
	if err := st.recoverJournal(jdir, q.log); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("open queue: %w", err)
	}
	envs, err := st.recover(q.log)
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("open queue: %w", err)
	}
	q.journal = newJournal(jdir, opts.JournalSegmentSize, opts.syncFile, q.log)
	q.journal.enqueued = opts.journalEnqueued
	now := opts.Now()
	due := 0
	for _, env := range envs {
		e := &entry{env: env, index: -1}
		q.entries[env.ID] = e
		if !env.Held {
			heap.Push(&q.sched, e)
			if !env.NextAttempt.After(now) {
				due++
			}
		}
	}
	q.log.Info("queue opened", slog.String("dir", opts.Dir),
		slog.Int("messages", len(envs)), slog.Int("due", due))
	return q, nil
}

// Close releases the queue directory. Call it after Run has returned;
// transactions still open fail. Close is safe to call twice. (A child
// process forked at that very moment holds the lock until it execs.)
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.mu.Unlock()
	// The journal's segments stay on disk; the next Open migrates them.
	q.journal.close()
	if err := q.lock.Close(); err != nil {
		return fmt.Errorf("close queue: %w", err)
	}
	return nil
}

// NewID returns a fresh message id: 16 characters of lower-case base32,
// sorting roughly by creation time, safe as a file name.
func (q *Queue) NewID() string { return newID(q.opts.Now()) }

// List returns copies of the queued messages' envelopes, oldest first.
func (q *Queue) List() []*Envelope {
	q.mu.Lock()
	out := make([]*Envelope, 0, len(q.entries))
	for _, e := range q.entries {
		out = append(out, cloneEnvelope(e.env))
	}
	q.mu.Unlock()
	slices.SortFunc(out, func(a, b *Envelope) int {
		if c := a.Received.Compare(b.Received); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Get returns a copy of the envelope of the queued message id, or
// ErrNotFound.
func (q *Queue) Get(id string) (*Envelope, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[id]
	if !ok {
		return nil, fmt.Errorf("get %q: %w", id, ErrNotFound)
	}
	return cloneEnvelope(e.env), nil
}

// Len returns the number of queued messages.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries)
}

// RetryNow makes message id due at once. The new time is not written to
// disk: after a restart the message keeps its recorded schedule.
func (q *Queue) RetryNow(id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[id]
	if !ok {
		return fmt.Errorf("retry %q: %w", id, ErrNotFound)
	}
	if e.env.Held {
		return fmt.Errorf("retry %q: %w", id, ErrHeld)
	}
	q.dueNow(e, q.opts.Now())
	q.signal()
	return nil
}

// dueNow schedules e for now, or, while an attempt is running, for right
// after it. q.mu is held.
func (q *Queue) dueNow(e *entry, now time.Time) {
	if e.busy {
		e.retry = true
		return
	}
	env := cloneEnvelope(e.env)
	env.NextAttempt = now
	e.env = env
	if e.index >= 0 {
		heap.Fix(&q.sched, e.index)
	} else {
		heap.Push(&q.sched, e)
	}
}

// add puts a newly committed message in the schedule; loc is its journal
// record, if it has one.
func (q *Queue) add(env *Envelope, loc *jloc) {
	q.mu.Lock()
	delete(q.reserved, env.ID)
	e := &entry{env: env, index: -1, loc: loc}
	q.entries[env.ID] = e
	if !env.Held {
		heap.Push(&q.sched, e)
	}
	q.mu.Unlock()
	q.signal()
}

// signal wakes the dispatcher without blocking.
func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// cloneEnvelope returns a deep copy of env.
func cloneEnvelope(env *Envelope) *Envelope {
	c := *env
	c.Recipients = make([]*Recipient, len(env.Recipients))
	for i, r := range env.Recipients {
		rc := *r
		rc.Notify = slices.Clone(r.Notify)
		c.Recipients[i] = &rc
	}
	return &c
}
