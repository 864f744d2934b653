package queue

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
)

// benchQueue opens a queue in a temporary directory for a benchmark;
// spill is its SpillThreshold (0: the default, negative: no journal).
func benchQueue(b *testing.B, spill int64) *Queue {
	b.Helper()
	q, err := Open(context.Background(), Options{
		Dir:            filepath.Join(b.TempDir(), "queue"),
		Deliverer:      nopDeliverer{},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		SpillThreshold: spill,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = q.Close() })
	return q
}

// benchCommit queues one 1 KiB message, fsynced.
func benchCommit(b *testing.B, q *Queue, body []byte) {
	tx, err := q.Begin(&Envelope{From: "a@example.test", Recipients: []*Recipient{{Address: "b@example.test"}}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tx.Write(body); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCommit measures one committer: each Commit waits for its own
// journal write and fdatasync.
func BenchmarkCommit(b *testing.B) {
	q := benchQueue(b, 0)
	body := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmno\r\n"), 16) // 1 KiB
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		benchCommit(b, q, body)
	}
}

// BenchmarkCommitParallel measures many sessions committing at once
// through the journal; their writes and syncs are grouped.
func BenchmarkCommitParallel(b *testing.B) {
	benchCommitParallel(b, 0)
}

// BenchmarkCommitParallelFile is BenchmarkCommitParallel without the
// journal: each message its own file (create, fsync, rename; the directory
// fsyncs shared), as big messages are committed.
func BenchmarkCommitParallelFile(b *testing.B) {
	benchCommitParallel(b, -1)
}

func benchCommitParallel(b *testing.B, spill int64) {
	q := benchQueue(b, spill)
	body := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmno\r\n"), 16)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism(16) // 16 committers per CPU: SMTP sessions wait on disk, not CPU
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchCommit(b, q, body)
		}
	})
}
