package gateway

import (
	"net"
	"net/netip"
	"net/textproto"
	"testing"
	"time"
)

// dialFrom connects to the named listener from the loopback address local.
func (tg *testGateway) dialFrom(t *testing.T, listener, local string) *rawClient {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", tg.addrs[listener])
	if err != nil {
		t.Fatalf("dial %s from %s: %v", listener, local, err)
	}
	rc := &rawClient{t: t, conn: c, text: textproto.NewConn(c)}
	t.Cleanup(func() { rc.conn.Close() })
	rc.deadline()
	return rc
}

func TestAccessFirstMatchWins(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) {
		s.Access = []AccessRule{
			{Allow: true, Prefix: netip.MustParsePrefix("127.0.0.2/32")},
			{Allow: false, Prefix: netip.MustParsePrefix("127.0.0.0/8")},
		}
	})
	if r := tg.dialFrom(t, lnInbound, "127.0.0.2").read(); r.code != 220 {
		t.Fatalf("allowed client greeting = %v, want 220", r)
	}
	c := tg.dialFrom(t, lnInbound, "127.0.0.3")
	if r := c.read(); !r.is(554, "5.7.1") {
		t.Fatalf("denied client reply = %v, want 554 5.7.1", r)
	}
	c.expectClosed()
	// Refused inside TLS on the implicit-TLS listener.
	if r := tg.connected(t, lnSubmissions).read(); !r.is(554, "5.7.1") {
		t.Fatalf("denied client on submissions = %v, want 554 5.7.1", r)
	}
}

func TestAccessDefaultAllow(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) {
		s.Access = []AccessRule{{Allow: false, Prefix: netip.MustParsePrefix("10.0.0.0/8")}}
	})
	tg.greeted(t, lnSubmission)
}
