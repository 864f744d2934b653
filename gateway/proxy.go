package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pires/go-proxyproto"
)

// defaultProxyHeaderTimeout bounds the wait for a trusted load balancer's
// PROXY header when the listener sets no timeout of its own.
const defaultProxyHeaderTimeout = 10 * time.Second

// proxyHeaderBuffer is the read buffer in front of a connection whose
// first bytes may be a PROXY header: a v1 header is at most 107 bytes, a
// v2 header 16 bytes plus its addresses and TLVs.
const proxyHeaderBuffer = 256

// validateProxy checks the PROXY protocol options.
func (o *ListenerOptions) validateProxy() error {
	for _, p := range o.ProxyTrusted {
		if !p.IsValid() {
			return errors.New("proxy protocol: invalid trusted prefix")
		}
	}
	if o.ProxyHeaderTimeout < 0 {
		return errors.New("proxy protocol: header timeout must not be negative")
	}
	return nil
}

// proxyListener speaks the server side of the PROXY protocol (v1 and v2).
//
// Peers within trusted are load balancers: each must open with a PROXY
// header, which is read in a goroutine of its own under a deadline, so a
// slow or silent balancer holds up no other connection; the connection is
// then handed on with the client the header names as its RemoteAddr. A
// trusted peer without a valid header is disconnected with a log line.
//
// Any other peer is a client talking to us directly and is handed on at
// once (SMTP servers speak first); if its first bytes turn out to be a
// PROXY header it is disconnected with a log line, as it may not claim to
// speak for someone else.
type proxyListener struct {
	net.Listener
	name    string
	trusted []netip.Prefix
	timeout time.Duration
	log     *slog.Logger

	pending chan struct{} // one token per header read in progress
	ready   chan acceptResult
	done    chan struct{}
	stop    sync.Once
}

// acceptResult is what Accept returns next.
type acceptResult struct {
	c   net.Conn
	err error
}

// newProxyListener wraps ln and starts accepting on it.
func newProxyListener(ln net.Listener, o *ListenerOptions, log *slog.Logger) *proxyListener {
	timeout := o.ProxyHeaderTimeout
	if timeout == 0 {
		timeout = defaultProxyHeaderTimeout
	}
	l := &proxyListener{
		Listener: ln,
		name:     o.Name,
		trusted:  o.ProxyTrusted,
		timeout:  timeout,
		log:      log,
		pending:  make(chan struct{}, max(o.Limits.MaxConnections, 1)),
		ready:    make(chan acceptResult),
		done:     make(chan struct{}),
	}
	go l.acceptLoop()
	return l
}

