package mailboxstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// staleTmpAge is how old a file in tmp/ must be before the janitor removes
// it, as the Maildir specification suggests.
const staleTmpAge = 36 * time.Hour

// RunJanitor removes messages older than Options.Retention every
// Options.JanitorInterval (first sweep at once) until ctx is done, and then
// returns nil. With Retention 0 it only cleans stale files from tmp/.
// Errors of a sweep are logged; the janitor keeps going.
func (s *Store) RunJanitor(ctx context.Context) error {
	t := time.NewTicker(s.opts.JanitorInterval)
	defer t.Stop()
	for {
		n, err := s.RemoveExpired(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("janitor sweep", slog.Any("error", err))
		}
		if s.opts.afterSweep != nil {
			s.opts.afterSweep(n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RemoveExpired makes one janitor sweep: it removes every message older than
// Options.Retention (by internal date, against Options.Clock) from every
// folder of every owner, and files in tmp/ last written over 36 hours ago. It returns
// how many messages it removed.
func (s *Store) RemoveExpired(ctx context.Context) (int, error) {
	owners, err := s.owners()
	if err != nil {
		return 0, fmt.Errorf("mailboxstore: janitor: %w", err)
	}
	now := s.opts.Clock()
	total := 0
	var errs []error
	for _, owner := range owners {
		names, err := s.folderNames(owner)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			f, err := s.folder(owner, name, false)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if s.opts.Retention > 0 {
				n, err := f.removeOlderThan(now.Add(-s.opts.Retention))
				if err != nil {
					errs = append(errs, err)
				}
				if n > 0 {
					s.log.Info("expired messages removed", slog.String("owner", owner),
						slog.String("folder", name), slog.Int("count", n))
				}
				total += n
			}
			// tmp/ files carry real modification times, not Clock's.
			if err := removeStaleTmp(f.dir, time.Now().Add(-staleTmpAge)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return total, fmt.Errorf("mailboxstore: janitor: %w", err)
	}
	return total, nil
}

// removeOlderThan expunges messages whose internal date is before cutoff.
func (f *folder) removeOlderThan(cutoff time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleted {
		return 0, nil
	}
	return f.expungeLocked(func(m *message) bool { return m.date.Before(cutoff) })
}

// removeStaleTmp removes files in dir/tmp last modified before cutoff: the
// leftovers of deliveries interrupted by a crash.
func removeStaleTmp(dir string, cutoff time.Time) error {
	tmp := filepath.Join(dir, subTmp)
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("read %s: %w", tmp, err)
	}
	for _, de := range entries {
		info, err := de.Info()
		if err != nil || !info.Mode().IsRegular() || !info.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(tmp, de.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", de.Name(), err)
		}
	}
	return nil
}
