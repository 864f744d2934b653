package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// A listener ("virtual server") at run time is a vserver: its configured
// options and the state the admin gave it (paused, stopped). While it
// listens it has a running: the bound socket and an accept loop that hands
// each connection to the listener's current stack. A stack is the
// limitListener and go-smtp server built from one version of the options;
// a reload gives the listener a new stack for new connections, and the old
// one drains: its sessions keep the options they started with.

// vserver is one configured listener; its fields are guarded by ctl.mu.
type vserver struct {
	opts *ListenerOptions
	// paused listeners answer new connections 421 4.3.2; the state lasts
	// across Stop/Start and Update.
	paused bool
	// stopped is set by Stop and cleared by Start.
	stopped bool
	// run is set while the listener is bound.
	run *running
}

func newVServer(lo *ListenerOptions) *vserver { return &vserver{opts: lo} }

// running is a bound listener and its accept loop.
type running struct {
	ln      net.Listener
	cur     atomic.Pointer[stack]
	closing atomic.Bool
	done    chan struct{} // closed when the accept loop has returned
}

// close closes the socket (the port is free when it returns) and waits
// for the accept loop to end. The stack is left serving.
func (r *running) close() {
	r.closing.Store(true)
	_ = r.ln.Close()
	<-r.done
}

// stack serves the connections of one listener under one version of its
// options.
type stack struct {
	lo   *ListenerOptions
	cl   *chanListener
	ll   *limitListener
	srv  *smtp.Server
	once sync.Once
	idle chan struct{} // closed when every session of the stack has ended
}

// listen binds lo's address.
func listen(ctx context.Context, lo *ListenerOptions) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", lo.Address)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen %s on %s: %w", lo.Name, lo.Address, err)
	}
	return ln, nil
}

// closeAll closes the non-nil listeners of lns.
func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// newStack builds and starts a stack for lo on a socket bound at addr.
func (g *Gateway) newStack(lo *ListenerOptions, addr net.Addr, paused bool) *stack {
	cl := &chanListener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
	ll := newLimitListener(cl, lo, g.current().log)
	ll.paused.Store(paused)
	var l net.Listener = ll
	if lo.Mode == ModeSubmissions {
		l = newTLSListener(l, lo.TLSConfig)
	}
	st := &stack{lo: lo, cl: cl, ll: ll, srv: g.newServer(lo), idle: make(chan struct{})}
	go func() { _ = st.srv.Serve(l) }()
	return st
}

// drain stops the stack taking connections and waits until its sessions
// have ended or ctx is done; then it closes the connections left and waits
// for their sessions to go. It may be called more than once.
func (st *stack) drain(ctx context.Context, log *slog.Logger) {
	st.once.Do(func() {
		_ = st.cl.Close()
		go func() {
			// Shutdown closes the stack's listeners and waits for every
			// connection handler to return.
			if err := st.srv.Shutdown(context.Background()); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
				log.Warn("listener shutdown", slog.String("listener", st.lo.Name), slog.Any("error", err))
			}
			close(st.idle)
		}()
	})
	select {
	case <-st.idle:
		return
	case <-ctx.Done():
	}
	if n := st.ll.closeAll(); n > 0 {
		log.Warn("sessions cut", slog.String("listener", st.lo.Name), slog.Int("sessions", n))
	}
	st.ll.waitIdle()
	<-st.idle
}

// sessions counts the stack's open connections.
func (st *stack) sessions() int {
	st.ll.mu.Lock()
	defer st.ll.mu.Unlock()
	return st.ll.total
}

// startLocked serves v on ln. ctl.mu is held.
func (g *Gateway) startLocked(v *vserver, ln net.Listener) {
	r := &running{ln: ln, done: make(chan struct{})}
	r.cur.Store(g.newStack(v.opts, ln.Addr(), v.paused))
	v.run = r
	go g.acceptLoop(r, v.opts.Name)
	g.current().log.Info("listening", slog.String("listener", v.opts.Name), slog.String("address", ln.Addr().String()),
		slog.String("mode", string(v.opts.Mode)))
}

// stopLocked closes v's socket and drains its sessions within bound (0:
// until they end by themselves). ctl.mu is held.
func (g *Gateway) stopLocked(v *vserver, bound time.Duration) {
	r := v.run
	if r == nil {
		return
	}
	v.run = nil
	r.close()
	g.drainLater(r.cur.Load(), bound)
	g.current().log.Info("listener stopped", slog.String("listener", v.opts.Name), slog.String("address", r.ln.Addr().String()))
}

// swapLocked gives the running listener v a new stack built from its
// current options; the old stack drains without a bound. ctl.mu is held.
func (g *Gateway) swapLocked(v *vserver) {
	r := v.run
	if r == nil {
		return
	}
	old := r.cur.Swap(g.newStack(v.opts, r.ln.Addr(), v.paused))
	g.drainLater(old, 0)
}

// drainLater drains st in the background, within bound unless 0.
// ctl.mu is held.
func (g *Gateway) drainLater(st *stack, bound time.Duration) {
	ctl := g.ctl
	ctl.drains[st] = struct{}{}
	ctl.wg.Add(1)
	go func() {
		defer ctl.wg.Done()
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if bound > 0 {
			ctx, cancel = context.WithTimeout(ctx, bound)
		}
		defer cancel()
		st.drain(ctx, g.current().log)
		ctl.mu.Lock()
		delete(ctl.drains, st)
		ctl.mu.Unlock()
	}()
}

// acceptLoop takes connections on r's socket and hands each to the
// listener's current stack until r is closed. An accept error other than
// the socket being closed is retried after a pause (e.g. out of file
// descriptors); the socket closed under it ends Run with an error.
func (g *Gateway) acceptLoop(r *running, name string) {
	defer close(r.done)
	var delay time.Duration
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if r.closing.Load() {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				select {
				case g.ctl.errc <- fmt.Errorf("listener %s: %w", name, err):
				default:
				}
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			g.current().log.Warn("accept failed", slog.String("listener", name), slog.Any("error", err), slog.Duration("retry_in", delay))
			time.Sleep(delay)
			continue
		}
		delay = 0
		var tried *stack
		for {
			st := r.cur.Load()
			if st == tried {
				// The stack closed and none replaced it: the listener is
				// stopping.
				_ = c.Close()
				break
			}
			if st.cl.offer(c) {
				break
			}
			tried = st
		}
	}
}

// chanListener is the listener a stack's go-smtp server serves: the
// accept loop offers it connections.
type chanListener struct {
	addr   net.Addr
	ch     chan net.Conn
	once   sync.Once
	closed chan struct{}
}

// Accept returns the next connection offered, or net.ErrClosed.
func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and offer fail from now on.
func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is the bound socket's address.
func (l *chanListener) Addr() net.Addr { return l.addr }

// offer hands c to Accept; false when the listener is closed.
func (l *chanListener) offer(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}
