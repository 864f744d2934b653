package gateway

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Resolver answers the DNS questions of a forward-confirmed reverse
// lookup (FCrDNS). dnsresolver.Resolver has these methods.
type Resolver interface {
	// LookupAddr returns the PTR names of ip.
	LookupAddr(ctx context.Context, ip netip.Addr) ([]string, error)
	// LookupIP returns the A and AAAA addresses of host.
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
}

// systemResolver is the Resolver over net.DefaultResolver.
type systemResolver struct{}

// LookupAddr asks the system resolver for ip's PTR names.
func (systemResolver) LookupAddr(ctx context.Context, ip netip.Addr) ([]string, error) {
	return net.DefaultResolver.LookupAddr(ctx, ip.String())
}

// LookupIP asks the system resolver for host's addresses.
func (systemResolver) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// fcrdnsTimeout bounds the whole lookup of one client's name: an answer
// later than that leaves the client "unknown".
const fcrdnsTimeout = 4 * time.Second

// maxPTRNames is how many of an address's PTR names are checked.
const maxPTRNames = 5

// fcrdns returns ip's forward-confirmed reverse DNS name: a PTR name of ip
// whose own addresses include ip, lower-cased and without the final dot.
// It returns "" when there is none or the lookups fail.
func fcrdns(ctx context.Context, r Resolver, ip netip.Addr) string {
	ip = ip.Unmap()
	names, err := r.LookupAddr(ctx, ip)
	if err != nil {
		return ""
	}
	for i, n := range names {
		if i == maxPTRNames {
			break
		}
		name := strings.ToLower(strings.TrimSuffix(n, "."))
		if !isHostname(name) {
			continue
		}
		addrs, err := r.LookupIP(ctx, name)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if a.Unmap() == ip {
				return name
			}
		}
	}
	return ""
}

// isHostname reports whether name is a plausible host name: dot-separated
// labels of letters, digits, hyphens and underscores.
func isHostname(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
				return false
			}
		}
	}
	return true
}

// reverseName is a connection's client name, looked up once in the
// background and waited for when the Received header is written.
type reverseName struct {
	once sync.Once
	done chan struct{} // closed when name is set
	name string        // "" when not confirmed
}

// start begins the lookup unless it has begun; ctx bounds it beyond
// fcrdnsTimeout.
func (n *reverseName) start(ctx context.Context, r Resolver, ip netip.Addr) {
	n.once.Do(func() {
		n.done = make(chan struct{})
		go func() {
			defer close(n.done)
			ctx, cancel := context.WithTimeout(ctx, fcrdnsTimeout)
			defer cancel()
			n.name = fcrdns(ctx, r, ip)
		}()
	})
}

// wait returns the name once looked up, "" when not confirmed, or "" when
// neither the lookup nor ctx ends within fcrdnsTimeout (a resolver that
// ignores its context blocks no session).
func (n *reverseName) wait(ctx context.Context) string {
	t := time.NewTimer(fcrdnsTimeout)
	defer t.Stop()
	select {
	case <-n.done:
		return n.name
	case <-ctx.Done():
	case <-t.C:
	}
	return ""
}

// clientName is the inbound client's forward-confirmed name for the
// Received header, or "unknown" as Postfix writes it.
func (s *session) clientName() string {
	var n *reverseName
	if cc := countedConnOf(s.conn.Conn()); cc != nil {
		n = &cc.rdns
	} else {
		n = &reverseName{}
	}
	n.start(s.gw.sessionsCtx, s.gw.opts.Resolver, s.ip)
	if name := n.wait(s.ctx); name != "" {
		return name
	}
	return "unknown"
}
