package bounce

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"bridgehead.dev/bridgehead/gateway/delivery"
	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/gateway/testservers"
	"bridgehead.dev/bridgehead/mailboxstore"
)

// Test domains: senderDomain is routed to the accepting sink, remoteDomain
// to the one that refuses or defers.
const (
	senderDomain = "sender.test"
	remoteDomain = "remote.test"
	hostname     = "gw.test"
	postmaster   = "postmaster@gw.test"
)

// Sink arguments for the refusing and the deferring back end.
var (
	refuseArgs = []string{"-f", "rcpt", "-B", "550 5.1.1 No such user"}
	deferArgs  = []string{"-r", "rcpt", "-b", "451 4.3.0 Try later"}
)

// setup is how a harness differs between tests.
type setup struct {
	remoteArgs  []string
	expire      time.Duration
	delayNotice time.Duration
	copyToPM    bool
	languages   map[string]string // Options.DomainLanguage
}

// harness is a real queue delivering to two smtp-sinks, with the Reporter
// hooked in and the hooks' and report deliveries' ends signalled.
type harness struct {
	q        *queue.Queue
	good     *testservers.Sink
	storeDir string
	failures chan string // queue ids whose OnFailure returned
	delays   chan string // queue ids whose OnDelay returned
	reports  chan []queue.Result
}

// notifyingDeliverer signals the results of every attempt of a message
// with the null sender.
type notifyingDeliverer struct {
	inner   queue.Deliverer
	reports chan<- []queue.Result
}

func (d notifyingDeliverer) Deliver(ctx context.Context, msg *queue.Message, rcpts []*queue.Recipient) []queue.Result {
	res := d.inner.Deliver(ctx, msg, rcpts)
	if msg.Envelope.From == "" {
		d.reports <- res
	}
	return res
}

