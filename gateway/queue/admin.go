package queue

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// ErrBusy means a delivery attempt of the message is in flight (or another
// administrative change is being made to it); try again when it is over.
var ErrBusy = errors.New("queue: message is being attempted")

// BounceReply is the LastReply given to the recipients failed by Bounce.
const BounceReply = "550 5.0.0 bounced by the administrator"

// claim takes message id for an administrative change: it must exist and
// not be in an attempt. The entry is taken off the schedule and marked
// busy, so the dispatcher leaves it alone; give it back with unclaim (or
// forget it).
func (q *Queue) claim(op, id string) (*entry, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, fmt.Errorf("%s %q: %w", op, id, ErrClosed)
	}
	e, ok := q.entries[id]
	if !ok {
		return nil, fmt.Errorf("%s %q: %w", op, id, ErrNotFound)
	}
	if e.busy {
		return nil, fmt.Errorf("%s %q: %w", op, id, ErrBusy)
	}
	if e.index >= 0 {
		heap.Remove(&q.sched, e.index)
	}
	e.busy = true
	return e, nil
}

// unclaim gives back a claimed entry with its envelope now env (nil: as
// it was) and puts it back on the schedule unless it is held. A RetryNow
// made meanwhile makes it due at once.
func (q *Queue) unclaim(e *entry, env *Envelope) {
	q.mu.Lock()
	if env != nil {
		e.env = env
	}
	if e.retry {
		e.retry = false
		if !e.env.Held {
			c := cloneEnvelope(e.env)
			c.NextAttempt = q.opts.Now()
			e.env = c
		}
	}
	e.busy = false
	if !e.env.Held && e.index < 0 {
		heap.Push(&q.sched, e)
	}
	q.mu.Unlock()
	q.signal()
}

// Hold keeps message id from being attempted until Release. The state is
// recorded on disk and survives a restart. Holding a held message does
// nothing. It returns an error wrapping ErrNotFound, or ErrBusy while an
// attempt is in flight.
func (q *Queue) Hold(id string) error {
	return q.setHeld("hold", id, true)
}

// Release lets a held message be attempted again at its recorded next
// attempt time (at once if that has passed; RetryNow makes it due now).
// Releasing a message that is not held does nothing. Errors as for Hold.
func (q *Queue) Release(id string) error {
	return q.setHeld("release", id, false)
}

func (q *Queue) setHeld(op, id string, held bool) error {
	e, err := q.claim(op, id)
	if err != nil {
		return err
	}
	if e.env.Held == held {
		q.unclaim(e, nil)
		return nil
	}
	env := cloneEnvelope(e.env)
	env.Held = held
	if err := q.ensureFile(e); err != nil {
		q.unclaim(e, nil)
		return fmt.Errorf("%s %q: %w", op, id, err)
	}
	if err := q.store.writeEnvelope(env); err != nil {
		q.unclaim(e, nil)
		return fmt.Errorf("%s %q: %w", op, id, err)
	}
	q.unclaim(e, env)
	q.log.Info("message "+op, slog.String("queue_id", id))
	return nil
}

// Delete removes message id from the queue, envelope first and then its
// bytes (or marks its journal record done), without a report to the
// sender. It refuses with ErrBusy while an
// attempt is in flight and returns an error wrapping ErrNotFound for an
// unknown id. When the files cannot be removed the message stays queued.
func (q *Queue) Delete(id string) error {
	e, err := q.claim("delete", id)
	if err != nil {
		return err
	}
	if !q.dropJournal(e) {
		if err := q.store.remove(id); err != nil {
			q.unclaim(e, nil)
			return fmt.Errorf("delete %q: %w", id, err)
		}
	}
	q.forget(id)
	q.log.Info("message deleted by the administrator", slog.String("queue_id", id))
	return nil
}

// Bounce fails every pending recipient of message id with BounceReply and
// finishes the message as a delivery attempt would: its final state is
// recorded, Options.OnFailure is called (so the sender gets a report) and
// it is moved to failed/. Errors as for Delete. If the final state cannot
// be written, the message stays queued (and is retried later).
func (q *Queue) Bounce(ctx context.Context, id string) error {
	e, err := q.claim("bounce", id)
	if err != nil {
		return err
	}
	env := cloneEnvelope(e.env)
	now := q.opts.Now()
	for _, r := range env.Pending() {
		r.State = StateFailed
		r.LastReply = BounceReply
		r.RemoteMTA = ""
		r.LastAttempt = now
	}
	log := q.log.With(slog.String("queue_id", id))
	log.Info("message bounced by the administrator")
	q.finish(ctx, log, e, env)
	return nil
}

// RetryAll makes every queued message that is not held due at once, as
// RetryNow does for one, and returns how many it made due.
func (q *Queue) RetryAll() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.opts.Now()
	n := 0
	for _, e := range q.entries {
		if e.env.Held {
			continue
		}
		n++
		q.dueNow(e, now)
	}
	q.signal()
	return n
}
