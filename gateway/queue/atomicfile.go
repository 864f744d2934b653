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
func writeFileAtomic(create createTempFunc, tmpDir, dst string, data []byte, syncDir func() error) (err error) {
	f, err := create(tmpDir, "."+filepath.Base(dst)+".*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", dst, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, dst, err)
	}
	if err := syncDir(); err != nil {
		// dst is in place; only its durability is in doubt, so the
		// temporary file (now dst) must not be removed here.
		return errors.Join(errRenamed, err)
	}
	return nil
}

// errRenamed marks an error of writeFileAtomic that happened after the
// file had been renamed into place.
var errRenamed = errors.New("renamed into place but directory not synced")
