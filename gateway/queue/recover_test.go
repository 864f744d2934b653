package queue

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestRecoverySchedule: at Open, a message never attempted and one whose
// next attempt has come are due; one deferred into the future is not.
func TestRecoverySchedule(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	fd := newFakeDeliverer()
	fd.script("later@example.test", tmp451)
	opts := testOptions(t, fd)
	opts.Now = clk.Now
	q := openQueue(t, opts)
	settled := settledChan(q)
	stop := runQueue(t, q)
	deferred := commit(t, q, "later@example.test")
	recv(t, settled)
	stop()
	fresh := commit(t, q, "new@example.test") // committed, never attempted
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Minute)
	q2 := openQueue(t, opts)
	if q2.Len() != 2 {
		t.Fatalf("Len = %d, want 2", q2.Len())
	}
	e, _ := q2.next()
	if e == nil || e.env.ID != fresh {
		t.Fatalf("next() = %v, want the never attempted message %s", e, fresh)
	}
	if e, wait := q2.next(); e != nil || wait != 14*time.Minute {
		t.Errorf("next() = %v, %v; want the deferred message to wait 14m", e, wait)
	}
	if err := q2.Close(); err != nil {
		t.Fatal(err)
	}

	// Later (or after an attempt cut short), the deferred one is due.
	clk.Advance(20 * time.Minute)
	q3 := openQueue(t, opts)
	var due []string
	for {
		e, _ := q3.next()
		if e == nil {
			break
		}
		due = append(due, e.env.ID)
	}
	slices.Sort(due)
	want := []string{deferred, fresh}
	slices.Sort(want)
	if !slices.Equal(due, want) {
		t.Errorf("due at reopen: %v, want %v", due, want)
	}
}

// TestRecoveryFinishesFailed: a message whose final failed state was
// recorded but which was not yet moved to failed/ (crash in between) is
// finished at the next run, OnFailure included.
func TestRecoveryFinishesFailed(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	q := openQueue(t, opts)
	id := commit(t, q, "bad@example.test")
	env, _ := q.Get(id)
	env.Recipients[0].State = StateFailed
	env.Recipients[0].LastReply = "550 5.1.1 no such user"
	if err := q.store.writeEnvelope(env); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	failed := make(chan string, 1)
	opts.OnFailure = func(_ contextT, env *Envelope, _ []*Recipient) { failed <- env.ID }
	q2 := openQueue(t, opts)
	runQueue(t, q2)
	if got := recv(t, failed); got != id {
		t.Errorf("OnFailure for %s, want %s", got, id)
	}
}

func TestOrphansRemoved(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	q := openQueue(t, opts)
	kept := commit(t, q, "b@example.test")
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"tmp/0123456789abcdef.x1", "tmp/.0123.json.y", "msg/0123456789abcdef"} {
		if err := os.WriteFile(filepath.Join(opts.Dir, p), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	q2 := openQueue(t, opts)
	assertEmpty(t, opts.Dir, "tmp")
	if got := dirNames(t, filepath.Join(opts.Dir, "msg")); !slices.Equal(got, []string{kept}) {
		t.Errorf("msg/ = %v, want only %s", got, kept)
	}
	if q2.Len() != 1 {
		t.Errorf("Len = %d", q2.Len())
	}
}

func TestCorruptEnvelopeMovedAside(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, newFakeDeliverer())
	q := openQueue(t, opts)
	good := commit(t, q, "b@example.test")
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(opts.Dir, p), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("env/garbage1.json", `{"id": "garbage1", "recipients": [`)
	write("msg/garbage1", "body of garbage1")
	write("env/nobody.json", `{"id":"nobody","recipients":[{"address":"b@example.test","state":"pending"}]}`)
	write("env/wrongid.json", `{"id":"other","recipients":[{"address":"b@example.test","state":"pending"}]}`)
	write("msg/wrongid", "body of wrongid")
	write("env/badstate.json", `{"id":"badstate","recipients":[{"address":"b@example.test","state":"limbo"}]}`)
	write("msg/badstate", "x")

	q2 := openQueue(t, opts)
	if q2.Len() != 1 {
		t.Errorf("Len = %d, want only the good message", q2.Len())
	}
	if _, err := q2.Get(good); err != nil {
		t.Error(err)
	}
	want := []string{"badstate.json", "badstate.msg", "garbage1.json", "garbage1.msg", "nobody.json", "wrongid.json", "wrongid.msg"}
	if got := dirNames(t, filepath.Join(opts.Dir, "corrupt")); !slices.Equal(got, want) {
		t.Errorf("corrupt/ = %v, want %v", got, want)
	}
	// The good message was never changed after Commit: its envelope is
	// the trailer of its file in msg/.
	assertEmpty(t, opts.Dir, "env")
	if got := dirNames(t, filepath.Join(opts.Dir, "msg")); !slices.Equal(got, []string{good}) {
		t.Errorf("msg/ = %v", got)
	}
}
