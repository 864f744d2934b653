package delivery

import (
	"context"
	"sync"
	"time"
)

// dest is one destination's connections: at most cap(slots) open at a
// time, busy or idle, and the idle ones waiting for the next message.
type dest struct {
	key   string
	slots chan struct{} // one token per open connection (or mailbox delivery)
	avail chan struct{} // a session was put back (capacity 1)

	mu   sync.Mutex
	idle []*session // most recently used last
}

// dest returns the destination for key, made on first use.
func (d *Deliverer) dest(key string) *dest {
	d.destMu.Lock()
	defer d.destMu.Unlock()
	ds := d.dests[key]
	if ds == nil {
		ds = &dest{key: key, slots: make(chan struct{}, d.opts.MaxPerRoute), avail: make(chan struct{}, 1)}
		d.dests[key] = ds
	}
	return ds
}

// acquire returns an idle session of ds, or nil with a slot taken for a
// new connection. It waits while every slot is busy; an error is ctx's.
func (ds *dest) acquire(ctx context.Context) (*session, error) {
	for {
		if s := ds.popIdle(); s != nil {
			return s, nil
		}
		select {
		case ds.slots <- struct{}{}:
			return nil, nil
		case <-ds.avail:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// popIdle takes the most recently used idle session, if any.
func (ds *dest) popIdle() *session {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	for len(ds.idle) > 0 {
		s := ds.idle[len(ds.idle)-1]
		ds.idle = ds.idle[:len(ds.idle)-1]
		if len(ds.idle) > 0 {
			ds.signal() // pass the wake-up on to the next waiter
		}
		if s.idleTimer.Stop() {
			return s
		}
		// Its idle timer fired and is closing it.
	}
	return nil
}

func (ds *dest) signal() {
	select {
	case ds.avail <- struct{}{}:
	default:
	}
}

// releaseSlot gives back the slot of a closed connection.
func (ds *dest) releaseSlot() { <-ds.slots }

// put parks s until the next message or until it has idled for idle.
func (d *Deliverer) put(ds *dest, s *session) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	s.idleTimer = time.AfterFunc(d.opts.IdleTimeout, func() {
		ds.mu.Lock()
		for i, o := range ds.idle {
			if o == s {
				ds.idle = append(ds.idle[:i], ds.idle[i+1:]...)
				break
			}
		}
		ds.mu.Unlock()
		d.quit(s)
		ds.releaseSlot()
	})
	ds.idle = append(ds.idle, s)
	ds.signal()
}

// finish ends a transaction on s: back to the pool when it can carry
// another, else closed (QUIT when usable) and its slot released.
func (d *Deliverer) finish(ctx context.Context, ds *dest, s *session) {
	s.used++
	stopped := s.stop()
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if stopped && !s.broken && ctx.Err() == nil && !closed &&
		d.opts.IdleTimeout > 0 && s.used < d.opts.MaxMessagesPerConnection {
		d.put(ds, s)
		return
	}
	d.close(ctx, s)
	ds.releaseSlot()
}

// quit closes an idle session with a short QUIT.
func (d *Deliverer) quit(s *session) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.close(ctx, s)
}

// closeIdle closes every idle session (Close).
func (d *Deliverer) closeIdle() {
	d.destMu.Lock()
	dests := make([]*dest, 0, len(d.dests))
	for _, ds := range d.dests {
		dests = append(dests, ds)
	}
	d.destMu.Unlock()
	for _, ds := range dests {
		for s := ds.popIdle(); s != nil; s = ds.popIdle() {
			d.quit(s)
			ds.releaseSlot()
		}
	}
}

// reuse readies an idle session for a new transaction under ctx. No RSET:
// the previous transaction ended with its final reply or was reset then,
// and a connection the server dropped while idle shows up as an error (or
// a 421) before the body is sent, when transact tries another one.
func (d *Deliverer) reuse(ctx context.Context, s *session) {
	conn := s.conn
	s.stop = context.AfterFunc(ctx, func() { conn.Close() })
}
