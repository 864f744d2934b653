package mailboxstore

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkAppend measures a durable delivery (write, fsync, rename, fsync
// dir, uidlist rewritten atomically) into a folder that grows as it runs.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir(), Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	msg := testMessage("bench", strings.Repeat("a line of a delivery status notification\r\n", 100))
	b.SetBytes(int64(len(msg)))
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Append(ctx, "postmaster", "INBOX", strings.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendParallel measures concurrent deliveries to different owners.
func BenchmarkAppendParallel(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir(), Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	msg := testMessage("bench", "short")
	owners := []string{"a", "b", "c", "d"}
	ctx := context.Background()
	var next atomic.Int32
	b.RunParallel(func(pb *testing.PB) {
		owner := owners[int(next.Add(1))%len(owners)]
		for pb.Next() {
			if _, err := s.Append(ctx, owner, "INBOX", strings.NewReader(msg)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
