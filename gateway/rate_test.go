package gateway

import (
	"net/netip"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/internal/fakeclock"
)

func TestRateLimiter(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := newRateLimiter(4, clock.Now)
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 4 {
		if !r.allow(a) {
			t.Fatalf("event %d refused, want 4 a minute allowed", i+1)
		}
	}
	if r.allow(a) {
		t.Fatal("fifth event within the minute allowed")
	}
	if !r.allow(netip.MustParseAddr("192.0.2.2")) {
		t.Error("another address refused")
	}
	if !r.allow(netip.MustParseAddr("::ffff:192.0.2.2")) || r.len() != 2 {
		t.Errorf("IPv4-mapped address counted apart: %d addresses tracked", r.len())
	}
	// Half a minute earns half the bucket back.
	clock.Advance(30 * time.Second)
	for i := range 2 {
		if !r.allow(a) {
			t.Errorf("after 30s: event %d refused, want two more", i+1)
		}
	}
	if r.allow(a) {
		t.Error("after 30s: a third event allowed")
	}
	// Idle for a minute: forgotten at the next sweep.
	clock.Advance(time.Minute)
	if !r.allow(netip.MustParseAddr("192.0.2.3")) {
		t.Fatal("new address refused")
	}
	if n := r.len(); n != 1 {
		t.Errorf("%d addresses tracked after a minute idle, want 1", n)
	}
}

// IPv6 clients are counted by /64.
func TestRateLimiterIPv6Prefix(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := newRateLimiter(2, clock.Now)
	if !r.allow(netip.MustParseAddr("2001:db8:1:2::1")) || !r.allow(netip.MustParseAddr("2001:db8:1:2:ffff::9")) {
		t.Fatal("first two events of the /64 refused")
	}
	if r.allow(netip.MustParseAddr("2001:db8:1:2::3")) {
		t.Error("third event of the same /64 allowed")
	}
	if !r.allow(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Error("a neighbouring /64 refused")
	}
}

func TestRateLimiterOff(t *testing.T) {
	t.Parallel()
	r := newRateLimiter(0, time.Now)
	for range 100 {
		if !r.allow(netip.MustParseAddr("192.0.2.1")) {
			t.Fatal("a limiter of 0 refused")
		}
	}
}

// Memory is bounded: past maxRateEntries new addresses are let through
// untracked.
func TestRateLimiterBounded(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := newRateLimiter(1, clock.Now)
	for i := range maxRateEntries + 10 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if !r.allow(ip) {
			t.Fatalf("address %s refused", ip)
		}
	}
	if n := r.len(); n != maxRateEntries {
		t.Errorf("%d addresses tracked, want %d", n, maxRateEntries)
	}
}

// The message rate is checked at MAIL FROM: 450 4.7.1 over it, per client
// address, and the transaction may be retried later.
func TestMessageRatePerIP(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) { s.Limits.MessageRatePerIP = 2 })
	c := tg.afterEHLO(t, lnInbound)
	for i := range 2 {
		if r := c.cmd("MAIL FROM:<x@sender.example>"); r.code != 250 {
			t.Fatalf("MAIL %d = %v", i+1, r)
		}
		c.cmd("RSET")
	}
	if r := c.cmd("MAIL FROM:<x@sender.example>"); !r.is(450, "4.7.1") || r.text != "Error: too much mail from 127.0.0.1" {
		t.Fatalf("third MAIL = %v, want 450 4.7.1 Error: too much mail from 127.0.0.1", r)
	}
	// Another client has its own count.
	other := tg.dialFrom(t, lnInbound, "127.0.0.2")
	other.read()
	other.ehlo()
	if r := other.cmd("MAIL FROM:<x@sender.example>"); r.code != 250 {
		t.Fatalf("MAIL from another client = %v", r)
	}
}

func TestConnectionRatePerIP(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) { s.Limits.ConnectionRatePerIP = 2 })
	tg.greeted(t, lnInbound).quit()
	tg.greeted(t, lnInbound).quit()
	c := tg.connected(t, lnInbound)
	if r := c.read(); !r.is(421, "4.7.0") || r.text != "Error: too many connections from 127.0.0.1" {
		t.Fatalf("third connection = %v, want 421 4.7.0 Error: too many connections from 127.0.0.1", r)
	}
	c.expectClosed()
	// Refused inside TLS on the implicit-TLS listener, which counts apart.
	tg.greeted(t, lnSubmissions)
	tg.greeted(t, lnSubmissions)
	if r := tg.connected(t, lnSubmissions).read(); !r.is(421, "4.7.0") {
		t.Fatalf("third connection on submissions = %v, want 421 4.7.0", r)
	}
}
