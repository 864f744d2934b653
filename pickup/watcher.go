package pickup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-message/textproto"

	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/internal/durable"
	"bridgehead.dev/bridgehead/internal/mailtext"
)

// Listener is the name the Watcher's messages carry in the queue's
// Listener field.
const Listener = "pickup"

// Watcher polls a pickup directory and queues the files put there.
type Watcher struct {
	opts Options
	log  *slog.Logger
	// mu serialises scans.
	mu sync.Mutex
	// stuck remembers files that were queued but could not be removed,
	// so that they are not queued again while this process runs.
	stuck map[fileKey]bool
}

// fileKey identifies one version of a file in the pickup directory.
type fileKey struct {
	name  string
	size  int64
	mtime int64
}

// New checks the options and makes a Watcher. It creates the pickup and
// badmail directories when missing.
func New(opts Options) (*Watcher, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := makeDir(opts.Dir, 0o730|os.ModeSticky|os.ModeSetgid); err != nil {
		return nil, fmt.Errorf("pickup: %w", err)
	}
	if err := makeDir(opts.BadmailDir, 0o750); err != nil {
		return nil, fmt.Errorf("pickup: badmail: %w", err)
	}
	return &Watcher{opts: opts, log: opts.Logger.With(slog.String("component", "pickup")), stuck: map[fileKey]bool{}}, nil
}

// makeDir creates dir with mode when it does not exist; an existing
// directory keeps the mode its owner gave it.
func makeDir(dir string, mode os.FileMode) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s: not a directory", dir)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, mode.Perm()); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, mode); err != nil { // the umask took bits off
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}

