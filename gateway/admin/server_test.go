package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/admin"
	"bridgehead.dev/bridgehead/gateway/queue"
)

// backend is a fake deliverer that is down (451) or up (250) on cue and
// can hold an attempt until released.
type backend struct {
	mu      sync.Mutex
	up      bool
	gate    chan struct{}
	started chan string
}

func (b *backend) set(up bool) {
	b.mu.Lock()
	b.up = up
	b.mu.Unlock()
}

func (b *backend) Deliver(ctx context.Context, msg *queue.Message, rcpts []*queue.Recipient) []queue.Result {
	b.mu.Lock()
	up, gate := b.up, b.gate
	b.mu.Unlock()
	select {
	case b.started <- msg.Envelope.ID:
	default:
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	out := make([]queue.Result, len(rcpts))
	for i, r := range rcpts {
		out[i] = queue.Result{Recipient: r.Address, Code: 451, Enhanced: "4.3.0", Text: "back end down", RemoteMTA: "backend.test"}
		if up {
			out[i] = queue.Result{Recipient: r.Address, Code: 250, Enhanced: "2.0.0", Text: "ok", RemoteMTA: "backend.test"}
		}
	}
	return out
}

type env struct {
	q      *queue.Queue
	dir    string
	be     *backend
	srv    *admin.Server
	base   string
	failed chan *queue.Envelope
}

func logger(t *testing.T) *slog.Logger {
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = t.Output()
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// start runs a real queue (back end down) and the admin API on loopback.
func start(t *testing.T) *env {
	t.Helper()
	e := &env{
		dir:    filepath.Join(t.TempDir(), "queue"),
		be:     &backend{started: make(chan string, 100)},
		failed: make(chan *queue.Envelope, 10),
	}
	q, err := queue.Open(t.Context(), queue.Options{
		Dir: e.dir, Deliverer: e.be, Logger: logger(t), Workers: 2,
		Retry: []time.Duration{time.Hour},
		OnFailure: func(_ context.Context, env *queue.Envelope, _ []*queue.Recipient) {
			e.failed <- env
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.q = q
	ctx, cancel := context.WithCancel(context.Background())
	qdone := make(chan error, 1)
	go func() { qdone <- q.Run(ctx) }()

	e.srv, err = admin.New(admin.Options{Queue: q, QueueDir: e.dir, Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-qdone; err != nil {
			t.Errorf("Run: %v", err)
		}
		_ = q.Close()
	})
	e.base = "http://" + serve(t, e.srv)
	return e
}

// serve runs srv on a free loopback port until the test ends and returns
// its address.
func serve(t *testing.T, srv *admin.Server) string {
	t.Helper()
	ln, err := admin.Listen(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// submit queues a message to rcpts and waits for its first attempt.
func (e *env) submit(t *testing.T, rcpts ...string) string {
	t.Helper()
	en := &queue.Envelope{From: "alice@example.test", Login: "alice"}
	for _, r := range rcpts {
		en.Recipients = append(en.Recipients, &queue.Recipient{Address: r})
	}
	tx, err := e.q.Begin(en)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(tx, "From: Alice <alice@example.test>\r\nSubject: quarterly\r\n report\r\n\r\nbody\r\n")
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, "first attempt recorded", func() bool {
		got, err := e.q.Get(en.ID)
		return err == nil && got.Attempts >= 1
	})
	return en.ID
}

// waitFor waits for cond, which the queue makes true when it records an
// attempt; the bound only keeps a broken test from hanging.
func (e *env) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func call(t *testing.T, method, url string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: content type %q, body %s", method, url, ct, body)
		}
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, body)
		}
	}
	return resp.StatusCode
}

func list(t *testing.T, e *env) []admin.Message {
	t.Helper()
	var ms []admin.Message
	if st := call(t, "GET", e.base+"/api/queue", &ms); st != 200 {
		t.Fatalf("list: status %d", st)
	}
	return ms
}

func TestQueueHoldReleaseRetry(t *testing.T) {
	t.Parallel()
	e := start(t)
	id := e.submit(t, "bob@example.test")

	ms := list(t, e)
	if len(ms) != 1 || ms[0].ID != id || ms[0].From != "alice@example.test" || ms[0].Held ||
		len(ms[0].Recipients) != 1 || ms[0].Recipients[0].State != queue.StatePending ||
		ms[0].Recipients[0].LastReply != "451 4.3.0 back end down" || ms[0].NextAttempt.IsZero() {
		t.Fatalf("list = %+v", ms)
	}

	var d admin.MessageDetail
	if st := call(t, "GET", e.base+"/api/queue/"+id, &d); st != 200 {
		t.Fatalf("show: status %d", st)
	}
	if d.Envelope.ID != id || len(d.Headers) != 2 || d.Headers[1] != (admin.Header{Name: "Subject", Value: "quarterly report"}) {
		t.Errorf("show = %+v", d)
	}

	var res admin.ActionResult
	if st := call(t, "POST", e.base+"/api/queue/"+id+"/hold", &res); st != 200 || res.Action != "hold" {
		t.Fatalf("hold: %d %+v", st, res)
	}
	if ms := list(t, e); !ms[0].Held {
		t.Error("not listed as held")
	}
	var er admin.Error
	if st := call(t, "POST", e.base+"/api/queue/"+id+"/retry", &er); st != http.StatusConflict || er.Error == "" {
		t.Errorf("retry of a held message: %d %+v", st, er)
	}
	if st := call(t, "POST", e.base+"/api/queue/"+id+"/release", &res); st != 200 {
		t.Fatalf("release: %d", st)
	}

	e.be.set(true)
	if st := call(t, "POST", e.base+"/api/queue/"+id+"/retry", &res); st != 200 {
		t.Fatalf("retry: %d", st)
	}
	e.waitFor(t, "delivery after retry", func() bool { return e.q.Len() == 0 })
	if ms := list(t, e); len(ms) != 0 {
		t.Errorf("list after delivery = %+v", ms)
	}
}

func TestQueueDeleteBounceRetryAll(t *testing.T) {
	t.Parallel()
	e := start(t)
	id1 := e.submit(t, "bob@example.test")
	id2 := e.submit(t, "carol@example.test")
	id3 := e.submit(t, "dave@example.test")

	var res admin.ActionResult
	if st := call(t, "POST", e.base+"/api/queue/"+id1+"/delete", &res); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	for _, sub := range []string{"env", "msg", "failed"} {
		names, _ := os.ReadDir(filepath.Join(e.dir, sub))
		for _, n := range names {
			if strings.HasPrefix(n.Name(), id1) {
				t.Errorf("%s/%s left after delete", sub, n.Name())
			}
		}
	}
	var er admin.Error
	if st := call(t, "GET", e.base+"/api/queue/"+id1, &er); st != 404 || er.Error == "" {
		t.Errorf("show deleted: %d %+v", st, er)
	}

	if st := call(t, "POST", e.base+"/api/queue/"+id2+"/bounce", &res); st != 200 {
		t.Fatalf("bounce: %d", st)
	}
	got := <-e.failed
	if got.ID != id2 || got.Recipients[0].State != queue.StateFailed || got.Recipients[0].LastReply != queue.BounceReply {
		t.Errorf("OnFailure got %+v", got)
	}

	e.be.set(true)
	if st := call(t, "POST", e.base+"/api/queue/retry", &res); st != 200 || res.Messages != 1 {
		t.Fatalf("retry all: %d %+v", st, res)
	}
	e.waitFor(t, "delivery after retry all", func() bool { return e.q.Len() == 0 })
	if _, err := e.q.Get(id3); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("%s still queued: %v", id3, err)
	}
}

func TestBusyConflict(t *testing.T) {
	t.Parallel()
	e := start(t)
	gate := make(chan struct{})
	e.be.mu.Lock()
	e.be.gate = gate
	e.be.mu.Unlock()
	en := &queue.Envelope{From: "alice@example.test", Recipients: []*queue.Recipient{{Address: "bob@example.test"}}}
	tx, err := e.q.Begin(en)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-e.be.started
	var er admin.Error
	if st := call(t, "POST", e.base+"/api/queue/"+en.ID+"/delete", &er); st != http.StatusConflict {
		t.Errorf("delete during an attempt: %d %+v", st, er)
	}
	close(gate)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	e := start(t)
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/queue/nosuchid/hold"},
		{"GET", "/api/queue/nosuchid"},
		{"POST", "/api/queue/nosuchid/frobnicate"},
		{"GET", "/nothing/here"},
	} {
		var er admin.Error
		if st := call(t, c.method, e.base+c.path, &er); st != 404 || er.Error == "" {
			t.Errorf("%s %s: %d %+v", c.method, c.path, st, er)
		}
	}
}

