package queue

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"testing"
)

func TestCommitThenReopen(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	opts := testOptions(t, newFakeDeliverer())
	opts.Now = clk.Now
	q := openQueue(t, opts)

	env := &Envelope{ID: q.NewID(), From: "a@example.test", Login: "alice", ClientIP: "192.0.2.1",
		Recipients: []*Recipient{{Address: "b@example.test", Notify: []string{"FAILURE"}}}}
	tx, err := q.Begin(env)
	if err != nil {
		t.Fatal(err)
	}
	body := testBody(env.ID, 5000)
	for chunk := range slicesChunk(body, 777) {
		if _, err := tx.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if env.Size != int64(len(body)) || !env.Received.Equal(clk.Now()) {
		t.Errorf("after Commit: size %d received %v, want %d %v", env.Size, env.Received, len(body), clk.Now())
	}
	if q.Len() != 1 {
		t.Errorf("Len = %d, want 1", q.Len())
	}
	if err := tx.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	if err := tx.Commit(t.Context()); !errors.Is(err, ErrTxDone) {
		t.Errorf("second Commit: %v, want ErrTxDone", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	q2 := openQueue(t, opts)
	got, err := q2.Get(env.ID)
	if err != nil {
		t.Fatal(err)
	}
	r := got.Recipients[0]
	if got.From != env.From || got.Login != "alice" || got.ClientIP != "192.0.2.1" || got.Size != int64(len(body)) ||
		r.Address != "b@example.test" || r.State != StatePending || len(r.Notify) != 1 {
		t.Errorf("reopened envelope = %+v %+v", got, r)
	}
	stored, err := storedBody(opts.Dir, env.ID)
	if err != nil || !bytes.Equal(stored, body) {
		t.Errorf("stored body differs (err %v)", err)
	}
	if l := q2.List(); len(l) != 1 || l[0].ID != env.ID {
		t.Errorf("List = %v", l)
	}
	if _, err := q2.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nope) = %v, want ErrNotFound", err)
	}
}

// slicesChunk yields b in pieces of n bytes.
func slicesChunk(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	q := openQueue(t, opts)
	env := &Envelope{Recipients: []*Recipient{{Address: "b@example.test"}}}
	tx, err := q.Begin(env)
	if err != nil {
		t.Fatal(err)
	}
	if env.ID == "" {
		t.Error("Begin left the id empty")
	}
	if _, err := tx.Write(testBody(env.ID, 100_000)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if _, err := tx.Write([]byte("x")); !errors.Is(err, ErrTxDone) {
		t.Errorf("Write after Abort: %v, want ErrTxDone", err)
	}
	if err := tx.Commit(t.Context()); !errors.Is(err, ErrTxDone) {
		t.Errorf("Commit after Abort: %v, want ErrTxDone", err)
	}
	assertEmpty(t, opts.Dir, "tmp", "msg", "env")
	if q.Len() != 0 {
		t.Errorf("Len = %d", q.Len())
	}
	// The id is free again.
	if _, err := q.Begin(&Envelope{ID: env.ID, Recipients: []*Recipient{{Address: "b@example.test"}}}); err != nil {
		t.Errorf("Begin with the aborted id: %v", err)
	}
}

func TestBeginRefusesBadEnvelopes(t *testing.T) {
	t.Parallel()
	q := openQueue(t, testOptions(t, newFakeDeliverer()))
	id := commit(t, q, "b@example.test")
	for name, env := range map[string]*Envelope{
		"no recipients": {},
		"bad id":        {ID: "../x", Recipients: []*Recipient{{Address: "b@example.test"}}},
		"duplicate id":  {ID: id, Recipients: []*Recipient{{Address: "b@example.test"}}},
	} {
		if _, err := q.Begin(env); err == nil {
			t.Errorf("%s: Begin succeeded", name)
		}
	}
	if _, err := q.Begin(nil); err == nil {
		t.Error("Begin(nil) succeeded")
	}
}

func TestConcurrentCommits(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	q := openQueue(t, opts)
	const n = 64
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id, err := commitSized(t.Context(), q, 2000+i)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	if q.Len() != n {
		t.Fatalf("Len = %d, want %d", q.Len(), n)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q2 := openQueue(t, opts)
	if q2.Len() != n {
		t.Fatalf("after reopen Len = %d, want %d", q2.Len(), n)
	}
	for i, id := range ids {
		b, err := storedBody(opts.Dir, id)
		if err != nil || !bytes.Equal(b, testBody(id, 2000+i)) {
			t.Errorf("message %s: body differs (err %v)", id, err)
		}
	}
}

// TestCommitFailsCleanly makes writing the message file fail: Commit must
// report it and leave nothing behind. (TestJournalCommitFails does the
// same for the journal.)
func TestCommitFailsCleanly(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	opts.SpillThreshold = -1 // every message in its own file, from Begin on
	var mu sync.Mutex
	fail := false
	opts.CreateTemp = func(dir, pattern string) (*os.File, error) {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.CreateTemp(dir, pattern)
		if err != nil || !fail {
			return f, err
		}
		// A read-only handle on the new file: writes fail at Commit,
		// when the buffered bytes are flushed.
		_ = f.Close()
		return os.Open(f.Name())
	}
	q := openQueue(t, opts)
	mu.Lock()
	fail = true
	mu.Unlock()

	tx := writtenTx(t, q, 1024)
	if err := tx.Commit(t.Context()); err == nil {
		t.Fatal("Commit succeeded on a file that cannot be written")
	}
	if err := tx.Abort(); err != nil {
		t.Errorf("Abort after failed Commit: %v", err)
	}
	assertEmpty(t, opts.Dir, "tmp", "msg", "env")
	if q.Len() != 0 {
		t.Errorf("Len = %d after failed commit", q.Len())
	}

	broken := errors.New("disk on fire")
	// Failing to create the body's temporary file fails Begin.
	q.opts.CreateTemp = func(string, string) (*os.File, error) { return nil, broken }
	if _, err := q.Begin(&Envelope{Recipients: []*Recipient{{Address: "b@example.test"}}}); !errors.Is(err, broken) {
		t.Errorf("Begin = %v, want the temp file error", err)
	}
	assertEmpty(t, opts.Dir, "tmp", "msg", "env")
}

func TestCommitCancelled(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	q := openQueue(t, opts)
	tx, err := q.Begin(&Envelope{Recipients: []*Recipient{{Address: "b@example.test"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel(t)
	cancel()
	if err := tx.Commit(ctx); err == nil {
		t.Fatal("Commit with a cancelled context succeeded")
	}
	assertEmpty(t, opts.Dir, "tmp", "msg", "env")
}

func TestSecondOpenRefused(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	q := openQueue(t, opts)
	if q2, err := Open(t.Context(), opts); err == nil {
		_ = q2.Close()
		t.Fatal("a second Open of the same directory succeeded")
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := q.Begin(&Envelope{Recipients: []*Recipient{{Address: "b@example.test"}}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Begin after Close: %v, want ErrClosed", err)
	}
	openQueue(t, opts)
}
