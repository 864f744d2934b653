package mailboxstore

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// errGone is returned when a message disappeared (expunged meanwhile).
var errGone = errors.New("mailboxstore: message is gone")

// errFolderDeleted is returned for operations on a folder deleted meanwhile.
var errFolderDeleted = errors.New("mailboxstore: folder was deleted")

// message is one message of a folder. Fields are protected by folder.mu;
// snapshots are taken by value.
type message struct {
	uid     imap.UID
	base    string // unique part of the file name
	sub     string // subNew or subCur
	letters string // Maildir info flags, sorted
	date    time.Time
	size    int64
}

// folder is one Maildir folder, loaded once and kept in memory.
type folder struct {
	owner, name, dir string
	log              *slog.Logger
	tracker          *imapserver.MailboxTracker

	mu          sync.Mutex
	uidValidity uint32
	uidNext     imap.UID
	msgs        []*message // ascending UID = sequence order
	deleted     bool
	changed     chan struct{} // closed (and replaced) after each tracker update
}

// changedLocked returns a channel closed at the folder's next change.
func (f *folder) changedLocked() <-chan struct{} {
	return f.changed
}

// notifyLocked wakes the sessions waiting in IDLE after tracker updates.
func (f *folder) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// pathOf is the current path of a message's file.
func (f *folder) pathOf(m *message) string {
	return filepath.Join(f.dir, m.sub, fileName(m.sub, m.base, m.letters))
}

// loadFolder reads a folder's uidlist and files, assigning UIDs to files the
// uidlist does not know and persisting the result when it changed.
func loadFolder(owner, name, dir string, newValidity func() uint32, log *slog.Logger) (*folder, error) {
	f := &folder{owner: owner, name: name, dir: dir, log: log, changed: make(chan struct{})}
	var known *uidList
	data, err := os.ReadFile(filepath.Join(dir, uidListName))
	switch {
	case err == nil:
		known, err = parseUIDList(data)
		if err != nil {
			log.Warn("uidlist unreadable, starting a new UIDVALIDITY",
				slog.String("owner", owner), slog.String("folder", name), slog.Any("error", err))
			known = nil
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("read uidlist of %s/%s: %w", owner, name, err)
	}
	dirty := known == nil
	if known == nil {
		known = &uidList{uidValidity: newValidity(), uidNext: 1}
	}
	f.uidValidity, f.uidNext = known.uidValidity, known.uidNext

	files, err := scanFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("scan %s/%s: %w", owner, name, err)
	}
	for _, e := range known.entries {
		m, ok := files[e.base]
		if !ok {
			dirty = true // removed behind our back
			continue
		}
		delete(files, e.base)
		m.uid, m.date = e.uid, e.date
		f.msgs = append(f.msgs, m)
	}
	if len(files) > 0 {
		var extra []*message
		for _, m := range files {
			extra = append(extra, m)
		}
		sort.Slice(extra, func(i, j int) bool { return extra[i].base < extra[j].base })
		for _, m := range extra {
			m.uid = f.uidNext
			f.uidNext++
			f.msgs = append(f.msgs, m)
		}
		dirty = true
	}
	if dirty {
		if err := f.saveLocked(); err != nil {
			return nil, err
		}
	}
	f.tracker = imapserver.NewMailboxTracker(uint32(len(f.msgs)))
	return f, nil
}

// scanFiles lists the message files in new/ and cur/ by unique base; the
// date is the file's modification time.
func scanFiles(dir string) (map[string]*message, error) {
	files := make(map[string]*message)
	for _, sub := range []string{subNew, subCur} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", sub, err)
		}
		for _, de := range entries {
			if !de.Type().IsRegular() || strings.HasPrefix(de.Name(), ".") {
				continue
			}
			info, err := de.Info()
			if err != nil {
				continue // removed while scanning
			}
			base, letters := splitFileName(de.Name())
			if sub == subNew {
				letters = ""
			}
			if _, dup := files[base]; dup {
				continue
			}
			files[base] = &message{base: base, sub: sub, letters: letters, date: info.ModTime(), size: info.Size()}
		}
	}
	return files, nil
}

