package queue

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/internal/fakeclock"
)

// newFakeClock is the queue tests' clock, moved by hand.
func newFakeClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
}

// deliveryCall is what the fake deliverer saw in one Deliver call.
type deliveryCall struct {
	ID    string
	Rcpts []string
	Body  []byte
}

// fakeDeliverer answers per recipient on cue: each recipient's scripted
// results are used in turn, then 250. It reports every call on calls
// (when not nil) and, when block is set, waits for it to be closed or for
// ctx to end (answering 451 then).
type fakeDeliverer struct {
	mu      sync.Mutex
	answers map[string][]Result

	started chan deliveryCall // signalled when a call starts (optional)
	block   chan struct{}     // when set, calls wait for it to be closed
}

func newFakeDeliverer() *fakeDeliverer {
	return &fakeDeliverer{answers: map[string][]Result{}}
}

// script queues results for rcpt, one per attempt.
func (f *fakeDeliverer) script(rcpt string, rs ...Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range rs {
		r.Recipient = rcpt
		f.answers[rcpt] = append(f.answers[rcpt], r)
	}
}

func (f *fakeDeliverer) Deliver(ctx context.Context, msg *Message, rcpts []*Recipient) []Result {
	call := deliveryCall{ID: msg.Envelope.ID}
	if rc, err := msg.Open(); err == nil {
		call.Body, _ = io.ReadAll(rc)
		_ = rc.Close()
	}
	for _, r := range rcpts {
		call.Rcpts = append(call.Rcpts, r.Address)
	}
	if f.started != nil {
		f.started <- call
	}
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			out := make([]Result, len(rcpts))
			for i, r := range rcpts {
				out[i] = Result{Recipient: r.Address, Code: 451, Enhanced: "4.4.2", Text: "cancelled"}
			}
			return out
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Result, 0, len(rcpts))
	for _, r := range rcpts {
		res := Result{Recipient: r.Address, Code: 250, Enhanced: "2.0.0", Text: "ok", RemoteMTA: "backend.test"}
		if as := f.answers[r.Address]; len(as) > 0 {
			res = as[0]
			f.answers[r.Address] = as[1:]
		}
		out = append(out, res)
	}
	return out
}

var (
	ok250  = Result{Code: 250, Enhanced: "2.0.0", Text: "ok", RemoteMTA: "backend.test"}
	tmp451 = Result{Code: 451, Enhanced: "4.3.0", Text: "try later", RemoteMTA: "backend.test"}
	bad550 = Result{Code: 550, Enhanced: "5.1.1", Text: "no such user", RemoteMTA: "backend.test", Permanent: true}
)

// testOptions returns options for a queue in a fresh temporary directory.
func testOptions(t *testing.T, d Deliverer) Options {
	t.Helper()
	return Options{
		Dir:       filepath.Join(t.TempDir(), "queue"),
		Deliverer: d,
		Logger:    testLogger(t, io.Discard),
		Workers:   4,
	}
}

// testLogger logs to w, and to the test log when run with -v.
func testLogger(t *testing.T, w io.Writer) *slog.Logger {
	if testing.Verbose() {
		w = io.MultiWriter(w, t.Output())
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openQueue opens a queue and closes it at cleanup.
func openQueue(t *testing.T, opts Options) *Queue {
	t.Helper()
	q, err := Open(t.Context(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// testBody returns a deterministic message for id.
func testBody(id string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Message-ID: <%s@test>\r\nSubject: test %s\r\n\r\n", id, id)
	for b.Len() < size {
		fmt.Fprintf(&b, "line of %s\r\n", id)
	}
	return b.Bytes()
}

// commit queues a message to rcpts and returns its id.
func commit(t *testing.T, q *Queue, rcpts ...string) string {
	t.Helper()
	env := &Envelope{ID: q.NewID(), From: "sender@example.test", Login: "alice"}
	for _, r := range rcpts {
		env.Recipients = append(env.Recipients, &Recipient{Address: r})
	}
	tx, err := q.Begin(env)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if _, err := tx.Write(testBody(env.ID, 300)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return env.ID
}

// commitSized queues a size-byte message to one recipient and returns its
// id; it reports rather than fails, so goroutines of a test may call it.
func commitSized(ctx context.Context, q *Queue, size int) (string, error) {
	env := &Envelope{From: "a@example.test", Recipients: []*Recipient{{Address: "b@example.test"}}}
	tx, err := q.Begin(env)
	if err != nil {
		return "", err
	}
	if _, err := tx.Write(testBody(env.ID, size)); err != nil {
		_ = tx.Abort()
		return "", err
	}
	return env.ID, tx.Commit(ctx)
}

// writtenTx begins a transaction to one recipient and writes a size-byte
// message, leaving the commit to the test.
func writtenTx(t *testing.T, q *Queue, size int) *Tx {
	t.Helper()
	env := &Envelope{Recipients: []*Recipient{{Address: "b@example.test"}}}
	tx, err := q.Begin(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Write(testBody(env.ID, size)); err != nil {
		t.Fatal(err)
	}
	return tx
}

// runQueue runs q until the test ends (or stop is called) and returns a
// stop function that waits for Run to return.
func runQueue(t *testing.T, q *Queue) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// settledChan makes q report each recorded attempt on the returned channel.
func settledChan(q *Queue) <-chan string {
	ch := make(chan string, 100)
	q.settled = func(id string) { ch <- id }
	return ch
}

// recv waits for a value on ch, failing the test after a generous bound.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatal("timed out waiting for the queue")
		panic("unreachable")
	}
}

// dirNames lists the names in dir (sorted), failing on error.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	slices.Sort(out)
	return out
}

// assertEmpty fails unless each of Dir's subdirectories sub is empty.
func assertEmpty(t *testing.T, dir string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if names := dirNames(t, filepath.Join(dir, s)); len(names) != 0 {
			t.Errorf("%s/ holds %v, want nothing", s, names)
		}
	}
}

// rcptByAddr returns env's recipient addr.
func rcptByAddr(t *testing.T, env *Envelope, addr string) *Recipient {
	t.Helper()
	for _, r := range env.Recipients {
		if r.Address == addr {
			return r
		}
	}
	t.Fatalf("no recipient %s in %s", addr, env.ID)
	return nil
}

// contextWithCancel returns a context ended at cleanup at the latest.
func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx, cancel
}

// contextT is context.Context, short for hook signatures in tests.
type contextT = context.Context

// storedBody reads the message bytes of id as stored in dir/msg, without
// the envelope trailer.
func storedBody(dir, id string) ([]byte, error) {
	f, err := openBody(filepath.Join(dir, "msg", id))
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return io.ReadAll(f)
}
