package gateway

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// limitListener hands connections to go-smtp only while the listener's
// connection limits allow; a connection over a limit is answered with 421
// and closed without reaching a session. Behind a PROXY protocol load
// balancer it sits on a proxyListener, so every decision it makes is about
// the client the header names.
type limitListener struct {
	net.Listener
	name      string
	max       int
	maxPerIP  int
	implicit  *tls.Config // set for implicit TLS: refusals are sent inside TLS
	handshake time.Duration
	log       *slog.Logger
	access    []AccessRule
	metrics   connMetrics  // counts connections (observe.go)
	connRate  *rateLimiter // nil: no per-IP connection rate
	msgRate   *rateLimiter // nil: no per-IP message rate

	// paused listeners answer new connections 421 4.3.2 and close them
	// (see control.go); sessions in progress go on.
	paused atomic.Bool

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
	conns map[*countedConn]struct{}
	idle  chan struct{} // closed when total drops to zero; made by waitIdle

	wbufs *sync.Pool // write buffers of the connections' coalescedConns
}

func newLimitListener(ln net.Listener, o *ListenerOptions, log *slog.Logger) *limitListener {
	if len(o.ProxyTrusted) > 0 {
		ln = newProxyListener(ln, o, log)
	}
	l := &limitListener{
		Listener:  ln,
		name:      o.Name,
		max:       o.Limits.MaxConnections,
		maxPerIP:  o.Limits.MaxConnectionsPerIP,
		handshake: o.Limits.HandshakeTimeout,
		log:       log,
		access:    o.Access,
		metrics:   o.metrics,
		connRate:  newRateLimiter(o.Limits.ConnectionRatePerIP, time.Now),
		msgRate:   newRateLimiter(o.Limits.MessageRatePerIP, time.Now),
		perIP:     map[netip.Addr]int{},
		conns:     map[*countedConn]struct{}{},
		wbufs:     newWriteBufferPool(),
	}
	if o.Mode == ModeSubmissions {
		l.implicit = o.TLSConfig
	}
	return l
}

// Accept returns the next connection within the limits.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		if l.paused.Load() {
			l.log.Info("connection refused", slog.String("listener", l.name),
				slog.String("client_ip", ip.String()), slog.String("reason", "listener paused"))
			go l.reply(c, pausedReply)
			continue
		}
		if !allowed(l.access, ip) {
			l.log.Warn("connection refused", slog.String("listener", l.name),
				slog.String("client_ip", ip.String()), slog.String("reason", "access denied"))
			go l.reply(c, accessDeniedReply)
			continue
		}
		if !l.connRate.allow(ip) {
			l.log.Warn("connection refused", slog.String("listener", l.name),
				slog.String("client_ip", ip.String()), slog.String("reason", "connection rate"),
				slog.Int("per_minute", l.connRate.perMinute))
			l.metrics.Throttled(l.name)
			go l.reply(c, connRateReply(ip))
			continue
		}
		if reason := l.take(ip); reason != "" {
			l.log.Warn("connection refused", slog.String("listener", l.name),
				slog.String("client_ip", ip.String()), slog.String("reason", reason))
			go l.refuse(c)
			continue
		}
		wc := newCoalescedConn(c, l.wbufs)
		cc := &countedConn{Conn: wc, raw: c, l: l, ip: ip}
		l.metrics.ConnectionOpened(l.name)
		cc.release = func() { l.release(ip, cc) }
		l.mu.Lock()
		l.conns[cc] = struct{}{}
		l.mu.Unlock()
		return cc, nil
	}
}

// take reserves a slot for a connection from ip, or says why it can't.
func (l *limitListener) take(ip netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.max {
		return "too many connections"
	}
	if l.perIP[ip] >= l.maxPerIP {
		return "too many connections from this address"
	}
	l.total++
	l.perIP[ip]++
	return ""
}

func (l *limitListener) release(ip netip.Addr, c *countedConn) {
	l.metrics.ConnectionClosed(l.name)
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
	l.total--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
	if l.total == 0 && l.idle != nil {
		close(l.idle)
		l.idle = nil
	}
}

// closeAll closes every connection handed out and still open, under the
// feet of its session, and returns how many there were. Their slots are
// released when go-smtp, its reads failing, closes them in turn.
func (l *limitListener) closeAll() int {
	l.mu.Lock()
	conns := make([]*countedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.raw.Close() // at once: nothing held back is worth waiting for
	}
	return len(conns)
}

// waitIdle returns once every connection handed out has been closed by
// its session.
func (l *limitListener) waitIdle() {
	l.mu.Lock()
	if l.total == 0 {
		l.mu.Unlock()
		return
	}
	if l.idle == nil {
		l.idle = make(chan struct{})
	}
	idle := l.idle
	l.mu.Unlock()
	<-idle
}

// refuse answers 421 4.7.0 and closes, inside TLS on an implicit-TLS port.
func (l *limitListener) refuse(c net.Conn) {
	l.reply(c, "421 4.7.0 Too many connections, try again later\r\n")
}

// reply sends line and closes, inside TLS on an implicit-TLS port.
func (l *limitListener) reply(c net.Conn, line string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(l.handshake))
	if l.implicit != nil {
		tc := tls.Server(c, l.implicit)
		if err := tc.Handshake(); err != nil {
			return
		}
		c = tc
	}
	_, _ = c.Write([]byte(line))
}

// countedConn gives its slot back once, when closed. It also carries
// what lasts as long as the connection, across go-smtp's new session at
// STARTTLS: the listener it came through, the client's address and its
// reverse DNS name once looked up.
type countedConn struct {
	net.Conn          // a coalescedConn on raw
	raw      net.Conn // the accepted connection
	once     sync.Once
	release  func()
	l        *limitListener
	ip       netip.Addr
	rdns     reverseName
}

// countedConnOf finds the countedConn under c, which may be wrapped in
// TLS; nil if there is none.
func countedConnOf(c net.Conn) *countedConn {
	for {
		switch v := c.(type) {
		case *countedConn:
			return v
		case *tls.Conn:
			c = v.NetConn()
		default:
			return nil
		}
	}
}

// Close closes the connection and releases its slot.
func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// remoteIP is the client's address without port, unmapped from IPv4-in-IPv6.
func remoteIP(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