func newHarness(t *testing.T, s setup) *harness {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	good := testservers.StartSink(t)
	remote := testservers.StartSink(t, s.remoteArgs...)

	h := &harness{
		good:     good,
		storeDir: filepath.Join(t.TempDir(), "mailboxes"),
		failures: make(chan string, 16),
		delays:   make(chan string, 16),
		reports:  make(chan []queue.Result, 16),
	}
	store, err := mailboxstore.Open(mailboxstore.Options{Dir: h.storeDir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := New(Options{
		Hostname: hostname, Postmaster: postmaster, CopyToPostmaster: s.copyToPM,
		Expire: s.expire, DomainLanguage: s.languages, Store: store, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := delivery.New(delivery.Options{
		Hostname: hostname,
		Routes: []delivery.Route{
			{Domains: []string{remoteDomain}, To: "smtp://" + remote.Addr, TLS: delivery.PolicyNone},
			{Domains: []string{senderDomain}, To: "smtp://" + good.Addr, TLS: delivery.PolicyNone},
		},
		DialTimeout: 5 * time.Second, CommandTimeout: 10 * time.Second, DataTimeout: 10 * time.Second,
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	q, err := queue.Open(t.Context(), queue.Options{
		Dir:         filepath.Join(t.TempDir(), "queue"),
		Retry:       []time.Duration{time.Hour},
		Expire:      s.expire,
		DelayNotice: s.delayNotice,
		Workers:     4,
		Deliverer:   notifyingDeliverer{inner: d, reports: h.reports},
		Logger:      log,
		OnFailure: func(ctx context.Context, env *queue.Envelope, failed []*queue.Recipient) {
			rep.OnFailure(ctx, env, failed)
			h.failures <- env.ID
		},
		OnDelay: func(ctx context.Context, env *queue.Envelope, delayed []*queue.Recipient) {
			rep.OnDelay(ctx, env, delayed)
			h.delays <- env.ID
		},
		OnSuccess: rep.OnSuccess,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep.SetQueue(q)
	h.q = q
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("queue run: %v", err)
		}
		_ = q.Close()
	})
	return h
}

// originalBody is the message tests submit.
const originalBody = "From: Alice <alice@sender.test>\r\n" +
	"To: Bob <bob@remote.test>\r\n" +
	"Subject: Quarterly numbers\r\n" +
	"Message-ID: <orig-1@sender.test>\r\n" +
	"\r\n" +
	"The body line that only a full return carries.\r\n"

// submit queues originalBody with env and returns its id.
func (h *harness) submit(t *testing.T, env *queue.Envelope) string {
	t.Helper()
	tx, err := h.q.Begin(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Write([]byte(originalBody)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	return tx.ID()
}

// wait returns the next value from ch; a hang guard fails the test.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s", what)
	}
	var zero T
	return zero
}

// waitFailure waits until OnFailure has returned for message id.
func (h *harness) waitFailure(t *testing.T, id string) {
	t.Helper()
	if got := wait(t, h.failures, "failure hook call"); got != id {
		t.Fatalf("failure hook for %s, want %s", got, id)
	}
}

// queuedReports returns the queued messages with the null sender but
// those whose ids are given (a failed message is still listed while its
// failure hook runs).
func (h *harness) queuedReports(except ...string) []*queue.Envelope {
	var out []*queue.Envelope
	for _, env := range h.q.List() {
		if env.From == "" && !slices.Contains(except, env.ID) {
			out = append(out, env)
		}
	}
	return out
}

// deliveredReport waits for a report's delivery to the accepting sink and
// returns the sink's record of it.
func (h *harness) deliveredReport(t *testing.T) testservers.SinkMessage {
	t.Helper()
	res := wait(t, h.reports, "report delivery")
	if len(res) != 1 || !res[0].Delivered() {
		t.Fatalf("report delivery results %+v", res)
	}
	msgs := h.good.Messages(t)
	if len(msgs) != 1 {
		t.Fatalf("accepting sink has %d messages, want 1", len(msgs))
	}
	m, err := testservers.ParseSink(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// maildirMessages returns the messages in the new/ directory of a Maildir
// folder of the postmaster mailbox ("" is INBOX), oldest name first.
func (h *harness) maildirMessages(t *testing.T, folder string) [][]byte {
	t.Helper()
	dir := filepath.Join(h.storeDir, mailboxstore.PostmasterOwner)
	if folder != "" {
		dir = filepath.Join(dir, "."+folder)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, "new", n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// part is one MIME part read back.
type part struct {
	mediaType string
	params    map[string]string
	body      []byte
}

// report is a delivery status notification taken apart with go-message.
type report struct {
	header   message.Header
	parts    []part
	perMsg   textproto.Header
	perRcpts []textproto.Header
}

// parseReport reads raw as a multipart/report and its delivery-status part.
func parseReport(t *testing.T, raw []byte) *report {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read report: %v", err)
	}
	mt, params, err := e.Header.ContentType()
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("report Content-Type %q %v (%v)", mt, params, err)
	}
	r := &report{header: e.Header}
	mr := e.MultipartReader()
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read report part: %v", err)
		}
		pmt, pparams, _ := p.Header.ContentType()
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		r.parts = append(r.parts, part{pmt, pparams, body})
	}
	if len(r.parts) < 2 || r.parts[0].mediaType != "text/plain" || r.parts[1].mediaType != "message/delivery-status" {
		t.Fatalf("report parts %v", r.mediaTypes())
	}
	br := bufio.NewReader(bytes.NewReader(r.parts[1].body))
	r.perMsg, err = textproto.ReadHeader(br)
	if err != nil {
		t.Fatalf("per-message fields: %v", err)
	}
	for {
		if _, err := br.Peek(1); err == io.EOF {
			break
		}
		h, err := textproto.ReadHeader(br)
		if err != nil {
			t.Fatalf("per-recipient fields: %v", err)
		}
		if h.Len() > 0 {
			r.perRcpts = append(r.perRcpts, h)
		}
	}
	return r
}

func (r *report) mediaTypes() []string {
	var out []string
	for _, p := range r.parts {
		out = append(out, p.mediaType)
	}
	return out
}

// checkFields compares fields of h with want.
func checkFields(t *testing.T, what string, h textproto.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s %s = %q, want %q", what, k, got, v)
		}
	}
}

// hasPrefixField checks that field k of h starts with prefix.
func hasPrefixField(t *testing.T, what string, h textproto.Header, k, prefix string) {
	t.Helper()
	if got := h.Get(k); !strings.HasPrefix(got, prefix) {
		t.Errorf("%s %s = %q, want prefix %q", what, k, got, prefix)
	}
}
