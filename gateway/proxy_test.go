package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

// proxyTestListener is a limitListener on loopback; accepted gets what its
// Accept returns.
type proxyTestListener struct {
	addr     string
	accepted chan net.Conn
}

// startListener runs newLimitListener with o on a loopback port and
// accepts in the background until the test ends.
func startListener(t *testing.T, o ListenerOptions) *proxyTestListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.Name == "" {
		o.Name = "inbound"
	}
	o.Mode = ModeInbound
	o.Limits = o.Limits.withDefaults()
	ll := newLimitListener(ln, &o, testLogger(t))
	pl := &proxyTestListener{addr: ln.Addr().String(), accepted: make(chan net.Conn, 10)}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ll.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			pl.accepted <- c
		}
	}()
	t.Cleanup(func() {
		_ = ll.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return pl
}

// dial connects from the loopback address local.
func (pl *proxyTestListener) dial(t *testing.T, local string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", pl.addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// next returns the next accepted connection.
func (pl *proxyTestListener) next(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-pl.accepted:
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("no connection accepted within 30s")
		return nil
	}
}

// writeHeader sends a PROXY header of version naming client as the source.
func writeHeader(t *testing.T, c net.Conn, version byte, client string) {
	t.Helper()
	h := proxyproto.HeaderProxyFromAddrs(version,
		net.TCPAddrFromAddrPort(netip.MustParseAddrPort(client)),
		net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.25:25")))
	if _, err := h.WriteTo(c); err != nil {
		t.Fatalf("write PROXY header: %v", err)
	}
}

// readLine reads one line from c.
func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return line
}

// expectEOF checks that the peer closes c without sending anything.
func expectEOF(t *testing.T, c net.Conn) {
	t.Helper()
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open")
	}
	if len(b) > 0 {
		t.Fatalf("got %q, want the connection closed", b)
	}
}

var trustLoopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

func TestProxyHeaderFromTrusted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		version byte
		client  string
	}{
		{"v1", 1, "203.0.113.7:40000"},
		{"v2", 2, "203.0.113.7:40000"},
		{"v2 IPv6", 2, "[2001:db8::7]:40000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pl := startListener(t, ListenerOptions{ProxyTrusted: trustLoopback})
			c := pl.dial(t, "127.0.0.1")
			writeHeader(t, c, tc.version, tc.client)
			if _, err := io.WriteString(c, "EHLO client.example\r\n"); err != nil {
				t.Fatal(err)
			}
			sc := pl.next(t)
			want := netip.MustParseAddrPort(tc.client).Addr()
			if got := remoteIP(sc); got != want {
				t.Errorf("remote IP = %s, want %s", got, want)
			}
			if got := remoteIP(countedConnOf(sc)); got != want {
				t.Errorf("remote IP of the counted conn = %s, want %s", got, want)
			}
			if line := readLine(t, sc); line != "EHLO client.example\r\n" {
				t.Errorf("first line after the header = %q", line)
			}
		})
	}
}

// A v2 LOCAL or v1 UNKNOWN header (a load balancer's health check)
// leaves the balancer's own address.
func TestProxyLocalHeader(t *testing.T) {
	t.Parallel()
	pl := startListener(t, ListenerOptions{ProxyTrusted: trustLoopback})
	for _, h := range []*proxyproto.Header{
		{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC},
		{Version: 1, Command: proxyproto.PROXY, TransportProtocol: proxyproto.UNSPEC},
	} {
		c := pl.dial(t, "127.0.0.1")
		if _, err := h.WriteTo(c); err != nil {
			t.Fatal(err)
		}
		if got := remoteIP(pl.next(t)); got != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("v%d: remote IP = %s, want 127.0.0.1", h.Version, got)
		}
	}
}

// A trusted peer must send a header: one that speaks SMTP straight away,
// or says nothing within the timeout, is disconnected and never accepted;
// waiting for it holds up no other connection.
func TestProxyTrustedWithoutHeader(t *testing.T) {
	t.Parallel()
	pl := startListener(t, ListenerOptions{ProxyTrusted: trustLoopback, ProxyHeaderTimeout: 200 * time.Millisecond})
	silent := pl.dial(t, "127.0.0.1")
	plain := pl.dial(t, "127.0.0.1")
	if _, err := io.WriteString(plain, "EHLO client.example\r\n"); err != nil {
		t.Fatal(err)
	}
	good := pl.dial(t, "127.0.0.1")
	writeHeader(t, good, 2, "203.0.113.7:40000")
	if got := remoteIP(pl.next(t)); got != netip.MustParseAddr("203.0.113.7") {
		t.Errorf("first accepted connection is from %s, want 203.0.113.7", got)
	}
	expectEOF(t, plain)
	expectEOF(t, silent)
	select {
	case c := <-pl.accepted:
		t.Errorf("a connection without a header was accepted from %s", c.RemoteAddr())
	default:
	}
}

