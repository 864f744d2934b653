package gateway

import (
	"net"
	"sync"
	"time"
)

// maxCoalesced bounds what a coalescedConn holds back; a larger write
// goes straight through.
const maxCoalesced = 16 << 10

// coalescedConn holds back what the server writes until it next reads.
// go-smtp flushes after every reply line, so a multi-line EHLO answer,
// or the lines of a reply and the TLS records that carry them, would
// each cost a system call and a TCP segment; an SMTP server only reads
// again once its reply is complete, so flushing at the next Read (or at
// Close) sends each reply in one write, with no added latency.
//
// A Write made while a Read is waiting (a reply from another goroutine,
// such as a shutdown notice) goes out at once. The buffer is taken from
// pool at the first held-back Write and given back at the flush, so an
// idle session holds none.
type coalescedConn struct {
	net.Conn
	pool *sync.Pool // of *[]byte

	mu      sync.Mutex
	buf     *[]byte // nil when nothing is held back
	reading bool
	err     error // of the last flush; returned by the next Read or Write
}

func newCoalescedConn(c net.Conn, pool *sync.Pool) *coalescedConn {
	return &coalescedConn{Conn: c, pool: pool}
}

// newWriteBufferPool is the pool a listener's coalescedConns share.
func newWriteBufferPool() *sync.Pool {
	return &sync.Pool{New: func() any {
		b := make([]byte, 0, 1024)
		return &b
	}}
}

// Write holds p back until the next Read, unless a Read is waiting or p
// would not fit.
func (c *coalescedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.reading || (c.buf != nil && len(*c.buf)+len(p) > maxCoalesced) {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	if c.reading || len(p) > maxCoalesced {
		return c.Conn.Write(p)
	}
	if c.buf == nil {
		c.buf = c.pool.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

// Read sends what is held back, then reads.
func (c *coalescedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	err := c.flushLocked()
	c.reading = err == nil
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.reading = false
	c.mu.Unlock()
	return n, err
}

// SetWriteDeadline sets t. A deadline moved later (go-smtp sets one
// before every reply) keeps what is held back, so the replies to a
// pipelined group still leave in one write at the next Read; a deadline
// of now or earlier (crypto/tls, closing, sets one after its
// close_notify) sends what is held back first, under the deadline it was
// written under.
func (c *coalescedConn) SetWriteDeadline(t time.Time) error {
	c.flushBefore(t)
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline is SetWriteDeadline and SetReadDeadline.
func (c *coalescedConn) SetDeadline(t time.Time) error {
	c.flushBefore(t)
	return c.Conn.SetDeadline(t)
}

// flushBefore sends what is held back if t would make it time out.
func (c *coalescedConn) flushBefore(t time.Time) {
	if t.IsZero() || t.After(time.Now()) {
		return
	}
	c.mu.Lock()
	_ = c.flushLocked()
	c.mu.Unlock()
}

// Close sends what is held back and closes the connection.
func (c *coalescedConn) Close() error {
	c.mu.Lock()
	_ = c.flushLocked()
	c.mu.Unlock()
	return c.Conn.Close()
}

// flushLocked writes the held-back bytes and gives the buffer back; c.mu
// is held.
func (c *coalescedConn) flushLocked() error {
	if c.err != nil || c.buf == nil {
		return c.err
	}
	b := c.buf
	c.buf = nil
	if len(*b) > 0 {
		_, c.err = c.Conn.Write(*b)
	}
	*b = (*b)[:0]
	c.pool.Put(b)
	return c.err
}
