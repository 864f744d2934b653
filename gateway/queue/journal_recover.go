package queue

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"bridgehead.dev/bridgehead/internal/durable"
)

// recoverJournal empties the journal directory left by the previous run,
// before the rest of recovery looks at msg/ and env/: every intact record
// that is not in its segment's done log and whose message has no file in
// msg/ is written there in the one-file format (spoolfile.go), fsynced;
// then msg/ is fsynced and the segments and done logs are removed. A
// record with a bad checksum or cut short ends its segment: a torn write
// was never acknowledged, and nothing after it was either (the committer
// writes a batch in order and acknowledges only after its sync).
func (s *store) recoverJournal(dir string, log *slog.Logger) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	migrated := 0
	for _, de := range des {
		name := de.Name()
		if strings.HasSuffix(name, ".done") || !de.Type().IsRegular() {
			continue
		}
		n, err := s.recoverSegment(filepath.Join(dir, name), log)
		if err != nil {
			return err
		}
		migrated += n
	}
	if migrated > 0 {
		if err := s.msgSync.Sync(); err != nil {
			return fmt.Errorf("recover journal: %w", err)
		}
	}
	for _, de := range des {
		if err := os.RemoveAll(filepath.Join(dir, de.Name())); err != nil {
			return fmt.Errorf("recover journal: %w", err)
		}
	}
	if len(des) > 0 {
		if err := durable.SyncDir(dir); err != nil {
			return fmt.Errorf("recover journal: %w", err)
		}
		log.Info("journal recovered", slog.Int("segments", len(des)), slog.Int("migrated", migrated))
	}
	return nil
}

// recoverSegment migrates the live records of the segment at path to
// msg/ and returns how many it wrote. msg/ still needs a fsync.
func (s *store) recoverSegment(path string, log *slog.Logger) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("recover journal: %w", err)
	}
	done, err := readDoneLog(path + ".done")
	if err != nil {
		return 0, fmt.Errorf("recover journal: %w", err)
	}
	n := 0
	for off := 0; off < len(data); {
		rec, err := parseRecord(data[off:])
		if err != nil {
			log.Warn("journal segment ends in an incomplete record", slog.String("path", path),
				slog.Int("offset", off), slog.Int("bytes", len(data)-off))
			break
		}
		off += int(rec.size)
		if done[rec.id] {
			continue
		}
		if _, err := os.Lstat(s.bodyPath(rec.id)); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("recover journal: %w", err)
		}
		if err := s.writeMessageFile(rec.id, rec.body, rec.env, nil); err != nil {
			return n, fmt.Errorf("recover journal: %w", err)
		}
		n++
	}
	return n, nil
}

// readDoneLog returns the ids in a done log; a missing log is empty, and
// a last line without its newline (cut short) does not count.
func readDoneLog(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	done := map[string]bool{}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		done[string(data[:i])] = true
		data = data[i+1:]
	}
	return done, nil
}
