package queue

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
)

// deferredQueue runs a queue on a fake clock whose deliverer answers 451
// once for each of rcpts, commits one message to them and waits for that
// first attempt to be recorded.
func deferredQueue(t *testing.T, opts Options, fd *fakeDeliverer, rcpts ...string) (*Queue, string, <-chan string) {
	t.Helper()
	for _, r := range rcpts {
		fd.script(r, tmp451)
	}
	q := openQueue(t, opts)
	settled := settledChan(q)
	runQueue(t, q)
	id := commit(t, q, rcpts...)
	if got := recv(t, settled); got != id {
		t.Fatalf("settled %s, want %s", got, id)
	}
	return q, id, settled
}

func adminOptions(t *testing.T, fd *fakeDeliverer) Options {
	opts := testOptions(t, fd)
	opts.Now = newFakeClock().Now
	return opts
}

func TestHoldRelease(t *testing.T) {
	t.Parallel()
	fd := newFakeDeliverer()
	opts := adminOptions(t, fd)
	q, id, settled := deferredQueue(t, opts, fd, "b@example.test")

	if err := q.Hold(id); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	if env := readEnvelope(t, opts.Dir, id); !env.Held {
		t.Error("held state not on disk")
	}
	if err := q.Hold(id); err != nil {
		t.Errorf("second Hold: %v", err)
	}
	if err := q.RetryNow(id); !errors.Is(err, ErrHeld) {
		t.Errorf("RetryNow of a held message: %v, want ErrHeld", err)
	}
	if n := q.RetryAll(); n != 0 {
		t.Errorf("RetryAll made %d due, want 0 (held)", n)
	}
	if e, _ := q.next(); e != nil {
		t.Fatal("held message was scheduled")
	}

	if err := q.Release(id); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if env := readEnvelope(t, opts.Dir, id); env.Held {
		t.Error("released state not on disk")
	}
	if err := q.RetryNow(id); err != nil {
		t.Fatalf("RetryNow: %v", err)
	}
	if got := recv(t, settled); got != id {
		t.Fatalf("settled %s, want %s", got, id)
	}
	if q.Len() != 0 {
		t.Errorf("Len = %d after delivery, want 0", q.Len())
	}
	assertEmpty(t, opts.Dir, "env", "msg", "failed")
}

func TestDelete(t *testing.T) {
	t.Parallel()
	fd := newFakeDeliverer()
	opts := adminOptions(t, fd)
	q, id, _ := deferredQueue(t, opts, fd, "b@example.test")

	if err := q.Delete(id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := q.Get(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := q.Delete(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	assertEmpty(t, opts.Dir, "env", "msg", "failed", "tmp")
}

func TestAdminRefusedWhileAttempting(t *testing.T) {
	t.Parallel()
	fd := newFakeDeliverer()
	fd.started = make(chan deliveryCall, 1)
	fd.block = make(chan struct{})
	opts := testOptions(t, fd)
	q := openQueue(t, opts)
	settled := settledChan(q)
	runQueue(t, q)
	id := commit(t, q, "b@example.test")
	recv(t, fd.started)

	for name, op := range map[string]func(string) error{
		"Hold": q.Hold, "Release": q.Release, "Delete": q.Delete,
		"Bounce": func(id string) error { return q.Bounce(t.Context(), id) },
	} {
		if err := op(id); !errors.Is(err, ErrBusy) {
			t.Errorf("%s during an attempt: %v, want ErrBusy", name, err)
		}
	}
	close(fd.block)
	recv(t, settled)
	assertEmpty(t, opts.Dir, "env", "msg", "failed")
}

func TestBounce(t *testing.T) {
	t.Parallel()
	fd := newFakeDeliverer()
	opts := adminOptions(t, fd)
	var (
		mu     sync.Mutex
		failed []*Recipient
		calls  int
	)
	opts.OnFailure = func(_ contextT, env *Envelope, rs []*Recipient) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		failed = rs
	}
	// The first recipient is delivered at the first attempt, the second
	// deferred.
	fd.script("b@example.test", ok250)
	q, id, _ := deferredQueue(t, opts, fd, "b@example.test", "c@example.test")
	if err := q.Bounce(t.Context(), id); err != nil {
		t.Fatalf("Bounce: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 || len(failed) != 1 || failed[0].Address != "c@example.test" ||
		failed[0].State != StateFailed || failed[0].LastReply != BounceReply {
		t.Fatalf("OnFailure calls %d with %+v", calls, failed)
	}
	if q.Len() != 0 {
		t.Errorf("Len = %d after bounce", q.Len())
	}
	env := readJSON(t, filepath.Join(opts.Dir, "failed", id+".json"))
	if r := rcptByAddr(t, env, "c@example.test"); r.State != StateFailed || r.LastReply != BounceReply {
		t.Errorf("recorded recipient %+v", r)
	}
	assertEmpty(t, opts.Dir, "env", "msg")
}

func TestRetryAll(t *testing.T) {
	t.Parallel()
	fd := newFakeDeliverer()
	opts := adminOptions(t, fd)
	fd.script("c@example.test", tmp451)
	q, id1, settled := deferredQueue(t, opts, fd, "b@example.test")
	id2 := commit(t, q, "c@example.test")
	recv(t, settled)
	if err := q.Hold(id2); err != nil {
		t.Fatal(err)
	}
	if n := q.RetryAll(); n != 1 {
		t.Fatalf("RetryAll = %d, want 1", n)
	}
	if got := recv(t, settled); got != id1 {
		t.Fatalf("settled %s, want %s", got, id1)
	}
	if _, err := q.Get(id2); err != nil {
		t.Errorf("held message: %v", err)
	}
	if q.Len() != 1 {
		t.Errorf("Len = %d, want 1", q.Len())
	}
}

func TestAdminNotFound(t *testing.T) {
	t.Parallel()
	q := openQueue(t, testOptions(t, newFakeDeliverer()))
	for name, err := range map[string]error{
		"Hold": q.Hold("nosuchid"), "Release": q.Release("nosuchid"),
		"Delete": q.Delete("nosuchid"), "Bounce": q.Bounce(t.Context(), "nosuchid"),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
}
