package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/admin"
	"bridgehead.dev/bridgehead/gateway/queue"
)

// downBackend answers every recipient 451: the back end is down.
type downBackend struct{}

func (downBackend) Deliver(_ context.Context, _ *queue.Message, rcpts []*queue.Recipient) []queue.Result {
	out := make([]queue.Result, len(rcpts))
	for i, r := range rcpts {
		out[i] = queue.Result{Recipient: r.Address, Code: 451, Enhanced: "4.3.0", Text: "back end down"}
	}
	return out
}

// startAdmin runs a real queue whose back end is down and the admin API
// on loopback; it returns the queue and the API's address.
func startAdmin(t *testing.T) (*queue.Queue, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := filepath.Join(t.TempDir(), "queue")
	q, err := queue.Open(t.Context(), queue.Options{
		Dir: dir, Deliverer: downBackend{}, Logger: log, Workers: 1,
		Retry: []time.Duration{time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := admin.New(admin.Options{Queue: q, QueueDir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	ln, err := admin.Listen(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	qdone, sdone := make(chan error, 1), make(chan error, 1)
	go func() { qdone <- q.Run(ctx) }()
	go func() { sdone <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-sdone
		<-qdone
		_ = q.Close()
	})
	return q, ln.Addr().String()
}

// queueOne commits a message and waits until its first attempt is recorded.
func queueOne(t *testing.T, q *queue.Queue, rcpt string) string {
	t.Helper()
	env := &queue.Envelope{From: "alice@example.test", Recipients: []*queue.Recipient{{Address: rcpt}}}
	tx, err := q.Begin(env)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(tx, "Subject: hello there\r\n\r\nbody\r\n")
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got, err := q.Get(env.ID); err == nil && got.Attempts > 0 {
			return env.ID
		}
		if time.Now().After(deadline) {
			t.Fatal("first attempt not recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runCLI runs the command in-process and returns its output.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(""), &out, &errb)
	return out.String() + errb.String(), err
}

func TestAdminCLIQueue(t *testing.T) {
	t.Parallel()
	q, addr := startAdmin(t)
	id := queueOne(t, q, "bob@example.test")

	out, err := runCLI(t, "queue", "list", "-admin", addr)
	if err != nil {
		t.Fatalf("queue list: %v\n%s", err, out)
	}
	t.Logf("queue list:\n%s", out)
	for _, want := range []string{"ID", id, "alice@example.test", "bob@example.test", "pending", "451 4.3.0 back end down", "1 messages"} {
		if !strings.Contains(out, want) {
			t.Errorf("queue list lacks %q:\n%s", want, out)
		}
	}

	out, err = runCLI(t, "queue", "list", "-admin", addr, "-json")
	if err != nil {
		t.Fatal(err)
	}
	var ms []admin.Message
	if err := json.Unmarshal([]byte(out), &ms); err != nil || len(ms) != 1 || ms[0].ID != id {
		t.Errorf("queue list -json: %v %s", err, out)
	}

	out, err = runCLI(t, "queue", "show", id, "-admin", addr)
	if err != nil || !strings.Contains(out, "Subject: hello there") || !strings.Contains(out, "bob@example.test") {
		t.Errorf("queue show: %v\n%s", err, out)
	}

	if out, err := runCLI(t, "queue", "hold", "-admin", addr, id); err != nil || !strings.Contains(out, "hold") {
		t.Fatalf("queue hold: %v\n%s", err, out)
	}
	if got, _ := q.Get(id); !got.Held {
		t.Error("not held after queue hold")
	}
	if out, _ := runCLI(t, "queue", "list", "-admin", addr); !strings.Contains(out, "held") {
		t.Errorf("list does not show held:\n%s", out)
	}
	if out, err := runCLI(t, "queue", "retry", id, "-admin", addr); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("retry of a held message: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "queue", "release", id, "-admin", addr); err != nil {
		t.Fatalf("queue release: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "queue", "retry", "-admin", addr); err != nil || !strings.Contains(out, "retry: 1 messages") {
		t.Errorf("queue retry (all): %v\n%s", err, out)
	}

	out, err = runCLI(t, "status", "-admin", addr)
	if err != nil || !strings.Contains(out, "ready:    yes") || !strings.Contains(out, "1 messages") {
		t.Errorf("status: %v\n%s", err, out)
	}

	// The retry above may still be in flight: delete until it is over.
	for {
		out, err = runCLI(t, "queue", "delete", id, "-admin", addr)
		if err == nil || !strings.Contains(err.Error(), "409") {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("queue delete: %v\n%s", err, out)
	}
	if q.Len() != 0 {
		t.Errorf("queue holds %d after delete", q.Len())
	}
	if out, err := runCLI(t, "queue", "bounce", id, "-admin", addr); err == nil || !strings.Contains(err.Error(), "no such message") {
		t.Errorf("bounce of a deleted message: %v\n%s", err, out)
	}
}

func TestAdminCLIUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"queue"}, {"queue", "frob"}, {"queue", "hold"}, {"queue", "show", "a", "b"}, {"status", "x"},
		{"queue", "list", "-nosuchflag"},
		{"listener"}, {"listener", "pause"}, {"listener", "explode", "x"}, {"listener", "list", "x"},
	} {
		if _, err := runCLI(t, args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
