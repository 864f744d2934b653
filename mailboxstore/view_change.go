package mailboxstore

import (
	"bytes"
	"errors"
	"log/slog"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Store changes flags (mapped to Maildir info letters) and, unless silent,
// answers with the new flags.
func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	v := s.view
	if v.readOnly {
		return errReadOnly
	}
	var firstErr error
	v.f.mu.Lock()
	v.forEachLocked(numSet, func(seq uint32, m *message) {
		letters := applyFlags(m.letters, flags.Op, flags.Flags)
		if letters == m.letters {
			return
		}
		if err := v.f.setLettersLocked(m, letters); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		v.f.tracker.QueueMessageFlags(seq, m.uid, imapFlags(m.letters), v.tracker)
		v.f.notifyLocked()
	})
	v.f.mu.Unlock()
	if firstErr != nil {
		s.log.Error("imap store", slog.Any("error", firstErr))
		return errServer
	}
	if flags.Silent {
		return nil
	}
	return s.Fetch(w, numSet, &imap.FetchOptions{Flags: true})
}

// Expunge removes the messages flagged \Deleted (only those in uids, if
// given). The EXPUNGE responses go out with the next poll, which imapserver
// makes before the tagged reply.
func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	v := s.view
	if v.readOnly {
		return errReadOnly
	}
	v.f.mu.Lock()
	if uids != nil {
		v.staticNumSetLocked(*uids)
	}
	n, err := v.f.expungeLocked(func(m *message) bool {
		return hasFlag(m.letters, imap.FlagDeleted) && (uids == nil || uids.Contains(m.uid))
	})
	v.f.mu.Unlock()
	if err != nil {
		s.log.Error("imap expunge", slog.Any("error", err))
		return errServer
	}
	if n > 0 {
		s.log.Info("imap expunge", slog.String("owner", v.f.owner), slog.String("folder", v.f.name), slog.Int("count", n))
	}
	return nil
}

// Copy copies messages into another (or the same) folder, keeping flags and
// internal dates.
func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	data, _, err := s.copyMessages(numSet, dest)
	return data, err
}

// Move copies messages and removes them from the selected folder.
func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	v := s.view
	if v.readOnly {
		return errReadOnly
	}
	data, moved, err := s.copyMessages(numSet, dest)
	if err != nil {
		return err
	}
	v.f.mu.Lock()
	_, err = v.f.expungeLocked(func(m *message) bool { return moved[m.uid] })
	v.f.mu.Unlock()
	if err != nil {
		s.log.Error("imap move: remove source", slog.Any("error", err))
		return errServer
	}
	return w.WriteCopyData(data) // EXPUNGEs follow with the poll
}

func (s *session) copyMessages(numSet imap.NumSet, dest string) (*imap.CopyData, map[imap.UID]bool, error) {
	v := s.view
	_, df, err := s.openFolder(dest)
	if errors.Is(err, errNoMailbox) {
		return nil, nil, errTryCreate
	}
	if err != nil {
		return nil, nil, err
	}
	var snaps []message
	v.f.mu.Lock()
	v.forEachLocked(numSet, func(_ uint32, m *message) { snaps = append(snaps, *m) })
	v.f.mu.Unlock()

	copied := make(map[imap.UID]bool, len(snaps))
	var src, dst imap.UIDSet
	for _, m := range snaps {
		b, err := v.f.readMessage(m)
		if errors.Is(err, errGone) {
			continue
		}
		if err != nil {
			s.log.Error("imap copy: read", slog.Uint64("uid", uint64(m.uid)), slog.Any("error", err))
			return nil, nil, errServer
		}
		uid, err := s.store.deliver(s.ctx, df, bytes.NewReader(b), m.letters, m.date)
		if err != nil {
			s.log.Error("imap copy: write", slog.Uint64("uid", uint64(m.uid)), slog.Any("error", err))
			return nil, nil, errServer
		}
		src.AddNum(m.uid)
		dst.AddNum(uid)
		copied[m.uid] = true
	}
	return &imap.CopyData{UIDValidity: df.uidValidity, SourceUIDs: src, DestUIDs: dst}, copied, nil
}
