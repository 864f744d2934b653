package dnsresolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/testservers"
	"bridgehead.dev/bridgehead/internal/fakeclock"
)

func newResolver(t *testing.T, server string) (*Resolver, *fakeclock.Clock) {
	t.Helper()
	c := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r, err := New(Options{Server: server, Timeout: 2 * time.Second, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestLookupMXOrder(t *testing.T) {
	t.Parallel()
	s := testservers.StartDNS(t,
		"remote.test. 300 IN MX 20 mx2.remote.test.",
		"remote.test. 300 IN MX 10 mx1.remote.test.",
		"remote.test. 300 IN MX 30 mx3.remote.test.",
		"remote.test. 300 IN MX 20 mx2b.remote.test.",
	)
	r, _ := newResolver(t, s.Addr)
	seenFirst := map[string]bool{}
	for range 40 {
		mxs, err := r.LookupMX(ctx(t), "Remote.Test")
		if err != nil {
			t.Fatal(err)
		}
		if len(mxs) != 4 || mxs[0] != (MX{"mx1.remote.test", 10}) || mxs[3] != (MX{"mx3.remote.test", 30}) {
			t.Fatalf("MX order: %+v", mxs)
		}
		seenFirst[mxs[1].Host] = true
	}
	if !seenFirst["mx2.remote.test"] || !seenFirst["mx2b.remote.test"] {
		t.Errorf("ties not shuffled: second place was always one of %v", seenFirst)
	}
	if n := s.Queries("remote.test. MX udp"); n != 1 {
		t.Errorf("server got %d MX queries, want 1 (cached)", n)
	}
}

func TestLookupMXNullAndMissing(t *testing.T) {
	t.Parallel()
	s := testservers.StartDNS(t,
		"nomail.test. 300 IN MX 0 .",
		"addronly.test. 300 IN A 192.0.2.7",
	)
	s.SetNXDomain("gone.test.")
	r, _ := newResolver(t, s.Addr)
	if _, err := r.LookupMX(ctx(t), "nomail.test"); !errors.Is(err, ErrNullMX) {
		t.Errorf("null MX: %v, want ErrNullMX", err)
	}
	if _, err := r.LookupMX(ctx(t), "addronly.test"); !errors.Is(err, ErrNoRecords) || IsTemporary(err) {
		t.Errorf("no MX: %v, want ErrNoRecords", err)
	}
	_, err := r.LookupMX(ctx(t), "gone.test")
	if !errors.Is(err, ErrNotFound) || IsTemporary(err) {
		t.Errorf("NXDOMAIN: %v, want ErrNotFound", err)
	}
	if _, err := r.LookupIP(ctx(t), "gone.test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("NXDOMAIN A/AAAA: %v, want ErrNotFound", err)
	}
}

func TestLookupIP(t *testing.T) {
	t.Parallel()
	s := testservers.StartDNS(t,
		"both.test. 300 IN A 192.0.2.1",
		"both.test. 300 IN A 192.0.2.2",
		"both.test. 300 IN AAAA 2001:db8::1",
		"alias.test. 300 IN CNAME both.test.",
		"v4.test. 300 IN A 192.0.2.9",
	)
	r, _ := newResolver(t, s.Addr)
	want := []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}
	for _, host := range []string{"both.test", "alias.test"} {
		got, err := r.LookupIP(ctx(t), host)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got[1:], netip.Addr.Compare)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", host, got, want)
		}
	}
	got, err := r.LookupIP(ctx(t), "v4.test")
	if err != nil || len(got) != 1 || got[0] != netip.MustParseAddr("192.0.2.9") {
		t.Errorf("v4 only: %v %v", got, err)
	}
	if got, err := r.LookupIP(ctx(t), "[2001:db8::5]"); err != nil || got[0] != netip.MustParseAddr("2001:db8::5") {
		t.Errorf("literal: %v %v", got, err)
	}
}

