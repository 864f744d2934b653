package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// createTempFunc makes a temporary file, like os.CreateTemp.
type createTempFunc func(dir, pattern string) (*os.File, error)

// writeFileAtomic writes data to dst so that dst holds either its old
// content or all of data, even across a crash: it writes a temporary file
// in tmpDir (same file system as dst), fsyncs and closes it, renames it to
// dst and then calls syncDir, which must fsync dst's directory. When
// anything before the rename fails, the temporary file is removed and dst
// is untouched; when syncDir fails, dst has been replaced but may not
// survive a crash.
func writeFileAtomic(create createTempFunc, tmpDir, dst string, data []byte, syncDir func() error) error {
	tmp, err := writeTemp(create, tmpDir, dst, data)
	if err != nil {
		return err
	}
	return placeFile(tmp, dst, syncDir)
}

// writeTemp writes data to a new temporary file in tmpDir, fsyncs and
// closes it, and returns its path; on error it leaves nothing behind. dst
// is where the file is going, for the temporary name and errors.
func writeTemp(create createTempFunc, tmpDir, dst string, data []byte) (string, error) {
	f, err := create(tmpDir, "."+filepath.Base(dst)+".*")
	if err != nil {
		return "", fmt.Errorf("create temporary file for %s: %w", dst, err)
	}
	tmp := f.Name()
	fail := func(op string, err error) (string, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return "", fmt.Errorf("%s %s: %w", op, tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("close %s: %w", tmp, err)
	}
	return tmp, nil
}

// placeFile renames the fsynced temporary file tmp to dst and calls
// syncDir. When the rename fails, tmp is removed; when syncDir fails, the
// error wraps errRenamed: dst is in place but may not survive a crash.
func placeFile(tmp, dst string, syncDir func() error) error {
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rename %s to %s: %w", tmp, dst, err)
	}
	if err := syncDir(); err != nil {
		return errors.Join(errRenamed, err)
	}
	return nil
}

// errRenamed marks an error of writeFileAtomic that happened after the
// file had been renamed into place.
var errRenamed = errors.New("renamed into place but directory not synced")