func TestProbes(t *testing.T) {
	t.Parallel()
	e := start(t)
	if st := call(t, "GET", e.base+"/healthz", nil); st != 200 {
		t.Errorf("healthz: %d", st)
	}
	if st := call(t, "GET", e.base+"/readyz", nil); st != 503 {
		t.Errorf("readyz before ready: %d", st)
	}
	e.srv.SetReady(true)
	if st := call(t, "GET", e.base+"/readyz", nil); st != 200 {
		t.Errorf("readyz when ready: %d", st)
	}
	var st admin.Status
	if code := call(t, "GET", e.base+"/api/status", &st); code != 200 || !st.Ready || st.Queue.Messages != 0 {
		t.Errorf("status: %d %+v", code, st)
	}
	if names, _ := os.ReadDir(e.dir); len(names) == 0 {
		t.Fatal("queue dir empty")
	} else {
		for _, n := range names {
			if strings.HasPrefix(n.Name(), ".readyz") {
				t.Errorf("readyz left %s", n.Name())
			}
		}
	}
	e.srv.Drain()
	if code := call(t, "GET", e.base+"/readyz", nil); code != 503 {
		t.Errorf("readyz while draining: %d", code)
	}
}

func TestReadyzQueueNotWritable(t *testing.T) {
	t.Parallel()
	e := start(t)
	// A queue directory that is a file cannot be written into, even by
	// root.
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := admin.New(admin.Options{Queue: e.q, QueueDir: notDir, Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	if st := call(t, "GET", "http://"+serve(t, srv)+"/readyz", nil); st != 503 {
		t.Errorf("readyz with an unwritable queue: %d", st)
	}
}

func TestCheckAddress(t *testing.T) {
	t.Parallel()
	for _, a := range []string{"0.0.0.0:8025", "[::]:8025", "192.0.2.1:8025", ":8025"} {
		if err := admin.CheckAddress(a); !errors.Is(err, admin.ErrNotLoopback) {
			t.Errorf("CheckAddress(%q) = %v", a, err)
		}
	}
	for _, a := range []string{"127.0.0.1:8025", "[::1]:8025", "localhost:8025"} {
		if err := admin.CheckAddress(a); err != nil {
			t.Errorf("CheckAddress(%q) = %v", a, err)
		}
	}
}
