package delivery

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

func rawRoute(s *rawServer) Route {
	scheme := "smtp://"
	if s.cfg.lmtp {
		scheme = "lmtp://"
	}
	return Route{Domains: []string{"*"}, To: scheme + s.addr, TLS: PolicyNone}
}

// rawDeliverer delivers to s over one connection; a client that waits for
// replies the server holds fails after CommandTimeout.
func rawDeliverer(t *testing.T, s *rawServer) *Deliverer {
	return newDeliverer(t, Options{MaxPerRoute: 1, CommandTimeout: 5 * time.Second, Routes: []Route{rawRoute(s)}})
}

func TestPipelinedOnTheWire(t *testing.T) {
	t.Parallel()
	s := startRawServer(t, rawConfig{pipelining: true})
	d := rawDeliverer(t, s)
	for _, id := range []string{"p1", "p2", "p3"} {
		res := deliver(t, d, newMessage(id, testBody), rcpts("bob@example.test", "carol@example.test", "bob@example.test"))
		for a, r := range res {
			if !r.Delivered() || r.Code != 250 || r.Enhanced != "2.0.0" {
				t.Fatalf("%s %s: %+v", id, a, r)
			}
		}
	}
	d.Close()
	s.checkOrder(t)
	if n := s.connections(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
	want := "EHLO " + strings.Repeat("MAIL RCPT RCPT DATA ", 3) + "QUIT"
	if got := strings.Join(s.commands(0), " "); got != want {
		t.Errorf("commands:\n%s\nwant (no RSET, no second EHLO):\n%s", got, want)
	}
	for i, b := range s.received() {
		if string(b) != testBody {
			t.Errorf("message %d: %q", i, b)
		}
	}
}

func TestPipelinedRcptRefused(t *testing.T) {
	t.Parallel()
	s := startRawServer(t, rawConfig{pipelining: true, rcptReply: map[string]string{
		"gone@example.test": "550 5.1.1 No such user",
		"full@example.test": "452-4.2.2 Mailbox full\r\n452 4.2.2 try later"}})
	d := rawDeliverer(t, s)
	res := deliver(t, d, newMessage("f1", testBody), rcpts("ok@example.test", "gone@example.test", "full@example.test", "ok2@example.test"))
	if r := res["gone@example.test"]; r.Code != 550 || r.Enhanced != "5.1.1" || !r.Permanent || r.Text != "No such user" {
		t.Errorf("gone: %+v", r)
	}
	if r := res["full@example.test"]; r.Code != 452 || r.Enhanced != "4.2.2" || r.Permanent || r.Text != "Mailbox full try later" {
		t.Errorf("full: %+v", r)
	}
	for _, a := range []string{"ok@example.test", "ok2@example.test"} {
		if r := res[a]; !r.Delivered() {
			t.Errorf("%s: %+v", a, r)
		}
	}
	// Every recipient refused: DATA is refused too, the transaction is
	// reset and the connection carries the next message.
	if r := deliver(t, d, newMessage("f2", testBody), rcpts("gone@example.test"))["gone@example.test"]; r.Code != 550 {
		t.Errorf("all refused: %+v", r)
	}
	if r := deliver(t, d, newMessage("f3", testBody), rcpts("ok@example.test"))["ok@example.test"]; !r.Delivered() {
		t.Errorf("after reset: %+v", r)
	}
	d.Close()
	s.checkOrder(t)
	want := "EHLO MAIL RCPT RCPT RCPT RCPT DATA MAIL RCPT DATA RSET MAIL RCPT DATA QUIT"
	if got := strings.Join(s.commands(0), " "); got != want || s.connections() != 1 {
		t.Errorf("%d connections, commands:\n%s\nwant\n%s", s.connections(), got, want)
	}
	if n := len(s.received()); n != 2 {
		t.Errorf("%d messages received, want 2", n)
	}
}

func TestPipelinedMailRefused(t *testing.T) {
	t.Parallel()
	s := startRawServer(t, rawConfig{pipelining: true, mailReply: "451 4.3.0 Try again later"})
	d := rawDeliverer(t, s)
	for _, id := range []string{"m1", "m2"} {
		for a, r := range deliver(t, d, newMessage(id, testBody), rcpts("a@example.test", "b@example.test")) {
			if r.Code != 451 || r.Enhanced != "4.3.0" || r.Permanent {
				t.Errorf("%s %s: %+v, want 451 4.3.0", id, a, r)
			}
		}
	}
	d.Close()
	s.checkOrder(t)
	if n := s.connections(); n != 1 {
		t.Errorf("%d connections, want 1 (a refusal leaves it usable)", n)
	}
}

func TestNoPipelining(t *testing.T) {
	t.Parallel()
	s := startRawServer(t, rawConfig{rcptReply: map[string]string{"gone@example.test": "550 5.1.1 No such user"}})
	d := rawDeliverer(t, s)
	for _, id := range []string{"n1", "n2"} {
		res := deliver(t, d, newMessage(id, testBody), rcpts("bob@example.test", "gone@example.test"))
		if r := res["bob@example.test"]; !r.Delivered() {
			t.Errorf("%s: %+v", id, r)
		}
		if r := res["gone@example.test"]; r.Code != 550 {
			t.Errorf("%s: %+v", id, r)
		}
	}
	// No recipient accepted: no DATA at all, one RSET.
	deliver(t, d, newMessage("n3", testBody), rcpts("gone@example.test"))
	d.Close()
	s.checkOrder(t)
	want := "EHLO " + strings.Repeat("MAIL RCPT RCPT DATA ", 2) + "MAIL RCPT RSET QUIT"
	if got := strings.Join(s.commands(0), " "); got != want {
		t.Errorf("commands:\n%s\nwant\n%s", got, want)
	}
	for i, b := range s.received() {
		if string(b) != testBody {
			t.Errorf("message %d: %q", i, b)
		}
	}
}

func TestLMTPPipelined(t *testing.T) {
	t.Parallel()
	s := startRawServer(t, rawConfig{lmtp: true, pipelining: true,
		rcptReply: map[string]string{"gone@example.test": "550 5.1.1 No such user"},
		dataReply: map[string]string{"full@example.test": "452 4.2.2 Mailbox full"}})
	d := rawDeliverer(t, s)
	for _, id := range []string{"l1", "l2"} {
		res := deliver(t, d, newMessage(id, testBody),
			rcpts("ok@example.test", "gone@example.test", "full@example.test", "ok@example.test", "ok2@example.test"))
		for _, a := range []string{"ok@example.test", "ok2@example.test"} {
			if r := res[a]; !r.Delivered() || !strings.Contains(r.Text, "<"+a+">") {
				t.Errorf("%s %s: %+v, want its own reply", id, a, r)
			}
		}
		if r := res["gone@example.test"]; r.Code != 550 || !r.Permanent {
			t.Errorf("%s gone: %+v", id, r)
		}
		if r := res["full@example.test"]; r.Code != 452 || r.Enhanced != "4.2.2" || r.Permanent {
			t.Errorf("%s full: %+v", id, r)
		}
	}
	d.Close()
	s.checkOrder(t)
	want := "LHLO " + strings.Repeat("MAIL RCPT RCPT RCPT RCPT DATA ", 2) + "QUIT"
	if got := strings.Join(s.commands(0), " "); got != want {
		t.Errorf("commands:\n%s\nwant\n%s", got, want)
	}
}

// TestReuseIdleDropRetried: the server drops the pooled connection while
// it idles (silently or with a 421); the next message goes out on a new
// connection.
func TestReuseIdleDropRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, with string
		pipelining bool
	}{
		{"close", "", true}, {"421", "421 4.4.2 raw.test idle timeout", true},
		{"close without pipelining", "", false}, {"421 without pipelining", "421 4.4.2 raw.test idle timeout", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startRawServer(t, rawConfig{pipelining: tc.pipelining, dropAfter: 1, dropWith: tc.with})
			d := rawDeliverer(t, s)
			for _, id := range []string{"i1", "i2"} {
				if r := deliver(t, d, newMessage(id, testBody), rcpts("bob@example.test"))["bob@example.test"]; !r.Delivered() {
					t.Fatalf("%s: %+v", id, r)
				}
			}
			if n, m := s.connections(), len(s.received()); n != 2 || m != 2 {
				t.Fatalf("%d connections, %d messages; want 2 and 2", n, m)
			}
		})
	}
}

