package queue

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Run attempts the queued messages with Options.Workers workers until ctx
// is done. Then it starts no more attempts, lets those in flight finish
// (their Deliverer context is cancelled Options.ShutdownGrace after ctx),
// records their results and returns nil. Run may be called again after it
// has returned, but not twice at once.
func (q *Queue) Run(ctx context.Context) error {
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return fmt.Errorf("run: %w", ErrClosed)
	case q.running:
		q.mu.Unlock()
		return ErrRunning
	}
	q.running = true
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.running = false
		q.mu.Unlock()
	}()

	// Deliveries outlive ctx by the grace period, so that a nearly done
	// attempt can finish and be recorded.
	dctx, cancelDeliveries := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelDeliveries()
	finished := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(q.opts.ShutdownGrace)
		defer t.Stop()
		select {
		case <-finished:
		case <-t.C:
			q.log.Warn("shutdown grace over, cancelling deliveries in flight",
				slog.Duration("grace", q.opts.ShutdownGrace))
			cancelDeliveries()
		}
	})

	work := make(chan *entry)
	var workers sync.WaitGroup
	for range q.opts.Workers {
		workers.Go(func() {
			for e := range work {
				if ctx.Err() != nil {
					q.requeue(e)
					continue
				}
				q.process(dctx, e)
			}
		})
	}
	q.log.Info("queue running", slog.Int("workers", q.opts.Workers), slog.Int("messages", q.Len()))
	q.dispatch(ctx, work)
	close(work)
	workers.Wait()
	close(finished)
	wg.Wait()
	q.log.Info("queue stopped", slog.Int("messages", q.Len()))
	return nil
}

// dispatch hands due messages to the workers until ctx is done.
func (q *Queue) dispatch(ctx context.Context, work chan<- *entry) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		e, wait := q.next()
		if e != nil {
			select {
			case work <- e:
				continue
			case <-ctx.Done():
				q.requeue(e)
				return
			}
		}
		if wait >= 0 {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// next takes the earliest message off the schedule if it is due and marks
// it busy. Otherwise it returns how long until one is due, or -1 if none
// is scheduled.
func (q *Queue) next() (*entry, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.sched) == 0 {
		return nil, -1
	}
	e := q.sched[0]
	if wait := e.env.NextAttempt.Sub(q.opts.Now()); wait > 0 {
		return nil, wait
	}
	heap.Pop(&q.sched)
	e.busy = true
	return e, 0
}

// requeue puts back a message that was taken off the schedule but not
// attempted.
func (q *Queue) requeue(e *entry) {
	q.mu.Lock()
	e.busy = false
	if !e.env.Held && e.index < 0 {
		heap.Push(&q.sched, e)
	}
	q.mu.Unlock()
}
