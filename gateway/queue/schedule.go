package queue

import "container/heap"

// entry is the queue's in-memory record of one committed message.
type entry struct {
	// env is the current state, as on disk. It is replaced, never
	// changed in place, so a worker can attempt a copy of it.
	env *Envelope
	// busy is set while a worker has the message.
	busy bool
	// retry asks for an attempt right after the current one (RetryNow
	// while busy).
	retry bool
	// index is the position in the schedule, -1 when not scheduled.
	index int
	// loc is where the message's record lies in the journal while the
	// message is there rather than in msg/; nil otherwise. Under q.mu.
	loc *jloc
}

// schedule is a min-heap of the messages waiting for an attempt, earliest
// NextAttempt first.
type schedule []*entry

var _ heap.Interface = (*schedule)(nil)

func (s schedule) Len() int { return len(s) }

func (s schedule) Less(i, j int) bool {
	a, b := s[i].env, s[j].env
	if !a.NextAttempt.Equal(b.NextAttempt) {
		return a.NextAttempt.Before(b.NextAttempt)
	}
	return a.ID < b.ID
}

func (s schedule) Swap(i, j int) {
	s[i], s[j] = s[j], s[i]
	s[i].index = i
	s[j].index = j
}

func (s *schedule) Push(x any) {
	e := x.(*entry)
	e.index = len(*s)
	*s = append(*s, e)
}

func (s *schedule) Pop() any {
	old := *s
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	e.index = -1
	*s = old[:n-1]
	return e
}
