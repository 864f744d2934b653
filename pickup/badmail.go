package pickup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"bridgehead.dev/bridgehead/internal/durable"
	"bridgehead.dev/bridgehead/internal/mailtext"
)

// toBadmail moves the pickup file name to the badmail directory, with
// NAME.reason beside it saying why. The reason file is written first, so a
// file in badmail always has its reason. It returns the name used there,
// which differs from name when one of that name is already in badmail.
func (w *Watcher) toBadmail(name string, reason string, uid int) (string, error) {
	dst := w.badmailName(name)
	src := filepath.Join(w.opts.Dir, name)
	var b strings.Builder
	fmt.Fprintf(&b, "File:     %s\n", name)
	fmt.Fprintf(&b, "Time:     %s\n", w.opts.Now().UTC().Format(time.RFC3339))
	if uid >= 0 {
		fmt.Fprintf(&b, "Owner:    uid %d\n", uid)
	}
	fmt.Fprintf(&b, "Reason:   %s\n", mailtext.OneLine(reason))
	reasonPath := filepath.Join(w.opts.BadmailDir, dst+".reason")
	if err := writeFileSync(reasonPath, []byte(b.String())); err != nil {
		return "", fmt.Errorf("write reason: %w", err)
	}
	if err := moveFile(src, filepath.Join(w.opts.BadmailDir, dst)); err != nil {
		_ = os.Remove(reasonPath)
		return "", err
	}
	// Best effort: the files are in place; a failed sync is no reason to
	// queue the file again.
	_ = durable.SyncDir(w.opts.BadmailDir)
	_ = durable.SyncDir(w.opts.Dir)
	return dst, nil
}

// badmailName returns name, or name with a time stamp when badmail already
// has a file of that name.
func (w *Watcher) badmailName(name string) string {
	taken := func(n string) bool {
		_, err := os.Lstat(filepath.Join(w.opts.BadmailDir, n))
		_, err2 := os.Lstat(filepath.Join(w.opts.BadmailDir, n+".reason"))
		return err == nil || err2 == nil
	}
	if !taken(name) {
		return name
	}
	stamp := strconv.FormatInt(w.opts.Now().UnixNano(), 10)
	for i := 0; ; i++ {
		n := name + "." + stamp
		if i > 0 {
			n += "." + strconv.Itoa(i)
		}
		if !taken(n) {
			return n
		}
	}
}

// moveFile renames src to dst, copying across file systems.
func moveFile(src, dst string) error {
	err := os.Rename(src, dst)
	if err == nil {
		return nil
	}
	var le *os.LinkError
	if !errors.As(err, &le) || !isCrossDevice(le.Err) {
		return fmt.Errorf("move to badmail: %w", err)
	}
	in, err := openFile(src)
	if err != nil {
		return fmt.Errorf("move to badmail: %w", err)
	}
	defer in.Close()
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("move to badmail: %w", err)
	}
	if err := writeFileSync(dst, data); err != nil {
		return fmt.Errorf("move to badmail: %w", err)
	}
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("move to badmail: remove %s: %w", src, err)
	}
	return nil
}

// writeFileSync writes data to a new file path (mode 0640) and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}
