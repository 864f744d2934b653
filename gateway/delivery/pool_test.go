package delivery

import (
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

func TestReuseOneConnection(t *testing.T) {
	t.Parallel()
	rec := startRecorder(t, recorderConfig{})
	d := newDeliverer(t, Options{MaxPerRoute: 1, Routes: []Route{{Domains: []string{"*"}, To: "smtp://" + rec.Addr, TLS: PolicyNone}}})
	for _, id := range []string{"r1", "r2", "r3"} {
		if r := deliver(t, d, newMessage(id, testBody), rcpts("bob@example.test"))["bob@example.test"]; !r.Delivered() {
			t.Fatalf("%s: %+v", id, r)
		}
	}
	if n, m := rec.connections(), len(rec.received()); n != 1 || m != 3 {
		t.Fatalf("%d connections for %d messages, want 1 for 3", n, m)
	}
	d.Close()
	select {
	case <-rec.logouts:
	case <-time.After(10 * time.Second):
		t.Fatal("Close left the idle connection open")
	}
}

func TestReuseAfterRecipientRefused(t *testing.T) {
	t.Parallel()
	// Every RCPT refused: the transaction ends with RSET, the connection
	// is still good for the next message.
	sink := testservers.StartSink(t, "-f", "rcpt", "-B", "550 5.1.1 No such user")
	d := newDeliverer(t, Options{Routes: []Route{sinkRoute(sink, PolicyNone)}})
	for _, id := range []string{"x1", "x2"} {
		if r := deliver(t, d, newMessage(id, testBody), rcpts("nobody@example.test"))["nobody@example.test"]; r.Code != 550 {
			t.Fatalf("%s: %+v", id, r)
		}
	}
}

func TestReuseDeadConnectionRetriedFresh(t *testing.T) {
	t.Parallel()
	sink := testservers.StartSink(t)
	d := newDeliverer(t, Options{Routes: []Route{sinkRoute(sink, PolicyNone)}})
	if r := deliver(t, d, newMessage("d1", testBody), rcpts("bob@example.test"))["bob@example.test"]; !r.Delivered() {
		t.Fatalf("first: %+v", r)
	}
	// The pooled connection dies with the server.
	sink.Stop(t)
	sink.Start(t)
	if r := deliver(t, d, newMessage("d2", testBody), rcpts("bob@example.test"))["bob@example.test"]; !r.Delivered() {
		t.Fatalf("after restart: %+v, want delivered on a fresh connection", r)
	}
	if n := len(sinkData(t, sink)); n != 2 {
		t.Fatalf("sink has %d messages, want 2", n)
	}
}

func TestReuseIdleTimeout(t *testing.T) {
	t.Parallel()
	rec := startRecorder(t, recorderConfig{})
	d := newDeliverer(t, Options{IdleTimeout: time.Millisecond, Routes: []Route{{Domains: []string{"*"}, To: "smtp://" + rec.Addr, TLS: PolicyNone}}})
	deliver(t, d, newMessage("i1", testBody), rcpts("bob@example.test"))
	select {
	case <-rec.logouts: // the idle connection was closed by its timer
	case <-time.After(10 * time.Second):
		t.Fatal("idle connection not closed")
	}
	deliver(t, d, newMessage("i2", testBody), rcpts("bob@example.test"))
	if n := rec.connections(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

func TestReuseMaxMessages(t *testing.T) {
	t.Parallel()
	rec := startRecorder(t, recorderConfig{})
	d := newDeliverer(t, Options{MaxMessagesPerConnection: 2, Routes: []Route{{Domains: []string{"*"}, To: "smtp://" + rec.Addr, TLS: PolicyNone}}})
	for _, id := range []string{"m1", "m2", "m3", "m4", "m5"} {
		deliver(t, d, newMessage(id, testBody), rcpts("bob@example.test"))
	}
	if n := rec.connections(); n != 3 {
		t.Fatalf("%d connections for 5 messages at 2 per connection, want 3", n)
	}
}