// A peer not trusted is a direct client: it speaks plain SMTP, and a
// PROXY header from it ends the connection.
func TestProxyHeaderFromUntrusted(t *testing.T) {
	t.Parallel()
	pl := startListener(t, ListenerOptions{ProxyTrusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})

	plain := pl.dial(t, "127.0.0.1")
	if _, err := io.WriteString(plain, "EHLO client.example\r\n"); err != nil {
		t.Fatal(err)
	}
	sc := pl.next(t)
	if got := remoteIP(sc); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("remote IP = %s, want 127.0.0.1", got)
	}
	if line := readLine(t, sc); line != "EHLO client.example\r\n" {
		t.Errorf("first line = %q", line)
	}

	for _, v := range []byte{1, 2} {
		c := pl.dial(t, "127.0.0.1")
		writeHeader(t, c, v, "203.0.113.7:40000")
		sc := pl.next(t)
		if got := remoteIP(sc); got != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("v%d: remote IP = %s, want the peer's 127.0.0.1", v, got)
		}
		if _, err := sc.Read(make([]byte, 10)); !errors.Is(err, errUntrustedProxy) {
			t.Errorf("v%d: server read error = %v, want %v", v, err, errUntrustedProxy)
		}
		expectEOF(t, c)
	}

	// A malformed header after the v1 signature is refused just the same.
	c := pl.dial(t, "127.0.0.1")
	if _, err := io.WriteString(c, "PROXY TCP4 nonsense\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.next(t).Read(make([]byte, 10)); !errors.Is(err, errUntrustedProxy) {
		t.Errorf("malformed v1: server read error = %v, want %v", err, errUntrustedProxy)
	}
}

// Access lists, per-IP connection limits and rates judge the client the
// header names, not the load balancer.
func TestProxyClientDrivesLimits(t *testing.T) {
	t.Parallel()
	pl := startListener(t, ListenerOptions{
		ProxyTrusted: trustLoopback,
		Access:       []AccessRule{{Allow: false, Prefix: netip.MustParsePrefix("203.0.113.0/24")}},
		Limits:       Limits{MaxConnectionsPerIP: 1, ConnectionRatePerIP: 2},
	})
	denied := pl.dial(t, "127.0.0.1")
	writeHeader(t, denied, 2, "203.0.113.7:40000")
	if line := readLine(t, denied); !strings.HasPrefix(line, "554 5.7.1 ") {
		t.Errorf("denied client got %q, want 554 5.7.1", line)
	}

	first := pl.dial(t, "127.0.0.1")
	writeHeader(t, first, 2, "198.51.100.1:40000")
	if got := remoteIP(pl.next(t)); got != netip.MustParseAddr("198.51.100.1") {
		t.Fatalf("accepted %s, want 198.51.100.1", got)
	}
	second := pl.dial(t, "127.0.0.1")
	writeHeader(t, second, 2, "198.51.100.1:40001")
	if line := readLine(t, second); !strings.HasPrefix(line, "421 4.7.0 Too many connections") {
		t.Errorf("second connection of one client got %q, want 421 4.7.0", line)
	}
	third := pl.dial(t, "127.0.0.1")
	writeHeader(t, third, 1, "198.51.100.1:40002")
	if line := readLine(t, third); line != "421 4.7.0 Error: too many connections from 198.51.100.1\r\n" {
		t.Errorf("third connection of one client got %q, want the connection rate's 421 4.7.0", line)
	}
	other := pl.dial(t, "127.0.0.1")
	writeHeader(t, other, 2, "198.51.100.2:40000")
	if got := remoteIP(pl.next(t)); got != netip.MustParseAddr("198.51.100.2") {
		t.Errorf("accepted %s, want 198.51.100.2", got)
	}
}