// saveLocked writes the uidlist atomically.
func (f *folder) saveLocked() error {
	l := uidList{uidValidity: f.uidValidity, uidNext: f.uidNext}
	l.entries = make([]uidEntry, len(f.msgs))
	for i, m := range f.msgs {
		l.entries[i] = uidEntry{uid: m.uid, date: m.date, base: m.base}
	}
	if err := writeFileAtomic(f.dir, uidListName, l.marshal()); err != nil {
		return fmt.Errorf("save uidlist of %s/%s: %w", f.owner, f.name, err)
	}
	return nil
}

// lookupLocked finds a message by UID.
func (f *folder) lookupLocked(uid imap.UID) (int, *message) {
	i := sort.Search(len(f.msgs), func(i int) bool { return f.msgs[i].uid >= uid })
	if i < len(f.msgs) && f.msgs[i].uid == uid {
		return i, f.msgs[i]
	}
	return -1, nil
}

// addLocked records a message file just renamed into the folder, persists the
// uidlist and tells the IMAP sessions. On error the file is removed again.
func (f *folder) addLocked(m *message) error {
	m.uid = f.uidNext
	f.uidNext++
	f.msgs = append(f.msgs, m)
	if err := f.saveLocked(); err != nil {
		f.msgs = f.msgs[:len(f.msgs)-1]
		_ = os.Remove(f.pathOf(m))
		return err
	}
	f.tracker.QueueNumMessages(uint32(len(f.msgs)))
	f.notifyLocked()
	return nil
}

// setLettersLocked gives a message new flags, moving its file to cur/.
// Flag changes are renamed atomically but not fsynced: a crash may lose one.
func (f *folder) setLettersLocked(m *message, letters string) error {
	if m.letters == letters && m.sub == subCur {
		return nil
	}
	old := f.pathOf(m)
	nm := *m
	nm.sub, nm.letters = subCur, letters
	if err := os.Rename(old, f.pathOf(&nm)); err != nil {
		return fmt.Errorf("set flags of %s/%s uid %d: %w", f.owner, f.name, m.uid, err)
	}
	*m = nm
	return nil
}

// expungeLocked removes the messages for which remove is true, tells the
// IMAP sessions and persists the uidlist. It returns how many it removed.
func (f *folder) expungeLocked(remove func(*message) bool) (int, error) {
	var firstErr error
	n := 0
	kept := make([]*message, 0, len(f.msgs))
	for i := len(f.msgs) - 1; i >= 0; i-- {
		m := f.msgs[i]
		if !remove(m) {
			kept = append(kept, m)
			continue
		}
		if err := os.Remove(f.pathOf(m)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			if firstErr == nil {
				firstErr = fmt.Errorf("remove %s/%s uid %d: %w", f.owner, f.name, m.uid, err)
			}
			kept = append(kept, m)
			continue
		}
		f.tracker.QueueExpunge(uint32(i) + 1)
		n++
	}
	if n == 0 {
		return 0, firstErr
	}
	for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
		kept[i], kept[j] = kept[j], kept[i]
	}
	f.msgs = kept
	f.notifyLocked()
	if err := f.saveLocked(); err != nil && firstErr == nil {
		firstErr = err
	}
	return n, firstErr
}

// readMessage reads a message's file from a snapshot; if the file moved
// (flags changed meanwhile) it looks the message up again.
func (f *folder) readMessage(m message) ([]byte, error) {
	data, err := os.ReadFile(f.pathOf(&m))
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return data, err
	}
	f.mu.Lock()
	_, cur := f.lookupLocked(m.uid)
	var p string
	if cur != nil {
		p = f.pathOf(cur)
	}
	f.mu.Unlock()
	if cur == nil {
		return nil, errGone
	}
	return os.ReadFile(p)
}

// statusLocked counts the folder for STATUS and SELECT.
func (f *folder) statusLocked() (total, unseen, deleted uint32, size int64, firstUnseen uint32) {
	for i, m := range f.msgs {
		total++
		size += m.size
		if !hasFlag(m.letters, imap.FlagSeen) {
			unseen++
			if firstUnseen == 0 {
				firstUnseen = uint32(i) + 1
			}
		}
		if hasFlag(m.letters, imap.FlagDeleted) {
			deleted++
		}
	}
	return
}
