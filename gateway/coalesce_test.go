package gateway

import (
	"bufio"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
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
