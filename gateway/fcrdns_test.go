package gateway

import (
	"context"
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fakeResolver answers from maps; a name or address it does not know has
// no records. With block set it answers nothing until ctx is done.
type fakeResolver struct {
	ptr   map[netip.Addr][]string
	addrs map[string][]netip.Addr
	block bool
}

var errNoRecords = errors.New("no such host")

func (r fakeResolver) LookupAddr(ctx context.Context, ip netip.Addr) ([]string, error) {
	if r.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if names, ok := r.ptr[ip]; ok {
		return names, nil
	}
	return nil, errNoRecords
}

func (r fakeResolver) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, ok := r.addrs[host]; ok {
		return a, nil
	}
	return nil, errNoRecords
}

var _ Resolver = fakeResolver{}
var _ Resolver = systemResolver{}

func TestFCrDNS(t *testing.T) {
	t.Parallel()
	client := netip.MustParseAddr("192.0.2.7")
	client6 := netip.MustParseAddr("2001:db8::7")
	r := fakeResolver{
		ptr: map[netip.Addr][]string{
			client:                               {"bogus.example.", "Mail.Example.NET."},
			client6:                              {"mail6.example.net."},
			netip.MustParseAddr("192.0.2.8"):     {"liar.example.net."},
			netip.MustParseAddr("192.0.2.9"):     {"bad name\r\nX: y."},
			netip.MustParseAddr("198.51.100.10"): {"dangling.example.net."},
		},
		addrs: map[string][]netip.Addr{
			"bogus.example":     {netip.MustParseAddr("192.0.2.200")},
			"mail.example.net":  {netip.MustParseAddr("192.0.2.1"), client},
			"mail6.example.net": {client6},
			"liar.example.net":  {netip.MustParseAddr("203.0.113.1")},
			"bad name\r\nx: y":  {netip.MustParseAddr("192.0.2.9")},
		},
	}
	for _, tc := range []struct {
		name string
		ip   string
		want string
	}{
		{"confirmed by the second PTR name", "192.0.2.7", "mail.example.net"},
		{"confirmed IPv4-mapped", "::ffff:192.0.2.7", "mail.example.net"},
		{"confirmed IPv6", "2001:db8::7", "mail6.example.net"},
		{"not confirmed", "192.0.2.8", ""},
		{"PTR not a host name", "192.0.2.9", ""},
		{"PTR name without addresses", "198.51.100.10", ""},
		{"no PTR", "192.0.2.99", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fcrdns(context.Background(), r, netip.MustParseAddr(tc.ip)); got != tc.want {
				t.Errorf("fcrdns(%s) = %q, want %q", tc.ip, got, tc.want)
			}
		})
	}
}

// A resolver that does not answer leaves the client unknown once the
// lookup's deadline has passed.
func TestFCrDNSTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if got := fcrdns(ctx, fakeResolver{block: true}, netip.MustParseAddr("192.0.2.7")); got != "" {
		t.Errorf("fcrdns with a silent resolver = %q, want \"\"", got)
	}
	var n reverseName
	n.start(ctx, fakeResolver{block: true}, netip.MustParseAddr("192.0.2.7"))
	if got := n.wait(context.Background()); got != "" {
		t.Errorf("reverseName.wait with a silent resolver = %q, want \"\"", got)
	}
}

// The inbound Received header names the client by its confirmed name, as
// Postfix does; submission keeps the bare address literal.
func TestReceivedHeaderReverseName(t *testing.T) {
	t.Parallel()
	lo := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		name string
		r    fakeResolver
		want string
	}{
		{"confirmed", fakeResolver{
			ptr:   map[netip.Addr][]string{lo: {"client.example.net."}},
			addrs: map[string][]netip.Addr{"client.example.net": {lo}},
		}, "(client.example.net [127.0.0.1])"},
		{"not confirmed", fakeResolver{
			ptr: map[netip.Addr][]string{lo: {"client.example.net."}},
		}, "(unknown [127.0.0.1])"},
		{"no PTR", fakeResolver{}, "(unknown [127.0.0.1])"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tg := startGateway(t, func(s *setup) { s.Opts.Resolver = tc.r })
			c := tg.afterEHLO(t, lnInbound)
			if r := c.send1("x@sender.example", []string{alice}, message("x@sender.example", "rdns")); r.code != 250 {
				t.Fatalf("DATA = %v", r)
			}
			data := string(tg.onlyQueued(t).data)
			rx := regexp.MustCompile(`^Received: from \S+ ` + regexp.QuoteMeta(tc.want) + `\r\n\tby gw\.example\.test \(bridgehead\) with ESMTP id `)
			if !rx.MatchString(data) {
				t.Errorf("Received header does not name the client %s:\n%s", tc.want, data[:strings.Index(data, "\r\n\r\n")])
			}
		})
	}
}
