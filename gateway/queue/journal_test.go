package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// syncCounter is a journal sync hook: it counts the syncs and records, per
// segment, the length that each finished sync made durable. When gate is
// set, the first sync waits for it to be closed.
type syncCounter struct {
	mu     sync.Mutex
	n      int
	synced map[string]int64
	gate   chan struct{}
	// entered, if set, is signalled when the gated sync starts waiting.
	entered chan struct{}
	fail    error
}

func (c *syncCounter) sync(f *os.File) error {
	c.mu.Lock()
	gate := c.gate
	c.gate = nil
	fail := c.fail
	c.mu.Unlock()
	if gate != nil {
		if c.entered != nil {
			c.entered <- struct{}{}
		}
		<-gate
	}
	if fail != nil {
		return fail
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.synced == nil {
		c.synced = map[string]int64{}
	}
	c.synced[f.Name()] = max(c.synced[f.Name()], fi.Size())
	return nil
}

// durableUpTo returns the length of segment path that a finished sync
// covered.
func (c *syncCounter) durableUpTo(path string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.synced[path]
}

func (c *syncCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// waitSpare waits until the segment the committer makes ahead is there,
// on a queue with no commit in progress.
func waitSpare(q *Queue) {
	if spare := q.journal.spare; spare != nil {
		spare <- <-spare
	}
}

// journalNames lists the journal directory of a queue in dir.
func journalNames(t *testing.T, dir string) []string {
	t.Helper()
	return dirNames(t, filepath.Join(dir, "journal"))
}

// TestGroupCommit commits n messages at once while the first sync is held
// back: they must share syncs, and each Commit must return only after a
// sync covering its record.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	const n = 16
	opts := testOptions(t, newFakeDeliverer())
	sc := &syncCounter{gate: make(chan struct{})}
	opts.syncFile = sc.sync
	var enqMu sync.Mutex
	enq := 0
	allIn := make(chan struct{})
	opts.journalEnqueued = func() {
		enqMu.Lock()
		defer enqMu.Unlock()
		if enq++; enq == n {
			close(allIn)
		}
	}
	q := openQueue(t, opts)
	gate := sc.gate
	go func() {
		<-allIn
		close(gate)
	}()

	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id, err := commitSized(t.Context(), q, 1000+i)
			if err != nil {
				t.Error(err)
				return
			}
			// Commit has returned: a finished sync covers the record.
			q.mu.Lock()
			loc := q.entries[id].loc
			q.mu.Unlock()
			if loc == nil {
				t.Errorf("%s: not in the journal", id)
				return
			}
			if end := loc.bodyStart + loc.bodyLen + loc.envLen; sc.durableUpTo(loc.seg.path) < end {
				t.Errorf("%s: Commit returned before a sync covered its record (ends at %d, synced %d)",
					id, end, sc.durableUpTo(loc.seg.path))
			}
		})
	}
	wg.Wait()
	if got := sc.count(); got >= n || got == 0 {
		t.Errorf("%d commits took %d syncs, want fewer (and some)", n, got)
	}
	if q.Len() != n {
		t.Errorf("Len = %d, want %d", q.Len(), n)
	}
	assertEmpty(t, opts.Dir, "tmp", "msg", "env")
}

// TestJournalCommitFails makes the journal's sync fail: Commit must say
// so, and the message must not come back at the next Open.
func TestJournalCommitFails(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	sc := &syncCounter{}
	opts.syncFile = sc.sync
	q := openQueue(t, opts)
	good := commit(t, q, "b@example.test")

	broken := errors.New("disk on fire")
	sc.mu.Lock()
	sc.fail = broken
	sc.mu.Unlock()
	tx := writtenTx(t, q, 1024)
	if err := tx.Commit(t.Context()); !errors.Is(err, broken) {
		t.Fatalf("Commit = %v, want the sync error", err)
	}
	if q.Len() != 1 {
		t.Errorf("Len = %d after a failed commit, want 1", q.Len())
	}
	sc.mu.Lock()
	sc.fail = nil
	sc.mu.Unlock()
	after := commit(t, q, "c@example.test")
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	q2 := openQueue(t, opts)
	ids := []string{}
	for _, e := range q2.List() {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	want := []string{good, after}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("after reopen the queue holds %v, want %v", ids, want)
	}
}

