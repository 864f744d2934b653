package bounce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/mailboxstore"
	"bridgehead.dev/bridgehead/ndr"
)

// errNoQueue means SetQueue has not been called.
var errNoQueue = errors.New("bounce: no queue set")

// enqueue queues msg with the null envelope sender to rcpt and returns its
// queue id.
func (r *Reporter) enqueue(ctx context.Context, rcpt string, msg []byte) (string, error) {
	q := r.q.Load()
	if q == nil {
		return "", errNoQueue
	}
	tx, err := q.Begin(&queue.Envelope{
		From:       "",
		Recipients: []*queue.Recipient{{Address: rcpt}},
		Listener:   "bounce",
	})
	if err != nil {
		return "", fmt.Errorf("queue report: %w", err)
	}
	if _, err := tx.Write(msg); err != nil {
		_ = tx.Abort()
		return "", fmt.Errorf("queue report: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("queue report: %w", err)
	}
	return tx.ID(), nil
}

// readOriginal returns the bytes of queued message id, at most one byte
// more than a report returns (so that ndr still sees that it is too
// large).
func (r *Reporter) readOriginal(id string) ([]byte, error) {
	q := r.q.Load()
	if q == nil {
		return nil, errNoQueue
	}
	body, err := q.OpenBody(id)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	limit := r.opts.MaxReturnSize
	if limit <= 0 {
		limit = ndr.DefaultMaxReturnSize
	}
	b, err := io.ReadAll(io.LimitReader(body, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read original %s: %w", id, err)
	}
	return b, nil
}

// copyToPostmaster stores a copy of report msg in the postmaster's INBOX.
func (r *Reporter) copyToPostmaster(ctx context.Context, log *slog.Logger, msg []byte) {
	uid, err := r.opts.Store.Append(ctx, mailboxstore.PostmasterOwner, mailboxstore.Inbox, bytes.NewReader(msg))
	if err != nil {
		log.Error("cannot copy report to the postmaster", slog.Any("error", err))
		return
	}
	log.Debug("report copied to the postmaster", slog.Uint64("uid", uint64(uid)))
}
