package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/directory/static"
	"bridgehead.dev/bridgehead/gateway/filter"
	"bridgehead.dev/bridgehead/gateway/protolog"
	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/gateway/testservers"
)

// Test users of the static directory every test gateway has.
const (
	aliceLogin = "alice"
	alicePass  = "alice-secret"
	alice      = "alice@example.test"
	aliceAlias = "a.smith@example.test"
	bobLogin   = "bob"
	bobPass    = "bob-secret"
	bob        = "bob@example.test"
	hostname   = "gw.example.test"
)

// Listener names of the test gateway.
const (
	lnSubmission  = "submission"
	lnSubmissions = "submissions"
	lnInbound     = "inbound"
)

// setup is what a test may change before its gateway starts.
type setup struct {
	// Opts are the gateway options; Listeners are filled in from Limits
	// after the setup function ran.
	Opts Options
	// Limits apply to every listener.
	Limits Limits
	// Queue are the queue options; Dir and Deliverer are set by default.
	Queue queue.Options
	// RunQueue starts the queue's workers, so messages get delivered.
	RunQueue bool
	// Resolver, if set, wraps the static directory for recipient lookups.
	Resolver func(directory.Resolver) directory.Resolver
	// Filters is every listener's filter chain.
	Filters filter.Chain
	// Access is every listener's access list.
	Access []AccessRule
	// ProtocolLog is every listener's protocol log.
	ProtocolLog *protolog.Logger
}

// testGateway is a Gateway running in-process on free loopback ports, with a
// real queue under a temporary directory.
type testGateway struct {
	gw        *Gateway
	q         *queue.Queue
	qdir      string
	addrs     map[string]string // listener name -> host:port
	clientTLS *tls.Config
	fake      *recorder // the fake deliverer when no other was set
	cancel    context.CancelFunc
	runDone   chan error // Run's result
}

