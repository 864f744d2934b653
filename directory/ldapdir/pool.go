package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"bridgehead.dev/bridgehead/directory"
	"github.com/go-ldap/ldap/v3"
)

// errClosed is returned by a closed Directory.
var errClosed = errors.New("ldap: directory closed")

// pool holds up to size connections bound as the service account.
type pool struct {
	dialer *dialer
	slots  chan struct{}   // one token per connection in use or idle
	idle   chan *ldap.Conn // connections ready for use

	mu     sync.Mutex
	closed bool
}

func newPool(d *dialer, size int) *pool {
	return &pool{dialer: d, slots: make(chan struct{}, size), idle: make(chan *ldap.Conn, size)}
}

// do runs op on a pooled connection. A connection that fails is dropped; when
// it came from the idle set (and so may have died with a server restart), op
// is tried once more on a fresh connection. Connection failures wrap
// directory.ErrUnavailable.
func (p *pool) do(ctx context.Context, op func(*ldap.Conn) error) error {
	for attempt := 0; ; attempt++ {
		c, reused, err := p.get(ctx, attempt > 0)
		if err != nil {
			return err
		}
		err = withConn(ctx, c, p.dialer.opts.Timeout, func() error { return op(c) })
		if !isConnError(err) {
			p.put(c)
			return err
		}
		p.drop(c)
		if !reused || attempt > 0 || ctx.Err() != nil {
			return fmt.Errorf("ldap: %w: %w", directory.ErrUnavailable, err)
		}
	}
}

// get returns an idle connection, or a new one when there is none or fresh
// is set.
func (p *pool) get(ctx context.Context, fresh bool) (c *ldap.Conn, reused bool, err error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, fmt.Errorf("ldap: waiting for a connection: %w: %w", directory.ErrUnavailable, ctx.Err())
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		<-p.slots
		return nil, false, errClosed
	}
	for !fresh {
		select {
		case c := <-p.idle:
			if c.IsClosing() {
				c.Close()
				continue
			}
			return c, true, nil
		default:
		}
		break
	}
	c, err = p.dialer.dial(ctx, nil)
	if err != nil {
		<-p.slots
		return nil, false, err
	}
	return c, false, nil
}

func (p *pool) put(c *ldap.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
	} else {
		p.idle <- c // cannot block: at most size connections exist
	}
	<-p.slots
}

func (p *pool) drop(c *ldap.Conn) {
	c.Close()
	<-p.slots
}

// close closes the idle connections; connections in use are closed when
// they are returned.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for {
		select {
		case c := <-p.idle:
			c.Close()
		default:
			return
		}
	}
}