// failingReader returns some of a body, then an error.
type failingReader struct{ n int }

func (f *failingReader) Read(b []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(b), f.n)
	for i := range n {
		b[i] = 'x'
	}
	f.n -= n
	return n, nil
}

func (f *failingReader) Close() error { return nil }

// TestBodyReadErrorNoDot: a body that cannot be read to its end must not
// be ended with the dot; the connection is dropped instead.
func TestBodyReadErrorNoDot(t *testing.T) {
	t.Parallel()
	s := startRawServer(t, rawConfig{pipelining: true})
	d := rawDeliverer(t, s)
	msg := newMessage("e1", testBody)
	msg.Open = func() (io.ReadCloser, error) { return &failingReader{n: 40 << 10}, nil }
	if r := deliver(t, d, msg, rcpts("bob@example.test"))["bob@example.test"]; r.Delivered() || r.Permanent || !strings.Contains(r.Text, "disk on fire") {
		t.Errorf("%+v, want temporary failure with the read error", r)
	}
	if r := deliver(t, d, newMessage("e2", testBody), rcpts("bob@example.test"))["bob@example.test"]; !r.Delivered() {
		t.Errorf("next message: %+v", r)
	}
	if got := s.received(); len(got) != 1 || string(got[0]) != testBody {
		t.Errorf("server received %d messages, want only the second", len(got))
	}
}

// TestPipelinedManyRecipients: more recipients than one pipelined group
// holds go out in several groups.
func TestPipelinedManyRecipients(t *testing.T) {
	t.Parallel()
	s := startRawServer(t, rawConfig{pipelining: true, flushIdle: true,
		rcptReply: map[string]string{"r7@example.test": "550 5.1.1 No such user"}})
	d := rawDeliverer(t, s)
	var addrs []string
	for i := range 2*pipelineDepth + 50 {
		addrs = append(addrs, fmt.Sprintf("r%d@example.test", i))
	}
	for a, r := range deliver(t, d, newMessage("g1", testBody), rcpts(addrs...)) {
		if r.Delivered() == (a == "r7@example.test") {
			t.Errorf("%s: %+v", a, r)
		}
	}
	s.checkOrder(t)
	if got := s.commands(0); len(got) != 1+1+len(addrs)+1 || got[len(got)-1] != "DATA" || len(s.received()) != 1 {
		t.Errorf("%d commands, last %q, %d messages", len(got), got[len(got)-1], len(s.received()))
	}
}