// Accept returns the next connection whose client is known.
func (l *proxyListener) Accept() (net.Conn, error) {
	select {
	case r := <-l.ready:
		return r.c, r.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; header reads in progress end with their
// connections closed.
func (l *proxyListener) Close() error {
	l.stop.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// acceptLoop accepts until the listener is closed.
func (l *proxyListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !l.handOn(acceptResult{err: err}) || errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a temporary error: go-smtp backs off before the next Accept
		}
		peer := remoteIP(c)
		if !l.isTrusted(peer) {
			l.handOn(acceptResult{c: &watchedConn{Conn: c, l: l, peer: peer}})
			continue
		}
		select {
		case l.pending <- struct{}{}:
			go l.readHeader(c, peer)
		default:
			l.log.Warn("connection refused", slog.String("listener", l.name),
				slog.String("proxy_ip", peer.String()), slog.String("reason", "too many PROXY headers pending"))
			_ = c.Close()
		}
	}
}

// handOn gives r to Accept; false (and the connection closed) once the
// listener is closed.
func (l *proxyListener) handOn(r acceptResult) bool {
	select {
	case l.ready <- r:
		return true
	case <-l.done:
		if r.c != nil {
			_ = r.c.Close()
		}
		return false
	}
}

// isTrusted reports whether ip is one of the load balancers.
func (l *proxyListener) isTrusted(ip netip.Addr) bool {
	for _, p := range l.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// readHeader reads the PROXY header of a load balancer's connection and
// hands the connection on, or closes it.
func (l *proxyListener) readHeader(c net.Conn, peer netip.Addr) {
	defer func() { <-l.pending }()
	pc, err := readProxyHeader(c, l.timeout)
	if errors.Is(err, errClosedBeforeHeader) {
		// A bare TCP health check, or a readiness probe.
		l.log.Debug("connection closed before a PROXY header", slog.String("listener", l.name),
			slog.String("proxy_ip", peer.String()))
		_ = c.Close()
		return
	}
	if err != nil {
		l.log.Warn("connection refused", slog.String("listener", l.name),
			slog.String("proxy_ip", peer.String()), slog.String("reason", "PROXY header"),
			slog.String("error", err.Error()))
		_ = c.Close()
		return
	}
	l.handOn(acceptResult{c: pc})
}

// readProxyHeader reads a PROXY header from c within timeout. The
// connection returned reads on after the header and gives the client the
// header names as RemoteAddr; a LOCAL header (a balancer's health check)
// or one for an unknown transport leaves the balancer's own address.
func readProxyHeader(c net.Conn, timeout time.Duration) (net.Conn, error) {
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, fmt.Errorf("read PROXY header: %w", err)
	}
	br := bufio.NewReaderSize(c, proxyHeaderBuffer)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		return nil, errClosedBeforeHeader
	}
	h, err := proxyproto.Read(br)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return nil, fmt.Errorf("read PROXY header: none within %s", timeout)
	case errors.Is(err, proxyproto.ErrNoProxyProtocol):
		return nil, errors.New("read PROXY header: a trusted load balancer sent none")
	case err != nil:
		return nil, fmt.Errorf("read PROXY header: %w", err)
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("read PROXY header: %w", err)
	}
	pc := &proxiedConn{Conn: c, r: br, remote: c.RemoteAddr()}
	if ta, ok := h.SourceAddr.(*net.TCPAddr); ok && h.Command.IsProxy() && h.TransportProtocol.IsStream() {
		pc.remote = ta
	}
	return pc, nil
}

// errClosedBeforeHeader is a trusted peer closing without sending a byte.
var errClosedBeforeHeader = errors.New("read PROXY header: connection closed before any")

// proxiedConn is a load balancer's connection after its PROXY header.
type proxiedConn struct {
	net.Conn
	r      io.Reader
	remote net.Addr
}

// Read reads what follows the header.
func (c *proxiedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// RemoteAddr is the client the header named.
func (c *proxiedConn) RemoteAddr() net.Addr { return c.remote }

// errUntrustedProxy ends a connection from an untrusted peer that opened
// with a PROXY header.
var errUntrustedProxy = errors.New("PROXY header from an untrusted address")

// watchedConn is a direct client's connection on a PROXY protocol
// listener: its first read checks that it does not open with a PROXY
// header.
type watchedConn struct {
	net.Conn
	l    *proxyListener
	peer netip.Addr

	once sync.Once
	r    io.Reader
	err  error
}

// Read reads from the client once its first bytes are known not to be a
// PROXY header.
func (c *watchedConn) Read(b []byte) (int, error) {
	c.once.Do(c.check)
	if c.err != nil {
		return 0, c.err
	}
	return c.r.Read(b)
}

// check looks at the first bytes; it only waits for more than one byte
// when they begin like a PROXY signature ("P" or CR), which no SMTP
// command does.
func (c *watchedConn) check() {
	br := bufio.NewReaderSize(c.Conn, proxyHeaderBuffer)
	c.r = br
	h, err := proxyproto.Read(br)
	switch {
	case err == nil && h != nil:
		c.err = errUntrustedProxy
	case err == nil, errors.Is(err, proxyproto.ErrNoProxyProtocol):
		return
	case isConnError(err):
		c.err = err
		return
	default: // a PROXY signature followed by a header that does not parse
		c.err = fmt.Errorf("%w: %w", errUntrustedProxy, err)
	}
	c.l.log.Warn("connection refused", slog.String("listener", c.l.name),
		slog.String("client_ip", c.peer.String()), slog.String("reason", "PROXY header from an untrusted address"))
	_ = c.Conn.Close()
}

// isConnError reports whether err is the connection failing rather than
// what the peer sent.
func isConnError(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}
