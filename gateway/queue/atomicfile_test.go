package queue

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"bridgehead.dev/bridgehead/internal/durable"
)

func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dst := filepath.Join(dir, "f.json")
	synced := 0
	sync := func() error { synced++; return durable.SyncDir(dir) }
	if err := writeFileAtomic(os.CreateTemp, dir, dst, []byte("one"), sync); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(os.CreateTemp, dir, dst, []byte("two"), sync); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "two" || synced != 2 {
		t.Errorf("content %q, %d directory syncs", b, synced)
	}

	// A failing temporary file leaves the old content and no debris.
	broken := errors.New("no space")
	fail := func(string, string) (*os.File, error) { return nil, broken }
	if err := writeFileAtomic(fail, dir, dst, []byte("three"), sync); !errors.Is(err, broken) {
		t.Errorf("err = %v, want %v", err, broken)
	}
	// A rename that cannot happen (dst is a non-empty directory) removes
	// the temporary file.
	sub := filepath.Join(dir, "sub")
	if err := os.MkdirAll(filepath.Join(sub, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(os.CreateTemp, dir, sub, []byte("four"), sync); err == nil {
		t.Error("rename over a directory succeeded")
	}
	if got := dirNames(t, dir); len(got) != 2 || got[0] != "f.json" || got[1] != "sub" {
		t.Errorf("dir holds %v", got)
	}
	if b, _ := os.ReadFile(dst); string(b) != "two" {
		t.Errorf("content %q after failures", b)
	}

	// A failing directory sync is reported as such, the file in place.
	if err := writeFileAtomic(os.CreateTemp, dir, dst, []byte("five"), func() error { return broken }); !errors.Is(err, errRenamed) || !errors.Is(err, broken) {
		t.Errorf("err = %v, want errRenamed and %v", err, broken)
	}
}

func TestDirSyncerConcurrent(t *testing.T) {
	t.Parallel()
	s := newDirSyncer(t.TempDir())
	errs := make(chan error, 50)
	for range 50 {
		go func() { errs <- s.Sync() }()
	}
	for range 50 {
		if err := recv(t, errs); err != nil {
			t.Error(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done < 1 || s.done > 50 || s.running {
		t.Errorf("done %d running %v", s.done, s.running)
	}
	if err := newDirSyncer(filepath.Join(t.TempDir(), "missing")).Sync(); err == nil {
		t.Error("sync of a missing directory succeeded")
	}
}
