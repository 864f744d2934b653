package queue

import (
	"container/heap"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// process attempts one message taken off the schedule (if it has pending
// recipients), records the outcome and either puts it back on the
// schedule or finishes it.
func (q *Queue) process(ctx context.Context, e *entry) {
	q.mu.Lock()
	env := cloneEnvelope(e.env)
	loc := e.loc
	q.mu.Unlock()
	log := q.log.With(slog.String("queue_id", env.ID))
	if q.settled != nil {
		defer q.settled(env.ID)
	}
	var notifyDelay bool
	if pending := env.Pending(); len(pending) > 0 {
		notifyDelay = q.attempt(ctx, log, env, loc, pending)
	}
	if len(env.Pending()) > 0 {
		q.reschedule(ctx, log, e, env, notifyDelay)
		return
	}
	q.finish(ctx, log, e, env)
}

// attempt hands the pending recipients to the Deliverer and records the
// results in env, including expiry and the next attempt time. It reports
// whether a delay notice is due. loc is the message's journal record, if
// it is in the journal.
func (q *Queue) attempt(ctx context.Context, log *slog.Logger, env *Envelope, loc *jloc, pending []*Recipient) bool {
	id := env.ID
	msg := &Message{
		Envelope: cloneEnvelope(env),
		Open:     func() (io.ReadCloser, error) { return q.openQueued(id, loc) },
	}
	rcpts := make([]*Recipient, len(pending))
	for i, r := range pending {
		rc := *r
		rcpts[i] = &rc
	}
	results := q.opts.Deliverer.Deliver(ctx, msg, rcpts)
	now := q.opts.Now()
	env.Attempts++

	// Match results to recipients by address; a recipient listed twice
	// takes the results in turn.
	byAddr := map[string][]*Recipient{}
	for _, r := range pending {
		byAddr[r.Address] = append(byAddr[r.Address], r)
	}
	for _, res := range results {
		rs := byAddr[res.Recipient]
		if len(rs) == 0 {
			log.Warn("delivery result for a recipient not attempted", slog.String("rcpt", res.Recipient))
			continue
		}
		byAddr[res.Recipient] = rs[1:]
		q.record(log, rs[0], res, now, env.Attempts)
	}
	for _, rs := range byAddr {
		for _, r := range rs {
			q.record(log, r, Result{Recipient: r.Address, Text: "no delivery result"}, now, env.Attempts)
		}
	}

	still := env.Pending()
	if len(still) == 0 {
		return false
	}
	age := now.Sub(env.Received)
	if age >= q.opts.Expire {
		for _, r := range still {
			r.State = StateFailed
			last := r.LastReply
			r.LastReply = fmt.Sprintf("expired: not delivered within %v", q.opts.Expire)
			if last != "" {
				r.LastReply += "; last reply: " + last
			}
			log.Info("recipient expired", slog.String("rcpt", r.Address),
				slog.Duration("age", age), slog.String("reply", r.LastReply))
		}
		return false
	}
	env.NextAttempt = now.Add(q.opts.retryAfter(env.Attempts))
	if q.opts.OnDelay != nil && q.opts.DelayNotice > 0 && !env.DelayNotified && age >= q.opts.DelayNotice {
		env.DelayNotified = true
		return true
	}
	return false
}

// record applies one result to recipient r and logs it.
func (q *Queue) record(log *slog.Logger, r *Recipient, res Result, now time.Time, attempt int) {
	r.Attempts++
	r.LastAttempt = now
	r.LastReply = replyText(res)
	r.RemoteMTA = res.RemoteMTA
	var outcome string
	switch {
	case res.Delivered():
		r.State, outcome = StateDelivered, "delivered"
		switch {
		case res.Final:
			r.SuccessAction = "delivered"
		case res.Relayed:
			r.SuccessAction = "relayed"
		}
	case res.Permanent:
		r.State, outcome = StateFailed, "failed"
	default:
		r.State, outcome = StatePending, "deferred"
	}
	log.Info("delivery attempt", slog.String("rcpt", r.Address), slog.String("result", outcome),
		slog.Int("code", res.Code), slog.String("reply", r.LastReply),
		slog.String("remote", res.RemoteMTA), slog.Int("attempt", attempt))
}

// replyText formats a result as "250 2.0.0 text".
func replyText(res Result) string {
	if res.Code == 0 {
		return res.Text
	}
	parts := []string{strconv.Itoa(res.Code)}
	if res.Enhanced != "" {
		parts = append(parts, res.Enhanced)
	}
	if res.Text != "" {
		parts = append(parts, res.Text)
	}
	return strings.Join(parts, " ")
}

// reschedule records a message with pending recipients and puts it back on
// the schedule.
func (q *Queue) reschedule(ctx context.Context, log *slog.Logger, e *entry, env *Envelope, notifyDelay bool) {
	err := q.ensureFile(e)
	if err == nil {
		err = q.store.writeEnvelope(env)
	}
	if err != nil {
		// The previous state stays on disk; after a restart the message
		// is tried again from there.
		log.Error("cannot record delivery state", slog.Any("error", err))
	}
	q.mu.Lock()
	if e.retry {
		e.retry = false
		env.NextAttempt = q.opts.Now()
	}
	e.env = env
	e.busy = false
	if !env.Held {
		heap.Push(&q.sched, e)
	}
	q.mu.Unlock()
	q.signal()
	log.Info("message deferred", slog.Int("attempts", env.Attempts),
		slog.Int("pending", len(env.Pending())), slog.Time("next_attempt", env.NextAttempt))
	if notifyDelay {
		q.opts.OnDelay(ctx, cloneEnvelope(env), cloneRecipients(env.Pending()))
	}
}

// finish ends a message without pending recipients: removed when all were
// delivered; otherwise its final state is recorded, OnFailure is called
// and it is moved to failed/.
func (q *Queue) finish(ctx context.Context, log *slog.Logger, e *entry, env *Envelope) {
	var failed []*Recipient
	for _, r := range env.Recipients {
		if r.State == StateFailed {
			failed = append(failed, r)
		}
	}
	delivered := len(env.Recipients) - len(failed)
	if q.opts.OnSuccess != nil {
		var done []*Recipient
		for _, r := range env.Recipients {
			if r.State == StateDelivered && r.SuccessAction != "" {
				done = append(done, r)
			}
		}
		if len(done) > 0 {
			q.opts.OnSuccess(ctx, cloneEnvelope(env), cloneRecipients(done))
		}
	}
	if len(failed) == 0 {
		if !q.dropJournal(e) {
			if err := q.store.remove(env.ID); err != nil {
				log.Error("cannot remove delivered message", slog.Any("error", err))
			}
		}
		q.forget(env.ID)
		log.Info("message finished", slog.String("outcome", "delivered"),
			slog.Int("delivered", delivered), slog.Int("attempts", env.Attempts))
		return
	}
	err := q.ensureFile(e)
	if err == nil {
		err = q.store.writeEnvelope(env)
	}
	if err != nil {
		// Without the final state on disk the failure must not be
		// reported yet: keep the message and try again later.
		log.Error("cannot record final state", slog.Any("error", err))
		q.mu.Lock()
		env.NextAttempt = q.opts.Now().Add(q.opts.retryAfter(1))
		e.env = env
		e.busy = false
		if !env.Held {
			heap.Push(&q.sched, e)
		}
		q.mu.Unlock()
		return
	}
	if q.opts.OnFailure != nil {
		q.opts.OnFailure(ctx, cloneEnvelope(env), cloneRecipients(failed))
	}
	if err := q.store.moveToFailed(env.ID); err != nil {
		log.Error("cannot move failed message to failed/", slog.Any("error", err))
	}
	q.forget(env.ID)
	log.Info("message finished", slog.String("outcome", "failed"),
		slog.Int("delivered", delivered), slog.Int("failed", len(failed)),
		slog.Int("attempts", env.Attempts))
}

// forget drops a finished message from memory.
func (q *Queue) forget(id string) {
	q.mu.Lock()
	delete(q.entries, id)
	q.mu.Unlock()
}

// cloneRecipients returns deep copies of rs.
func cloneRecipients(rs []*Recipient) []*Recipient {
	out := make([]*Recipient, len(rs))
	for i, r := range rs {
		rc := *r
		rc.Notify = append([]string(nil), r.Notify...)
		out[i] = &rc
	}
	return out
}
