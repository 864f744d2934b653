package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/internal/logtest"
)

func TestDeliveredIsRemoved(t *testing.T) {
	t.Parallel()
	fd := newFakeDeliverer()
	fd.started = make(chan deliveryCall, 10)
	opts := testOptions(t, fd)
	q := openQueue(t, opts)
	settled := settledChan(q)
	runQueue(t, q)

	id := commit(t, q, "b@example.test", "c@example.test")
	call := recv(t, fd.started)
	if call.ID != id || !slices.Equal(call.Rcpts, []string{"b@example.test", "c@example.test"}) ||
		!bytes.Equal(call.Body, testBody(id, 300)) {
		t.Errorf("deliverer got %+v", call)
	}
	if got := recv(t, settled); got != id {
		t.Fatalf("settled %s, want %s", got, id)
	}
	if q.Len() != 0 {
		t.Errorf("Len = %d after delivery", q.Len())
	}
	assertEmpty(t, opts.Dir, "tmp", "msg", "env", "failed")
}

func TestMixedResults(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	fd := newFakeDeliverer()
	fd.started = make(chan deliveryCall, 10)
	fd.script("ok@example.test", ok250)
	fd.script("later@example.test", tmp451, tmp451, ok250)
	fd.script("bad@example.test", bad550)
	opts := testOptions(t, fd)
	var logs logtest.Buffer
	opts.Logger = testLogger(t, &logs)
	opts.Now = clk.Now
	type failure struct {
		env    *Envelope
		failed []*Recipient
	}
	failures := make(chan failure, 10)
	opts.OnFailure = func(_ context.Context, env *Envelope, failed []*Recipient) {
		// The final state is on disk when the hook runs.
		if _, err := os.Stat(filepath.Join(opts.Dir, "env", env.ID+".json")); err != nil {
			t.Errorf("OnFailure: envelope not on disk: %v", err)
		}
		failures <- failure{env, failed}
	}
	q := openQueue(t, opts)
	settled := settledChan(q)
	runQueue(t, q)
	t0 := clk.Now()
	id := commit(t, q, "ok@example.test", "later@example.test", "bad@example.test")

	// Attempt 1: one delivered, one deferred, one failed.
	recv(t, fd.started)
	recv(t, settled)
	env, err := q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if r := rcptByAddr(t, env, "ok@example.test"); r.State != StateDelivered || r.LastReply != "250 2.0.0 ok" || r.RemoteMTA != "backend.test" || r.Attempts != 1 {
		t.Errorf("ok recipient = %+v", r)
	}
	if r := rcptByAddr(t, env, "later@example.test"); r.State != StatePending || r.LastReply != "451 4.3.0 try later" || !r.LastAttempt.Equal(t0) {
		t.Errorf("later recipient = %+v", r)
	}
	if r := rcptByAddr(t, env, "bad@example.test"); r.State != StateFailed || r.LastReply != "550 5.1.1 no such user" {
		t.Errorf("bad recipient = %+v", r)
	}
	if env.Attempts != 1 || !env.NextAttempt.Equal(t0.Add(15*time.Minute)) {
		t.Errorf("after attempt 1: attempts %d next %v, want 1 %v", env.Attempts, env.NextAttempt, t0.Add(15*time.Minute))
	}
	if onDisk := readEnvelope(t, opts.Dir, id); !onDisk.NextAttempt.Equal(env.NextAttempt) || onDisk.Attempts != 1 {
		t.Errorf("on disk: %+v", onDisk)
	}

	// Attempt 2, when due: only the pending recipient, deferred again for
	// the second interval.
	clk.Advance(15 * time.Minute)
	q.signal()
	call := recv(t, fd.started)
	if !slices.Equal(call.Rcpts, []string{"later@example.test"}) {
		t.Errorf("attempt 2 went to %v", call.Rcpts)
	}
	recv(t, settled)
	env, _ = q.Get(id)
	if want := clk.Now().Add(30 * time.Minute); env.Attempts != 2 || !env.NextAttempt.Equal(want) {
		t.Errorf("after attempt 2: attempts %d next %v, want 2 %v", env.Attempts, env.NextAttempt, want)
	}

	// Attempt 3 delivers; the message ends with one failure.
	clk.Advance(30 * time.Minute)
	q.signal()
	recv(t, fd.started)
	recv(t, settled)
	f := recv(t, failures)
	if f.env.ID != id || len(f.failed) != 1 || f.failed[0].Address != "bad@example.test" {
		t.Errorf("OnFailure(%s, %v)", f.env.ID, f.failed)
	}
	select {
	case f := <-failures:
		t.Errorf("OnFailure called again for %s", f.env.ID)
	default:
	}
	if q.Len() != 0 {
		t.Errorf("Len = %d", q.Len())
	}
	assertEmpty(t, opts.Dir, "msg", "env")
	if got := dirNames(t, filepath.Join(opts.Dir, "failed")); !slices.Equal(got, []string{id + ".json", id + ".msg"}) {
		t.Errorf("failed/ = %v", got)
	}
	final := readJSON(t, filepath.Join(opts.Dir, "failed", id+".json"))
	if r := rcptByAddr(t, final, "later@example.test"); r.State != StateDelivered || r.Attempts != 3 {
		t.Errorf("final later recipient = %+v", r)
	}

	// Every line about the message carries its queue id; one line per
	// recipient per attempt.
	attempts := 0
	for _, line := range logs.Records(t) {
		switch line["msg"] {
		case "queued", "delivery attempt", "message deferred", "message finished":
			if line["queue_id"] != id {
				t.Errorf("log line without queue_id: %v", line)
			}
		}
		if line["msg"] == "delivery attempt" {
			attempts++
			if line["rcpt"] == nil || line["code"] == nil || line["remote"] == nil {
				t.Errorf("attempt line lacks fields: %v", line)
			}
		}
	}
	if attempts != 5 {
		t.Errorf("%d delivery attempt lines, want 5", attempts)
	}
}

