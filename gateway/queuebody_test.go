package gateway

import (
	"io"

	"bridgehead.dev/bridgehead/gateway/queue"
)

// readQueuedBody returns the bytes of queued message id as the queue
// stores them (without the envelope the queue keeps in the same file).
func readQueuedBody(q *queue.Queue, id string) ([]byte, error) {
	r, err := q.OpenBody(id)
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }()
	return io.ReadAll(r)
}
