package gateway

import (
	"bufio"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingConn is a fake connection that records each Write it gets.
type recordingConn struct {
	net.Conn // nil: only Read, Write and Close are used
	mu       sync.Mutex
	writes   []string
	readFrom io.Reader
	closed   bool
	entered  chan struct{} // if set, gets a value each time Read starts
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *recordingConn) Read(p []byte) (int, error) {
	if c.entered != nil {
		c.entered <- struct{}{}
	}
	return c.readFrom.Read(p)
}

func (c *recordingConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *recordingConn) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.writes...)
}

func TestCoalescedConnSendsAReplyInOneWrite(t *testing.T) {
	t.Parallel()
	raw := &recordingConn{readFrom: strings.NewReader("MAIL FROM:<a@example.test>\r\n")}
	c := newCoalescedConn(raw, newWriteBufferPool())
	w := textproto.NewWriter(bufio.NewWriter(c))
	for _, l := range []string{"250-bh.example.test", "250-PIPELINING", "250 8BITMIME"} {
		if err := w.PrintfLine("%s", l); err != nil { // flushes each line, as go-smtp does
			t.Fatal(err)
		}
	}
	if got := raw.got(); len(got) != 0 {
		t.Fatalf("written before the next read: %q", got)
	}
	if _, err := c.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	want := "250-bh.example.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
	if got := raw.got(); len(got) != 1 || got[0] != want {
		t.Fatalf("writes = %q, want one write %q", got, want)
	}
}

func TestCoalescedConnCloseSendsWhatIsHeldBack(t *testing.T) {
	t.Parallel()
	raw := &recordingConn{readFrom: strings.NewReader("")}
	c := newCoalescedConn(raw, newWriteBufferPool())
	if _, err := io.WriteString(c, "221 2.0.0 Bye\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := raw.got(); len(got) != 1 || got[0] != "221 2.0.0 Bye\r\n" {
		t.Fatalf("writes = %q", got)
	}
	if !raw.closed {
		t.Fatal("not closed")
	}
}

func TestCoalescedConnWriteDuringReadGoesOutAtOnce(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	raw := &recordingConn{readFrom: pr, entered: make(chan struct{}, 1)}
	c := newCoalescedConn(raw, newWriteBufferPool())
	readDone := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		readDone <- err
	}()
	<-raw.entered // the session is waiting for the client
	if _, err := io.WriteString(c, "421 4.3.2 Shutting down\r\n"); err != nil {
		t.Fatal(err)
	}
	// Still inside that Read: the notice must already be on the wire.
	if got := raw.got(); len(got) != 1 || got[0] != "421 4.3.2 Shutting down\r\n" {
		t.Fatalf("writes while reading = %q", got)
	}
	_ = pw.Close()
	if err := <-readDone; err != io.EOF {
		t.Fatalf("read: %v", err)
	}
}

func TestCoalescedConnLargeWriteGoesThrough(t *testing.T) {
	t.Parallel()
	raw := &recordingConn{readFrom: strings.NewReader("")}
	c := newCoalescedConn(raw, newWriteBufferPool())
	if _, err := io.WriteString(c, "small\r\n"); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", maxCoalesced+1)
	if _, err := io.WriteString(c, big); err != nil {
		t.Fatal(err)
	}
	got := raw.got()
	if len(got) != 2 || got[0] != "small\r\n" || got[1] != big {
		t.Fatalf("got %d writes, want the held-back line then the large write", len(got))
	}
}

// deadlineConn is a recordingConn that also records write deadlines.
type deadlineConn struct {
	recordingConn
	deadlines []time.Time
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadlines = append(c.deadlines, t)
	return nil
}

func TestCoalescedConnKeepsRepliesAcrossALaterDeadline(t *testing.T) {
	t.Parallel()
	raw := &deadlineConn{recordingConn: recordingConn{readFrom: strings.NewReader("message body\r\n")}}
	c := newCoalescedConn(raw, newWriteBufferPool())
	// go-smtp answering MAIL, RCPT and DATA sent in one pipelined group:
	// a write deadline before every reply.
	for _, l := range []string{"250 2.1.0 Sender OK\r\n", "250 2.1.5 Recipient OK\r\n", "354 Go ahead\r\n"} {
		if err := c.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, l); err != nil {
			t.Fatal(err)
		}
	}
	if got := raw.got(); len(got) != 0 {
		t.Fatalf("written before the next read: %q", got)
	}
	if _, err := c.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	want := "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 Go ahead\r\n"
	if got := raw.got(); len(got) != 1 || got[0] != want {
		t.Fatalf("writes = %q, want one write %q", got, want)
	}
}

func TestCoalescedConnPastDeadlineSendsWhatIsHeldBackFirst(t *testing.T) {
	t.Parallel()
	raw := &deadlineConn{recordingConn: recordingConn{readFrom: strings.NewReader("")}}
	c := newCoalescedConn(raw, newWriteBufferPool())
	if _, err := io.WriteString(c, "close_notify"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := c.SetWriteDeadline(now); err != nil { // as crypto/tls does after its close_notify
		t.Fatal(err)
	}
	if got := raw.got(); len(got) != 1 || got[0] != "close_notify" {
		t.Fatalf("writes = %q, want the held-back bytes before the deadline", got)
	}
	if len(raw.deadlines) != 1 || !raw.deadlines[0].Equal(now) {
		t.Fatalf("deadlines = %v", raw.deadlines)
	}
}