func readEnvelope(t *testing.T, dir, id string) *Envelope {
	t.Helper()
	return readJSON(t, filepath.Join(dir, "env", id+".json"))
}

func readJSON(t *testing.T, path string) *Envelope {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	return &env
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	fd := newFakeDeliverer()
	fd.script("slow@example.test", tmp451, tmp451)
	opts := testOptions(t, fd)
	opts.Now = clk.Now
	opts.Expire = 2 * time.Hour
	failures := make(chan []*Recipient, 10)
	opts.OnFailure = func(_ context.Context, _ *Envelope, failed []*Recipient) { failures <- failed }
	q := openQueue(t, opts)
	settled := settledChan(q)
	runQueue(t, q)

	id := commit(t, q, "slow@example.test")
	recv(t, settled)
	clk.Advance(2 * time.Hour)
	if err := q.RetryNow(id); err != nil {
		t.Fatal(err)
	}
	recv(t, settled)
	failed := recv(t, failures)
	if len(failed) != 1 || failed[0].State != StateFailed ||
		!strings.HasPrefix(failed[0].LastReply, "expired") || !strings.Contains(failed[0].LastReply, "451 4.3.0 try later") {
		t.Errorf("failed = %+v", failed[0])
	}
	if q.Len() != 0 {
		t.Errorf("Len = %d", q.Len())
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "failed", id+".json")); err != nil {
		t.Error(err)
	}
}

func TestDelayNotice(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	fd := newFakeDeliverer()
	fd.script("slow@example.test", tmp451, tmp451, tmp451)
	opts := testOptions(t, fd)
	opts.Now = clk.Now
	opts.DelayNotice = time.Hour
	delays := make(chan *Envelope, 10)
	opts.OnDelay = func(_ context.Context, env *Envelope, _ []*Recipient) { delays <- env }
	q := openQueue(t, opts)
	settled := settledChan(q)
	runQueue(t, q)

	id := commit(t, q, "slow@example.test")
	recv(t, settled)
	for range 2 {
		clk.Advance(time.Hour)
		if err := q.RetryNow(id); err != nil {
			t.Fatal(err)
		}
		recv(t, settled)
	}
	env := recv(t, delays)
	if !env.DelayNotified || !readEnvelope(t, opts.Dir, id).DelayNotified {
		t.Error("DelayNotified not recorded")
	}
	select {
	case <-delays:
		t.Error("OnDelay called twice")
	default:
	}
}