// Run polls the directory every Interval, starting at once, until ctx is
// done; it then returns nil after the file in hand is finished. A failed
// poll (the directory unreadable) is logged and tried again.
func (w *Watcher) Run(ctx context.Context) error {
	w.log.Info("watching pickup directory", slog.String("dir", w.opts.Dir),
		slog.String("badmail", w.opts.BadmailDir), slog.Duration("interval", w.opts.Interval))
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		if _, err := w.Scan(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("cannot read pickup directory", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Scan makes one pass over the directory, oldest file first, and returns
// how many files it queued. It stops early when ctx is done. Scans do not
// overlap: a second caller waits.
func (w *Watcher) Scan(ctx context.Context) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	entries, err := os.ReadDir(w.opts.Dir)
	if err != nil {
		return 0, fmt.Errorf("pickup: scan %s: %w", w.opts.Dir, err)
	}
	type candidate struct {
		name string
		fi   os.FileInfo
	}
	var files []candidate
	for _, e := range entries {
		name := e.Name()
		// Directories are left alone; links, FIFOs and the like go to
		// badmail when read.
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") || e.IsDir() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone since ReadDir
		}
		files = append(files, candidate{name, fi})
	}
	slices.SortFunc(files, func(a, b candidate) int {
		if c := a.fi.ModTime().Compare(b.fi.ModTime()); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	queued := 0
	live := make(map[fileKey]bool, len(files))
	for _, f := range files {
		key := fileKey{f.name, f.fi.Size(), f.fi.ModTime().UnixNano()}
		live[key] = true
		if w.stuck[key] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if w.take(ctx, f.name, key) {
			queued++
		}
	}
	for k := range w.stuck {
		if !live[k] {
			delete(w.stuck, k)
		}
	}
	return queued, nil
}

// take handles one file and reports whether it was queued.
func (w *Watcher) take(ctx context.Context, name string, key fileKey) bool {
	log := w.log.With(slog.String("file", name))
	path := filepath.Join(w.opts.Dir, name)
	data, uid, err := w.read(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false // taken by someone else, or renamed away
	case errors.Is(err, ErrBadFile):
		w.reject(log, name, err, uid)
		return false
	case err != nil:
		log.Error("cannot read pickup file", slog.Any("error", err))
		return false
	}
	m, err := Parse(data)
	if err == nil {
		if n := len(m.Header.Values("Received")); n > w.opts.MaxHops {
			err = fmt.Errorf("%w: %d Received fields, more than %d: a mail loop?", ErrBadFile, n, w.opts.MaxHops)
		}
	}
	if err != nil {
		w.reject(log, name, err, uid)
		return false
	}
	id, err := w.enqueue(ctx, m, uid)
	if err != nil {
		log.Error("cannot queue pickup file, leaving it for the next poll", slog.Any("error", err))
		return false
	}
	log = log.With(slog.String("queue_id", id))
	if err := os.Remove(path); err != nil {
		// Queued, but the file stays: do not queue it again.
		w.stuck[key] = true
		log.Error("queued pickup file but cannot remove it", slog.Any("error", err))
	} else {
		_ = durable.SyncDir(w.opts.Dir)
	}
	log.Info("pickup file queued", slog.String("from", m.From), slog.Int("rcpts", len(m.Recipients)),
		slog.Int("uid", uid), slog.Bool("x_headers", m.FromXHeaders))
	return true
}

// read reads a regular file of at most MaxSize bytes. The error wraps
// ErrBadFile for a file that is too large or not a regular file.
func (w *Watcher) read(path string) ([]byte, int, error) {
	f, err := openFile(path)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil {
			switch {
			case !fi.Mode().IsRegular():
				return nil, fileOwner(fi), fmt.Errorf("%w: not a regular file", ErrBadFile)
			case errors.Is(err, os.ErrPermission):
				// It would fail at every poll; the writer must make it
				// readable by the directory's group (sendmail does).
				return nil, fileOwner(fi), fmt.Errorf("%w: the gateway may not read it (%v); write files readable by the pickup directory's group", ErrBadFile, err)
			}
		}
		return nil, -1, fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, -1, fmt.Errorf("stat: %w", err)
	}
	uid := fileOwner(fi)
	if !fi.Mode().IsRegular() {
		return nil, uid, fmt.Errorf("%w: not a regular file", ErrBadFile)
	}
	if extraLinks(fi) {
		return nil, uid, fmt.Errorf("%w: the file has other hard links; write a new file and rename it in", ErrBadFile)
	}
	if fi.Size() > w.opts.MaxSize {
		return nil, uid, fmt.Errorf("%w: %d bytes, more than the %d allowed", ErrBadFile, fi.Size(), w.opts.MaxSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, w.opts.MaxSize+1))
	if err != nil {
		return nil, uid, fmt.Errorf("read: %w", err)
	}
	if int64(len(data)) > w.opts.MaxSize {
		return nil, uid, fmt.Errorf("%w: more than the %d bytes allowed", ErrBadFile, w.opts.MaxSize)
	}
	return data, uid, nil
}

// reject moves a bad file to badmail and logs why.
func (w *Watcher) reject(log *slog.Logger, name string, why error, uid int) {
	reason := strings.TrimPrefix(why.Error(), ErrBadFile.Error()+": ")
	dst, err := w.toBadmail(name, reason, uid)
	if err != nil {
		log.Error("bad pickup file, and cannot move it to badmail", slog.String("reason", reason), slog.Any("error", err))
		return
	}
	log.Warn("bad pickup file moved to badmail", slog.String("reason", reason),
		slog.String("badmail", filepath.Join(w.opts.BadmailDir, dst)), slog.Int("uid", uid))
}

// enqueue writes m to the queue with our headers and commits it.
func (w *Watcher) enqueue(ctx context.Context, m *Message, uid int) (string, error) {
	env := &queue.Envelope{From: m.From, Listener: Listener}
	for _, r := range m.Recipients {
		env.Recipients = append(env.Recipients, &queue.Recipient{Address: r})
	}
	tx, err := w.opts.Queue.Begin(env)
	if err != nil {
		return "", err
	}
	defer tx.Abort() // no-op after Commit
	now := w.opts.Now()
	var b bytes.Buffer
	b.WriteString(receivedField(w.opts.Hostname, env.ID, uid, m.Recipients, now))
	if !m.Header.Has("Date") {
		b.WriteString(dateField(now))
	}
	if !m.Header.Has("Message-Id") {
		b.WriteString("Message-ID: " + mailtext.MessageID(env.ID, w.opts.Hostname) + "\r\n")
	}
	if err := textproto.WriteHeader(&b, m.Header); err != nil {
		return "", fmt.Errorf("pickup: write header: %w", err)
	}
	if _, err := tx.Write(b.Bytes()); err != nil {
		return "", err
	}
	if _, err := tx.Write(m.Body); err != nil {
		return "", err
	}
	if err := tx.Commit(ctx); err != nil {
		return "", err
	}
	return env.ID, nil
}
