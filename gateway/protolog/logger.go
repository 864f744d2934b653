package protolog

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DefaultRetain is how long files are kept unless Options.Retain says.
const DefaultRetain = 30 * 24 * time.Hour

// Options configure a Logger.
type Options struct {
	// Dir is the directory of the listener's log files; made if missing.
	// Required. Two Loggers must not share one.
	Dir string
	// Site is the s-sitename field: the listener's name.
	Site string
	// Computer is the s-computername field: the host name.
	Computer string
	// Retain is how long files are kept, judged by the day in their names;
	// older ones are deleted when a file is opened. Default DefaultRetain;
	// negative keeps every file.
	Retain time.Duration
	// FlushInterval bounds how long a line stays in the buffer. Default 1s.
	FlushInterval time.Duration
	// Now is the clock; default time.Now. Days are UTC days.
	Now func() time.Time
	// Logger receives write errors; default slog.Default().
	Logger *slog.Logger
}

// Logger writes one listener's protocol log. Its methods are safe for
// concurrent use; a nil *Logger logs nothing.
type Logger struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	day     string // file name of the open file
	pending *time.Timer
	closed  bool
	failed  bool // the last write failed: logged once until one succeeds
	buf     []byte
}

// Open checks the options and makes the directory; the first file is
// opened with the first line.
func Open(opts Options) (*Logger, error) {
	if opts.Dir == "" {
		return nil, errors.New("protolog: no directory")
	}
	if opts.Retain == 0 {
		opts.Retain = DefaultRetain
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("protolog: make directory: %w", err)
	}
	return &Logger{opts: opts, log: opts.Logger.With(slog.String("component", "protolog"), slog.String("listener", opts.Site))}, nil
}

// Log writes one line. Errors are logged, not returned: a full disk must
// not stop mail.
func (l *Logger) Log(e Entry) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = l.opts.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if err := l.rotate(e.Time); err != nil {
		l.fail(err)
		return
	}
	l.buf = appendLine(l.buf[:0], &e, l.opts.Site, l.opts.Computer)
	if _, err := l.w.Write(l.buf); err != nil {
		l.fail(err)
		return
	}
	l.failed = false
	if l.pending == nil {
		l.pending = time.AfterFunc(l.opts.FlushInterval, l.timedFlush)
	}
}

// fail logs a write error once until writing works again.
func (l *Logger) fail(err error) {
	if !l.failed {
		l.log.Error("protocol log write failed", slog.String("dir", l.opts.Dir), slog.Any("error", err))
	}
	l.failed = true
}

// rotate makes sure the open file is the one for the day of t.
func (l *Logger) rotate(t time.Time) error {
	name := fileName(t)
	if l.f != nil && name == l.day {
		return nil
	}
	if err := l.closeFile(); err != nil {
		l.log.Warn("protocol log close failed", slog.Any("error", err))
	}
	f, err := os.OpenFile(filepath.Join(l.opts.Dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("protolog: open: %w", err)
	}
	l.f, l.day = f, name
	l.w = bufio.NewWriterSize(f, 32<<10)
	if _, err := l.w.WriteString(header(l.opts.Now())); err != nil {
		return fmt.Errorf("protolog: write header: %w", err)
	}
	l.prune(t)
	return nil
}

// prune deletes files whose day is more than Retain before t's day.
func (l *Logger) prune(t time.Time) {
	if l.opts.Retain < 0 {
		return
	}
	ents, err := os.ReadDir(l.opts.Dir)
	if err != nil {
		l.log.Warn("protocol log retention: read directory", slog.Any("error", err))
		return
	}
	today := t.UTC().Truncate(24 * time.Hour)
	for _, e := range ents {
		day, ok := fileDay(e.Name())
		if !ok || e.IsDir() || today.Sub(day) <= l.opts.Retain {
			continue
		}
		if err := os.Remove(filepath.Join(l.opts.Dir, e.Name())); err != nil {
			l.log.Warn("protocol log retention: delete", slog.String("file", e.Name()), slog.Any("error", err))
			continue
		}
		l.log.Info("protocol log deleted", slog.String("file", e.Name()))
	}
}

func (l *Logger) timedFlush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = nil
	if err := l.flushLocked(); err != nil {
		l.fail(err)
	}
}

// Flush writes the buffered lines to the file.
func (l *Logger) Flush() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked()
}

func (l *Logger) flushLocked() error {
	if l.w == nil {
		return nil
	}
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("protolog: flush: %w", err)
	}
	return nil
}

func (l *Logger) closeFile() error {
	if l.f == nil {
		return nil
	}
	ferr := l.w.Flush()
	cerr := l.f.Close()
	l.f, l.w, l.day = nil, nil, ""
	if err := errors.Join(ferr, cerr); err != nil {
		return fmt.Errorf("protolog: close: %w", err)
	}
	return nil
}

// Close writes what is buffered and closes the file; later lines are
// dropped.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending != nil {
		l.pending.Stop()
		l.pending = nil
	}
	l.closed = true
	return l.closeFile()
}