// TestCommitCancelledWhileWaiting cancels a Commit whose record waits for
// the committer (busy with another record's sync): the Commit fails with
// the context's error and the message is not written.
func TestCommitCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	sc := &syncCounter{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	opts.syncFile = sc.sync
	enqueued := make(chan struct{}, 2)
	opts.journalEnqueued = func() { enqueued <- struct{}{} }
	q := openQueue(t, opts)
	gate := sc.gate

	// The first commit is taken by the committer and held in its sync.
	first := &Envelope{Recipients: []*Recipient{{Address: "b@example.test"}}}
	tx1, err := q.Begin(first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx1.Write(testBody(first.ID, 500)); err != nil {
		t.Fatal(err)
	}
	firstErr := make(chan error, 1)
	go func() { firstErr <- tx1.Commit(t.Context()) }()
	recv(t, enqueued)
	recv(t, sc.entered)

	ctx, cancel := context.WithCancel(t.Context())
	env := &Envelope{Recipients: []*Recipient{{Address: "c@example.test"}}}
	tx, err := q.Begin(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Write(testBody(env.ID, 500)); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- tx.Commit(ctx) }()
	recv(t, enqueued)
	cancel()
	if err := recv(t, errc); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit = %v, want context.Canceled", err)
	}
	close(gate)
	if err := recv(t, firstErr); err != nil {
		t.Fatalf("first Commit: %v", err)
	}
	if _, err := q.Get(env.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of the cancelled message = %v, want ErrNotFound", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q2 := openQueue(t, opts)
	if _, err := q2.Get(first.ID); err != nil {
		t.Errorf("first message: %v", err)
	}
	if q2.Len() != 1 {
		t.Errorf("after reopen Len = %d, want 1", q2.Len())
	}
}

// TestMigrateOnDefer defers a journal message: it must move to msg/<id>
// with its bytes and the envelope as committed, its later state in env/,
// and its journal record must be done.
func TestMigrateOnDefer(t *testing.T) {
	t.Parallel()
	d := newFakeDeliverer()
	opts := testOptions(t, d)
	q := openQueue(t, opts)
	settled := settledChan(q)
	d.script("b@example.test", tmp451)
	id := commit(t, q, "b@example.test")
	committed, err := q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	runQueue(t, q)
	if got := recv(t, settled); got != id {
		t.Fatalf("settled %s, want %s", got, id)
	}

	b, err := storedBody(opts.Dir, id)
	if err != nil || !bytes.Equal(b, testBody(id, 300)) {
		t.Errorf("migrated body differs (err %v)", err)
	}
	trailer, err := readTrailer(filepath.Join(opts.Dir, "msg", id))
	if err != nil {
		t.Fatal(err)
	}
	if trailer.Attempts != 0 || !trailer.Received.Equal(committed.Received) || trailer.Size != committed.Size {
		t.Errorf("trailer envelope = %+v, want the committed one %+v", trailer, committed)
	}
	data, err := os.ReadFile(filepath.Join(opts.Dir, "env", id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var later Envelope
	if err := json.Unmarshal(data, &later); err != nil {
		t.Fatal(err)
	}
	if later.Attempts != 1 {
		t.Errorf("env/ envelope has %d attempts, want 1", later.Attempts)
	}
	q.mu.Lock()
	loc := q.entries[id].loc
	q.mu.Unlock()
	if loc != nil {
		t.Error("deferred message still points into the journal")
	}
	rc, err := q.OpenBody(id)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	var got bytes.Buffer
	if _, err := got.ReadFrom(rc); err != nil || !bytes.Equal(got.Bytes(), testBody(id, 300)) {
		t.Errorf("OpenBody after migration differs (err %v)", err)
	}
	// The done log names it.
	names := journalNames(t, opts.Dir)
	var doneLog []byte
	for _, n := range names {
		if strings.HasSuffix(n, ".done") {
			doneLog, _ = os.ReadFile(filepath.Join(opts.Dir, "journal", n))
		}
	}
	if string(doneLog) != id+"\n" {
		t.Errorf("done log = %q (journal %v), want %q", doneLog, names, id+"\n")
	}
}

// TestSegmentRemovedWhenDone uses tiny segments (one batch each): once
// every record of a sealed segment is done, the segment and its done log
// go.
func TestSegmentRemovedWhenDone(t *testing.T) {
	t.Parallel()
	d := newFakeDeliverer()
	opts := testOptions(t, d)
	opts.JournalSegmentSize = 1
	q := openQueue(t, opts)
	settled := settledChan(q)
	a := commit(t, q, "b@example.test")
	// a's segment, and the empty one made ahead for the next rotation.
	waitSpare(q)
	names := journalNames(t, opts.Dir)
	if len(names) != 2 {
		t.Fatalf("journal after one commit = %v, want a's segment and the next", names)
	}
	first, second := names[0], names[1]
	runQueue(t, q)
	if got := recv(t, settled); got != a {
		t.Fatalf("settled %s, want %s", got, a)
	}
	// a is delivered but its segment is still the active one.
	if got := journalNames(t, opts.Dir); !slices.Equal(got, []string{first, first + ".done", second}) {
		t.Errorf("journal after delivery = %v", got)
	}
	b := commit(t, q, "b@example.test")
	// b went to the segment made ahead; the first one, sealed with nothing
	// live, is gone with its done log once its removal in the background
	// has run. (b's own done log may be there already.)
	q.journal.removals.Wait()
	waitSpare(q)
	if got := journalNames(t, opts.Dir); len(got) < 2 || got[0] != second || slices.Contains(got, first+".done") {
		t.Errorf("journal after rotation = %v, want %s and the one made ahead", got, second)
	}
	if got := recv(t, settled); got != b {
		t.Fatalf("settled %s, want %s", got, b)
	}
	assertEmpty(t, opts.Dir, "tmp", "msg", "env", "failed")
}

// TestCloseDropsSpare: the empty segment made ahead is removed at Close;
// the segment with the live record stays for the next Open, which brings
// the message back.
func TestCloseDropsSpare(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	q := openQueue(t, opts)
	a := commit(t, q, "b@example.test")
	waitSpare(q)
	if got := journalNames(t, opts.Dir); len(got) != 2 {
		t.Fatalf("journal before Close = %v, want a's segment and the next", got)
	}
	first := journalNames(t, opts.Dir)[0]
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if got := journalNames(t, opts.Dir); !slices.Equal(got, []string{first}) {
		t.Errorf("journal after Close = %v, want [%s]", got, first)
	}
	q2 := openQueue(t, opts)
	rc, err := q2.OpenBody(a)
	if err != nil {
		t.Fatalf("message after reopening: %v", err)
	}
	_ = rc.Close()
}

// TestJournalRecovery writes a journal by hand, with a live record, a done
// one, one already migrated and a torn last one, and opens the queue.
func TestJournalRecovery(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	jdir := filepath.Join(opts.Dir, "journal")
	if err := os.MkdirAll(filepath.Join(opts.Dir, "msg"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(jdir, 0o700); err != nil {
		t.Fatal(err)
	}
	mk := func(id string) []byte {
		env := &Envelope{ID: id, From: "a@example.test", Size: int64(len(testBody(id, 400))),
			Recipients: []*Recipient{{Address: "b@example.test", State: StatePending}}}
		data, err := encodeEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		rec := startRecord(nil, id)
		rec = append(rec, testBody(id, 400)...)
		return finishRecord(rec, id, data)
	}
	live, done, torn := "live0000live0000", "done0000done0000", "torn0000torn0000"
	var seg []byte
	seg = append(seg, mk(live)...)
	seg = append(seg, mk(done)...)
	tr := mk(torn)
	seg = append(seg, tr[:len(tr)-3]...)
	if err := os.WriteFile(filepath.Join(jdir, "0000000000000001"), seg, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(jdir, "0000000000000001.done"), []byte(done+"\npartial"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A second segment whose record has a bad checksum, then a good one
	// that must not count either.
	bad := mk("bad00000bad00000")
	bad[len(bad)-2] ^= 0xff
	second := append(bad, mk("after000after000")...)
	if err := os.WriteFile(filepath.Join(jdir, "0000000000000002"), second, 0o600); err != nil {
		t.Fatal(err)
	}

	q := openQueue(t, opts)
	ids := []string{}
	for _, e := range q.List() {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, []string{live}) {
		t.Errorf("recovered %v, want only %s", ids, live)
	}
	b, err := storedBody(opts.Dir, live)
	if err != nil || !bytes.Equal(b, testBody(live, 400)) {
		t.Errorf("recovered body differs (err %v)", err)
	}
	if got := journalNames(t, opts.Dir); len(got) != 0 {
		t.Errorf("journal after Open = %v, want empty", got)
	}
}

// TestReaderOutlivesSegment keeps a message's bytes open while its record
// is done and its segment removed: the reader still reads them.
func TestReaderOutlivesSegment(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	opts.JournalSegmentSize = 1
	q := openQueue(t, opts)
	a := commit(t, q, "b@example.test")
	first := journalNames(t, opts.Dir)[0]
	rc, err := q.OpenBody(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Delete(a); err != nil {
		t.Fatal(err)
	}
	commit(t, q, "b@example.test") // seals the first segment: removed
	q.journal.removals.Wait()
	if got := journalNames(t, opts.Dir); slices.Contains(got, first) {
		t.Fatalf("journal = %v, want %s gone", got, first)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(rc); err != nil || !bytes.Equal(got.Bytes(), testBody(a, 300)) {
		t.Errorf("body read after its segment went differs (err %v)", err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := q.OpenBody(a); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenBody of the deleted message = %v, want ErrNotFound", err)
	}
}

// TestSpill commits one message at the spill threshold (journal) and one
// past it (its own file in msg/), and reads both back.
func TestSpill(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	opts.SpillThreshold = 4000
	q := openQueue(t, opts)
	put := func(size int) string {
		env := &Envelope{Recipients: []*Recipient{{Address: "b@example.test"}}}
		tx, err := q.Begin(env)
		if err != nil {
			t.Fatal(err)
		}
		for chunk := range slicesChunk(testBody(env.ID, size)[:size], 999) {
			if _, err := tx.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
		return env.ID
	}
	small, big := put(4000), put(4001)
	if got := dirNames(t, filepath.Join(opts.Dir, "msg")); !slices.Equal(got, []string{big}) {
		t.Errorf("msg/ = %v, want only the spilled %s", got, big)
	}
	assertEmpty(t, opts.Dir, "tmp")
	for id, size := range map[string]int{small: 4000, big: 4001} {
		rc, err := q.OpenBody(id)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		_, err = got.ReadFrom(rc)
		_ = rc.Close()
		if err != nil || !bytes.Equal(got.Bytes(), testBody(id, size)[:size]) {
			t.Errorf("%s: body differs (err %v)", id, err)
		}
	}
}

// TestSpillFails makes the temporary file a growing message spills to
// impossible to create: Write says so, Commit fails, nothing is left.
func TestSpillFails(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	opts.SpillThreshold = 100
	broken := errors.New("disk on fire")
	opts.CreateTemp = func(string, string) (*os.File, error) { return nil, broken }
	q := openQueue(t, opts)
	env := &Envelope{Recipients: []*Recipient{{Address: "b@example.test"}}}
	tx, err := q.Begin(env)
	if err != nil {
		t.Fatalf("Begin does no I/O, yet: %v", err)
	}
	if _, err := tx.Write(testBody(env.ID, 50)[:50]); err != nil {
		t.Fatalf("buffered Write: %v", err)
	}
	if _, err := tx.Write(testBody(env.ID, 200)); !errors.Is(err, broken) {
		t.Errorf("spilling Write = %v, want the temp file error", err)
	}
	if err := tx.Commit(t.Context()); !errors.Is(err, broken) {
		t.Errorf("Commit = %v, want the temp file error", err)
	}
	if err := tx.Abort(); err != nil {
		t.Errorf("Abort: %v", err)
	}
	assertEmpty(t, opts.Dir, "tmp", "msg", "env", "journal")
	if q.Len() != 0 {
		t.Errorf("Len = %d", q.Len())
	}
}
