package delivery

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"bridgehead.dev/bridgehead/dnsresolver"
)

// fakeDNS is a Resolver answering from maps; a name in neither map does
// not exist.
type fakeDNS struct {
	mx     map[string][]dnsresolver.MX
	ip     map[string][]string
	errs   map[string]error // "MX name" or "IP name" -> error
	mu     sync.Mutex
	lookup []string // "MX name" / "IP name" in order
}

func (f *fakeDNS) LookupMX(_ context.Context, domain string) ([]dnsresolver.MX, error) {
	f.mu.Lock()
	f.lookup = append(f.lookup, "MX "+domain)
	f.mu.Unlock()
	if err := f.errs["MX "+domain]; err != nil {
		return nil, err
	}
	if mxs, ok := f.mx[domain]; ok {
		return mxs, nil
	}
	if _, ok := f.ip[domain]; ok {
		return nil, fmt.Errorf("fake MX %s: %w", domain, dnsresolver.ErrNoRecords)
	}
	return nil, fmt.Errorf("fake MX %s: %w", domain, dnsresolver.ErrNotFound)
}

func (f *fakeDNS) LookupIP(_ context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	f.lookup = append(f.lookup, "IP "+host)
	f.mu.Unlock()
	if err := f.errs["IP "+host]; err != nil {
		return nil, err
	}
	ss, ok := f.ip[host]
	if !ok {
		return nil, fmt.Errorf("fake IP %s: %w", host, dnsresolver.ErrNotFound)
	}
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out, nil
}
