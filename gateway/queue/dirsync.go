package queue

import (
	"sync"

	"bridgehead.dev/bridgehead/internal/durable"
)

// dirSyncer fsyncs one directory on behalf of many goroutines at once
// (group commit): a caller needs a sync that starts after its own change
// to the directory, and one sync serves every caller waiting for it.
type dirSyncer struct {
	dir string

	mu      sync.Mutex
	cond    *sync.Cond
	running bool   // a sync is in progress
	started uint64 // number of syncs started
	done    uint64 // number of syncs finished
	err     error  // result of the latest finished sync
}

func newDirSyncer(dir string) *dirSyncer {
	s := &dirSyncer{dir: dir}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// Sync returns once a fsync of the directory that started after Sync was
// called has finished, with that sync's error.
func (s *dirSyncer) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A sync in progress may have started before the caller's change; the
	// next one to start is the first that surely covers it.
	target := s.started + 1
	for s.done < target {
		if s.running {
			s.cond.Wait()
			continue
		}
		s.running = true
		s.started++
		n := s.started
		s.mu.Unlock()
		err := durable.SyncDir(s.dir)
		s.mu.Lock()
		s.running = false
		s.done, s.err = n, err
		s.cond.Broadcast()
	}
	return s.err
}
