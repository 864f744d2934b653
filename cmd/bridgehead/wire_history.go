package main

import (
	"sync"
	"time"

	"bridgehead.dev/bridgehead/gateway/admin"
	"bridgehead.dev/bridgehead/gateway/queue"
)

// attemptLog remembers the delivery attempts of queued messages for
// "bridgehead queue show", in memory: since the last start, at most
// maxPerMessage results per message and maxMessages messages (the oldest
// message is forgotten first). The envelope keeps the lasting counters.
type attemptLog struct {
	mu    sync.Mutex
	byID  map[string][]admin.Attempt
	order []string // ids, oldest first
}

const (
	historyPerMessage = 50
	historyMessages   = 10000
)

func newAttemptLog() *attemptLog { return &attemptLog{byID: map[string][]admin.Attempt{}} }

// add records the results of one attempt on message id.
func (l *attemptLog) add(id string, start time.Time, took time.Duration, results []queue.Result) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h, known := l.byID[id]
	if !known {
		l.order = append(l.order, id)
		if len(l.order) > historyMessages {
			delete(l.byID, l.order[0])
			l.order = l.order[1:]
		}
	}
	for _, r := range results {
		h = append(h, admin.Attempt{
			Time: start.UTC(), Recipient: r.Recipient, Code: r.Code, Enhanced: r.Enhanced, Text: r.Text,
			RemoteMTA: r.RemoteMTA, Delivered: r.Delivered(), Permanent: r.Permanent, Seconds: took.Seconds(),
		})
	}
	if len(h) > historyPerMessage {
		h = h[len(h)-historyPerMessage:]
	}
	l.byID[id] = h
}

// get returns message id's recorded attempts, oldest first.
func (l *attemptLog) get(id string) []admin.Attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]admin.Attempt(nil), l.byID[id]...)
}
