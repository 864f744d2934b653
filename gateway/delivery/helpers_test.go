package delivery

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/gateway/testservers"
)

// testBody has a line starting with "." and one that is only ".", both of
// which must arrive as written.
const testBody = "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: test\r\n\r\n" +
	".leading dot\r\n.\r\n..two dots\r\nlast line\r\n"

func newMessage(id, body string) *queue.Message {
	return &queue.Message{
		Envelope: &queue.Envelope{ID: id, From: "alice@example.test", Size: int64(len(body))},
		Open:     func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader([]byte(body))), nil },
	}
}

func rcpts(addrs ...string) []*queue.Recipient {
	out := make([]*queue.Recipient, len(addrs))
	for i, a := range addrs {
		out[i] = &queue.Recipient{Address: a, State: queue.StatePending}
	}
	return out
}

func newDeliverer(t *testing.T, opts Options) *Deliverer {
	t.Helper()
	if opts.Hostname == "" {
		opts.Hostname = "gw.example.test"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(tWriter{t}, nil))
	}
	if opts.CommandTimeout == 0 {
		opts.CommandTimeout = 20 * time.Second
	}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(b)))
	return len(b), nil
}

func deliver(t *testing.T, d *Deliverer, msg *queue.Message, rs []*queue.Recipient) map[string]queue.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := d.Deliver(ctx, msg, rs)
	if len(res) != len(rs) {
		t.Fatalf("got %d results for %d recipients: %+v", len(res), len(rs), res)
	}
	m := map[string]queue.Result{}
	for _, r := range res {
		m[r.Recipient] = r
	}
	return m
}

func sinkRoute(s *testservers.Sink, policy TLSPolicy) Route {
	return Route{Domains: []string{"*"}, To: "smtp://" + s.Addr, TLS: policy}
}

func sinkData(t *testing.T, s *testservers.Sink) []testservers.SinkMessage {
	t.Helper()
	var out []testservers.SinkMessage
	for _, raw := range s.Messages(t) {
		m, err := testservers.ParseSink(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