func TestLookupAddr(t *testing.T) {
	t.Parallel()
	s := testservers.StartDNS(t,
		"7.2.0.192.in-addr.arpa. 300 IN PTR mail.remote.test.",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR v6.remote.test.",
	)
	r, _ := newResolver(t, s.Addr)
	for addr, want := range map[string]string{"192.0.2.7": "mail.remote.test", "2001:db8::1": "v6.remote.test"} {
		names, err := r.LookupAddr(ctx(t), netip.MustParseAddr(addr))
		if err != nil || len(names) != 1 || names[0] != want {
			t.Errorf("PTR %s: %v %v, want %s", addr, names, err, want)
		}
	}
	if _, err := r.LookupAddr(ctx(t), netip.MustParseAddr("192.0.2.8")); !errors.Is(err, ErrNotFound) {
		t.Errorf("no PTR: %v", err)
	}
}

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	s := testservers.StartDNS(t, "ttl.test. 120 IN A 192.0.2.1")
	r, clk := newResolver(t, s.Addr)
	lookup := func() {
		t.Helper()
		if _, err := r.LookupIP(ctx(t), "ttl.test"); err != nil {
			t.Fatal(err)
		}
	}
	lookup()
	clk.Advance(119 * time.Second)
	lookup()
	if n := s.Queries("ttl.test. A udp"); n != 1 {
		t.Fatalf("within TTL: %d queries, want 1", n)
	}
	clk.Advance(2 * time.Second)
	lookup()
	if n := s.Queries("ttl.test. A udp"); n != 2 {
		t.Fatalf("after TTL: %d queries, want 2", n)
	}
}

func TestCacheNegative(t *testing.T) {
	t.Parallel()
	s := testservers.StartDNS(t)
	s.SetNXDomain("nx.test.") // SOA minimum 30s
	r, clk := newResolver(t, s.Addr)
	for range 2 {
		if _, err := r.LookupMX(ctx(t), "nx.test"); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
	if n := s.Queries("nx.test. MX udp"); n != 1 {
		t.Fatalf("NXDOMAIN not cached: %d queries", n)
	}
	clk.Advance(31 * time.Second)
	_, _ = r.LookupMX(ctx(t), "nx.test")
	if n := s.Queries("nx.test. MX udp"); n != 2 {
		t.Fatalf("NXDOMAIN cached past SOA minimum: %d queries", n)
	}
}

func TestTruncatedRetriesTCP(t *testing.T) {
	t.Parallel()
	var zone []string
	for i := range 40 {
		zone = append(zone, fmt.Sprintf("big.test. 300 IN MX %d mx%02d.a-rather-long-name-to-fill-the-datagram.test.", i, i))
	}
	s := testservers.StartDNS(t, zone...)
	s.SetTruncated("big.test.")
	r, _ := newResolver(t, s.Addr)
	mxs, err := r.LookupMX(ctx(t), "big.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(mxs) != 40 || mxs[0].Host != "mx00.a-rather-long-name-to-fill-the-datagram.test" {
		t.Fatalf("got %d MX, first %+v", len(mxs), mxs[0])
	}
	if s.Queries("big.test. MX udp") != 1 || s.Queries("big.test. MX tcp") != 1 {
		t.Fatalf("queries: udp %d, tcp %d", s.Queries("big.test. MX udp"), s.Queries("big.test. MX tcp"))
	}
}

func TestServerDownIsTemporary(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	c := &fakeclock.Clock{}
	r, err := New(Options{Server: addr, Timeout: 300 * time.Millisecond, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.LookupMX(ctx(t), "remote.test")
	if !IsTemporary(err) || errors.Is(err, ErrNotFound) {
		t.Fatalf("server down: %v, want a temporary error", err)
	}
	_, err = r.LookupIP(ctx(t), "remote.test")
	if !IsTemporary(err) {
		t.Fatalf("server down (A/AAAA): %v, want a temporary error", err)
	}
}

func TestServerFailureIsTemporaryAndNotCached(t *testing.T) {
	t.Parallel()
	s := testservers.StartDNS(t, "flaky.test. 300 IN MX 10 mx.flaky.test.")
	s.SetServFail(true)
	r, _ := newResolver(t, s.Addr)
	if _, err := r.LookupMX(ctx(t), "flaky.test"); !IsTemporary(err) {
		t.Fatalf("SERVFAIL: %v", err)
	}
	s.SetServFail(false)
	if mxs, err := r.LookupMX(ctx(t), "flaky.test"); err != nil || len(mxs) != 1 {
		t.Fatalf("after recovery: %v %v", mxs, err)
	}
}

func TestFirstNameserver(t *testing.T) {
	t.Parallel()
	conf := "# comment\nsearch example.test\nnameserver fe80::1%eth0\nnameserver 10.0.0.53\n"
	if got := firstNameserver([]byte(conf)); got != "[fe80::1%eth0]:53" {
		t.Errorf("got %q", got)
	}
	if got := firstNameserver([]byte("options ndots:2\n")); got != "" {
		t.Errorf("got %q", got)
	}
	if _, err := New(Options{Server: "10.0.0.53"}); err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("server without port: %v", err)
	}
}
