package mailboxstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"

	"bridgehead.dev/bridgehead/internal/durable"
)

// ErrNoSuchFolder is returned (wrapped) for a folder that does not exist.
var ErrNoSuchFolder = errors.New("mailboxstore: no such folder")

// Store is a set of Maildir mailboxes, one per owner. It is safe for
// concurrent use.
type Store struct {
	opts Options
	log  *slog.Logger
	host string
	seq  atomic.Uint64

	mu           sync.Mutex // guards folders and lastValidity, and folder creation and deletion
	folders      map[folderKey]*folder
	lastValidity uint32
}

type folderKey struct{ owner, name string }

// Open validates opts, creates the root directory if missing and returns the
// store. Folders are loaded on first use.
func Open(opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("mailboxstore: create %s: %w", opts.Dir, err)
	}
	return &Store{
		opts:    opts,
		log:     opts.Logger.With(slog.String("component", "mailboxstore")),
		host:    maildirHost(),
		folders: make(map[folderKey]*folder),
	}, nil
}

// Append delivers a message into owner's folder, creating the mailbox and
// folder if missing. The message is fsynced and renamed into new/ (and the
// directory fsynced) before Append returns. It returns the assigned UID.
func (s *Store) Append(ctx context.Context, owner, folderName string, msg io.Reader) (uint32, error) {
	o, err := normalizeOwner(owner)
	if err != nil {
		return 0, fmt.Errorf("mailboxstore: append: %w", err)
	}
	name, err := normalizeFolder(folderName)
	if err != nil {
		return 0, fmt.Errorf("mailboxstore: append: %w", err)
	}
	f, err := s.folder(o, name, true)
	if err != nil {
		return 0, fmt.Errorf("mailboxstore: append to %s/%s: %w", o, name, err)
	}
	uid, err := s.deliver(ctx, f, msg, "", s.opts.Clock())
	if err != nil {
		return 0, fmt.Errorf("mailboxstore: append to %s/%s: %w", o, name, err)
	}
	s.log.Info("message stored", slog.String("owner", o), slog.String("folder", name), slog.Uint64("uid", uint64(uid)))
	return uint32(uid), nil
}

// deliver writes msg into f with the given flags and internal date.
func (s *Store) deliver(ctx context.Context, f *folder, msg io.Reader, letters string, date time.Time) (imap.UID, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	date = time.Unix(date.Unix(), 0) // the uidlist keeps seconds
	name, err := uniqueName(date, s.seq.Add(1), s.host)
	if err != nil {
		return 0, err
	}
	tmp := filepath.Join(f.dir, subTmp, name)
	size, err := writeSynced(ctx, tmp, msg)
	if err != nil {
		return 0, err
	}
	if err := os.Chtimes(tmp, date, date); err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("set date of %s: %w", tmp, err)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleted {
		_ = os.Remove(tmp)
		return 0, errFolderDeleted
	}
	m := &message{base: name, sub: subNew, date: date, size: size}
	if letters != "" {
		m.sub, m.letters = subCur, letters
	}
	final := f.pathOf(m)
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("move %s into %s: %w", name, m.sub, err)
	}
	if err := durable.SyncDir(filepath.Dir(final)); err != nil {
		_ = os.Remove(final)
		return 0, err
	}
	if err := f.addLocked(m); err != nil {
		return 0, err
	}
	return m.uid, nil
}

// writeSynced copies r into a new file at path and fsyncs it.
func writeSynced(ctx context.Context, path string, r io.Reader) (int64, error) {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", path, err)
	}
	n, err := io.Copy(fh, ctxReader{ctx: ctx, r: r})
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return n, nil
}

// ctxReader stops reading once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// folderDir is the Maildir directory of a folder.
func (s *Store) folderDir(owner, name string) string {
	if name == Inbox {
		return filepath.Join(s.opts.Dir, owner)
	}
	return filepath.Join(s.opts.Dir, owner, "."+name)
}