// startGateway starts a gateway with three listeners (submission,
// submissions, inbound) for example.test, whose directory holds alice
// (alice@example.test, a.smith@example.test) and bob (bob@example.test).
// change, if not nil, adjusts the setup first. t.Cleanup stops the gateway
// and waits for Run to return.
func startGateway(t testing.TB, change func(*setup)) *testGateway {
	t.Helper()
	serverTLS, clientTLS := makeCert(t)
	rec := newRecorder()
	st := setup{
		Opts: Options{
			Hostname: hostname,
			Domains:  []string{"example.test"},
			Logger:   testLogger(t),
		},
		Queue: queue.Options{
			Dir:       filepath.Join(t.TempDir(), "queue"),
			Deliverer: rec,
		},
	}
	st.Queue.Logger = st.Opts.Logger
	if change != nil {
		change(&st)
	}
	tg := &testGateway{addrs: map[string]string{}, clientTLS: clientTLS, qdir: st.Queue.Dir, runDone: make(chan error, 1)}
	if st.Queue.Deliverer == rec {
		tg.fake = rec
	}
	for _, m := range []Mode{ModeSubmission, ModeSubmissions, ModeInbound} {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testservers.FreePort(t)))
		tg.addrs[string(m)] = addr
		st.Opts.Listeners = append(st.Opts.Listeners, ListenerOptions{
			Name: string(m), Address: addr, Mode: m, Limits: st.Limits, TLSConfig: serverTLS, Filters: st.Filters, Access: st.Access,
			ProtocolLog: st.ProtocolLog,
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	q, err := queue.Open(ctx, st.Queue)
	if err != nil {
		cancel()
		t.Fatalf("queue.Open: %v", err)
	}
	tg.q = q
	var qdone chan struct{}
	if st.RunQueue {
		qdone = make(chan struct{})
		go func() {
			defer close(qdone)
			if err := q.Run(ctx); err != nil {
				t.Errorf("queue.Run: %v", err)
			}
		}()
	}

	hash, err := bcrypt.GenerateFromPassword([]byte(alicePass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bobHash, err := bcrypt.GenerateFromPassword([]byte(bobPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := static.Parse("users.yaml", fmt.Appendf(nil, `users:
  - login: %s
    password: %q
    addresses: [%s, %s]
  - login: %s
    password: %q
    addresses: [%s]
`, aliceLogin, hash, alice, aliceAlias, bobLogin, bobHash, bob))
	if err != nil {
		t.Fatalf("static.Parse: %v", err)
	}
	auth, err := authn.New(dir, authn.Options{NoFailureDelay: true, Logger: st.Opts.Logger})
	if err != nil {
		t.Fatalf("authn.New: %v", err)
	}
	var resolver directory.Resolver = dir
	if st.Resolver != nil {
		resolver = st.Resolver(dir)
	}
	gw, err := New(st.Opts, Deps{Auth: auth, Directory: resolver, Queue: q})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	tg.gw = gw
	tg.cancel = cancel
	go func() { tg.runDone <- gw.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := tg.wait(t); err != nil {
			t.Errorf("Run: %v", err)
		}
		if qdone != nil {
			<-qdone
		}
		if err := q.Close(); err != nil {
			t.Errorf("queue.Close: %v", err)
		}
	})
	select {
	case <-gw.Ready():
	case err := <-tg.runDone:
		tg.runDone <- err
		t.Fatalf("Run ended before ready: %v", err)
	}
	return tg
}

// wait waits for Run to return (once; later calls return nil at once).
func (tg *testGateway) wait(t testing.TB) error {
	t.Helper()
	select {
	case err, ok := <-tg.runDone:
		if !ok {
			return nil
		}
		close(tg.runDone)
		return err
	case <-time.After(time.Minute):
		t.Fatal("Run did not return a minute after its context was cancelled")
		return nil
	}
}

// queuedMessage is a committed message read back from the queue directory.
type queuedMessage struct {
	env  *queue.Envelope
	data []byte
}

// queued returns every message committed to the queue, oldest first, with
// its bytes as stored.
func (tg *testGateway) queued(t testing.TB) []queuedMessage {
	t.Helper()
	var out []queuedMessage
	for _, env := range tg.q.List() {
		b, err := readQueuedBody(tg.q, env.ID)
		if err != nil {
			t.Fatalf("read queued message: %v", err)
		}
		out = append(out, queuedMessage{env: env, data: b})
	}
	return out
}

// onlyQueued returns the single queued message, failing when there is not
// exactly one.
func (tg *testGateway) onlyQueued(t testing.TB) queuedMessage {
	t.Helper()
	msgs := tg.queued(t)
	if len(msgs) != 1 {
		t.Fatalf("queue holds %d messages, want 1", len(msgs))
	}
	return msgs[0]
}

// assertNothingQueued fails when the queue holds any message.
func (tg *testGateway) assertNothingQueued(t testing.TB) {
	t.Helper()
	if n := tg.q.Len(); n != 0 {
		t.Fatalf("queue holds %d messages, want none", n)
	}
}

// recorder is a fake Deliverer: it records every message it is given on
// a channel and reports every recipient delivered.
type recorder struct {
	msgs chan recorded
}

// recorded is one message a recorder was given.
type recorded struct {
	env  queue.Envelope
	data []byte
}

func newRecorder() *recorder { return &recorder{msgs: make(chan recorded, 100)} }

func (r *recorder) Deliver(ctx context.Context, msg *queue.Message, rcpts []*queue.Recipient) []queue.Result {
	res := make([]queue.Result, len(rcpts))
	for i, rc := range rcpts {
		res[i] = queue.Result{Recipient: rc.Address, Code: 250, Enhanced: "2.0.0", Text: "ok", RemoteMTA: "fake"}
	}
	rd, err := msg.Open()
	if err != nil {
		for i := range res {
			res[i] = queue.Result{Recipient: rcpts[i].Address, Text: err.Error()}
		}
		return res
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		for i := range res {
			res[i] = queue.Result{Recipient: rcpts[i].Address, Text: err.Error()}
		}
		return res
	}
	r.msgs <- recorded{env: *msg.Envelope, data: b}
	return res
}

// next returns the next delivered message.
func (r *recorder) next(t testing.TB) recorded {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no message delivered within 30s")
		return recorded{}
	}
}

// discarder is a Deliverer that reports every recipient delivered without
// reading the message (benchmarks).
type discarder struct{}

func (discarder) Deliver(ctx context.Context, msg *queue.Message, rcpts []*queue.Recipient) []queue.Result {
	res := make([]queue.Result, len(rcpts))
	for i, rc := range rcpts {
		res[i] = queue.Result{Recipient: rc.Address, Code: 250, Enhanced: "2.0.0"}
	}
	return res
}

// makeCert is the test certificate: see testservers.TLSPair.
func makeCert(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	return testservers.TLSPair(t, hostname)
}

// testLogger logs to t.Log until the test ends (goroutines may log a
// little later than that; those lines are dropped).
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(p[:len(p)-1]))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}