func TestHeldNotAttempted(t *testing.T) {
	t.Parallel()
	q := openQueue(t, testOptions(t, newFakeDeliverer()))
	env := &Envelope{Held: true, Recipients: []*Recipient{{Address: "b@example.test"}}}
	tx, err := q.Begin(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e, wait := q.next(); e != nil || wait != -1 {
		t.Errorf("next() = %v, %v; want nothing scheduled", e, wait)
	}
	if err := q.RetryNow(env.ID); err == nil {
		t.Error("RetryNow of a held message succeeded")
	}
}

// TestRunReturnsAfterInFlight cancels Run during an attempt: Run waits
// for the attempt and records its result.
func TestRunReturnsAfterInFlight(t *testing.T) {
	t.Parallel()
	fd := newFakeDeliverer()
	fd.started = make(chan deliveryCall, 10)
	fd.block = make(chan struct{})
	opts := testOptions(t, fd)
	q := openQueue(t, opts)
	commit(t, q, "b@example.test")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	recv(t, fd.started)
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned while an attempt was in flight")
	default:
	}
	close(fd.block)
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 {
		t.Errorf("Len = %d after the in-flight delivery finished", q.Len())
	}
	assertEmpty(t, opts.Dir, "msg", "env")
}

// TestShutdownGrace: an attempt that outlasts the grace period has its
// context cancelled; its temporary results are recorded.
func TestShutdownGrace(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	fd := newFakeDeliverer()
	fd.started = make(chan deliveryCall, 10)
	fd.block = make(chan struct{}) // never closed
	opts := testOptions(t, fd)
	opts.Now = clk.Now
	opts.ShutdownGrace = time.Millisecond
	q := openQueue(t, opts)
	id := commit(t, q, "b@example.test")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	recv(t, fd.started)
	cancel()
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	env := readEnvelope(t, opts.Dir, id)
	if env.Attempts != 1 || env.Recipients[0].State != StatePending || env.Recipients[0].LastReply != "451 4.4.2 cancelled" {
		t.Errorf("recorded %+v %+v", env, env.Recipients[0])
	}
	if err := q.Run(ctx); err != nil {
		t.Errorf("Run again with a done context: %v", err)
	}
}

// TestRetryNowWhileBusy: RetryNow during an attempt makes the message due
// again right after it, not on the retry schedule.
func TestRetryNowWhileBusy(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	fd := newFakeDeliverer()
	fd.started = make(chan deliveryCall, 10)
	fd.script("b@example.test", tmp451, ok250)
	opts := testOptions(t, fd)
	opts.Now = clk.Now
	q := openQueue(t, opts)
	settled := settledChan(q)
	block := make(chan struct{})
	fd.block = block
	runQueue(t, q)
	id := commit(t, q, "b@example.test")
	recv(t, fd.started)
	if err := q.RetryNow(id); err != nil {
		t.Fatal(err)
	}
	fd.mu.Lock()
	fd.block = nil
	fd.mu.Unlock()
	close(block)
	recv(t, settled)
	recv(t, fd.started) // the second attempt, with the clock unmoved
	recv(t, settled)
	if q.Len() != 0 {
		t.Errorf("Len = %d", q.Len())
	}
	if err := q.RetryNow(id); err == nil {
		t.Error("RetryNow of a finished message succeeded")
	}
}

// TestMissingResults: recipients the Deliverer gives no result for stay
// pending; a recipient listed twice gets the results in turn.
func TestMissingResults(t *testing.T) {
	t.Parallel()
	opts := testOptions(t, nopDeliverer{})
	q := openQueue(t, opts)
	settled := settledChan(q)
	runQueue(t, q)
	id := commit(t, q, "b@example.test", "b@example.test")
	recv(t, settled)
	env, err := q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range env.Recipients {
		if r.State != StatePending || r.LastReply != "no delivery result" || r.Attempts != 1 {
			t.Errorf("recipient = %+v", r)
		}
	}
}