// folder returns a loaded folder. With create, a missing folder is created
// (with the owner's INBOX and Badmail); without, ErrNoSuchFolder is returned.
// owner and name must be normalized.
func (s *Store) folder(owner, name string, create bool) (*folder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := folderKey{owner, name}
	if f := s.folders[key]; f != nil {
		return f, nil
	}
	dir := s.folderDir(owner, name)
	if _, err := os.Stat(filepath.Join(dir, subCur)); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("stat folder: %w", err)
		}
		if !create {
			return nil, fmt.Errorf("%w: %s/%s", ErrNoSuchFolder, owner, name)
		}
		if err := s.ensureOwnerLocked(owner); err != nil {
			return nil, err
		}
		if err := makeMaildir(dir, name != Inbox); err != nil {
			return nil, err
		}
	}
	f, err := loadFolder(owner, name, dir, s.newValidityLocked, s.log)
	if err != nil {
		return nil, err
	}
	s.folders[key] = f
	return f, nil
}

// ensureOwner creates owner's INBOX and Badmail if missing.
func (s *Store) ensureOwner(owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ensureOwnerLocked(owner)
}

func (s *Store) ensureOwnerLocked(owner string) error {
	for _, name := range []string{Inbox, Badmail} {
		dir := s.folderDir(owner, name)
		if _, err := os.Stat(filepath.Join(dir, subCur)); err == nil {
			continue
		}
		if err := makeMaildir(dir, name != Inbox); err != nil {
			return err
		}
	}
	return nil
}

// newValidityLocked returns a UIDVALIDITY for a new folder: the time in
// seconds, always greater than the last one this store gave out.
func (s *Store) newValidityLocked() uint32 {
	v := uint32(s.opts.Clock().Unix())
	if v <= s.lastValidity {
		v = s.lastValidity + 1
	}
	s.lastValidity = v
	return v
}

// folderNames lists owner's folders: INBOX first, then the others sorted.
func (s *Store) folderNames(owner string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.opts.Dir, owner))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list folders of %s: %w", owner, err)
	}
	names := []string{Inbox}
	for _, de := range entries {
		n, ok := strings.CutPrefix(de.Name(), ".")
		if !ok || !de.IsDir() {
			continue
		}
		if _, err := normalizeFolder(n); err != nil || n == Inbox {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.opts.Dir, owner, de.Name(), subCur)); err != nil {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names[1:])
	return names, nil
}

// owners lists the owners that have a mailbox on disk.
func (s *Store) owners() ([]string, error) {
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("list owners: %w", err)
	}
	var l []string
	for _, de := range entries {
		if o, err := normalizeOwner(de.Name()); err == nil && o == de.Name() && de.IsDir() {
			l = append(l, o)
		}
	}
	return l, nil
}

// createFolder makes a new, empty folder; it fails if it exists.
func (s *Store) createFolder(owner, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.folderDir(owner, name)
	if _, err := os.Stat(filepath.Join(dir, subCur)); err == nil {
		return fs.ErrExist
	}
	if err := s.ensureOwnerLocked(owner); err != nil {
		return err
	}
	return makeMaildir(dir, true)
}

// deleteFolder removes a folder and its messages. INBOX and Badmail stay.
func (s *Store) deleteFolder(owner, name string) error {
	if name == Inbox || name == Badmail {
		return fmt.Errorf("mailboxstore: folder %s cannot be deleted", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.folderDir(owner, name)
	if _, err := os.Stat(filepath.Join(dir, subCur)); err != nil {
		return fmt.Errorf("%w: %s/%s", ErrNoSuchFolder, owner, name)
	}
	key := folderKey{owner, name}
	if f := s.folders[key]; f != nil {
		f.mu.Lock()
		f.deleted = true
		f.mu.Unlock()
		delete(s.folders, key)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete folder %s/%s: %w", owner, name, err)
	}
	s.log.Info("folder deleted", slog.String("owner", owner), slog.String("folder", name))
	return durable.SyncDir(filepath.Dir(dir))
}
