package dnsresolver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// MX is one mail exchanger of a domain.
type MX struct {
	// Host is the exchanger's name, lower case, without a trailing dot.
	Host string
	// Pref is its preference; lower is tried first.
	Pref uint16
}

// LookupMX returns the mail exchangers of domain, sorted by preference,
// those of equal preference in random order. A domain without MX records
// gives an error wrapping ErrNoRecords (deliver to its address records,
// RFC 5321 5.1), one that does not exist ErrNotFound, a null MX (RFC 7505)
// ErrNullMX, a failed lookup ErrTemporary.
func (r *Resolver) LookupMX(ctx context.Context, domain string) ([]MX, error) {
	recs, err := r.lookup(ctx, domain, dnsmessage.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]MX, 0, len(recs))
	for _, rr := range recs {
		mx, ok := rr.Body.(*dnsmessage.MXResource)
		if !ok {
			continue
		}
		host := trimDot(mx.MX)
		if host == "" {
			return nil, fmt.Errorf("dns MX %s: %w", domain, ErrNullMX)
		}
		out = append(out, MX{Host: host, Pref: mx.Pref})
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	slices.SortStableFunc(out, func(a, b MX) int { return cmp.Compare(a.Pref, b.Pref) })
	return out, nil
}

// LookupIP returns the IPv6 and IPv4 addresses of host (IPv6 first), or
// host itself when it is an address literal. When neither lookup finds
// an address the error wraps ErrTemporary if either failed, else
// ErrNotFound if the name does not exist, else ErrNoRecords.
func (r *Resolver) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	type result struct {
		recs []dnsmessage.Resource
		err  error
	}
	v4 := make(chan result, 1)
	go func() {
		recs, err := r.lookup(ctx, host, dnsmessage.TypeA)
		v4 <- result{recs, err}
	}()
	recs6, err6 := r.lookup(ctx, host, dnsmessage.TypeAAAA)
	res4 := <-v4
	var out []netip.Addr
	for _, rr := range append(recs6, res4.recs...) {
		switch b := rr.Body.(type) {
		case *dnsmessage.AAAAResource:
			out = append(out, netip.AddrFrom16(b.AAAA))
		case *dnsmessage.AResource:
			out = append(out, netip.AddrFrom4(b.A))
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	switch {
	case IsTemporary(err6):
		return nil, err6
	case IsTemporary(res4.err):
		return nil, res4.err
	case errors.Is(err6, ErrNotFound):
		return nil, err6
	case errors.Is(res4.err, ErrNotFound):
		return nil, res4.err
	}
	return nil, fmt.Errorf("dns A/AAAA %s: %w", host, ErrNoRecords)
}

// LookupAddr returns the names of addr's PTR records (reverse DNS),
// lower case without trailing dots.
func (r *Resolver) LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error) {
	recs, err := r.lookup(ctx, reverseName(addr), dnsmessage.TypePTR)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(recs))
	for _, rr := range recs {
		if ptr, ok := rr.Body.(*dnsmessage.PTRResource); ok {
			out = append(out, trimDot(ptr.PTR))
		}
	}
	return out, nil
}

// reverseName is addr's name under in-addr.arpa or ip6.arpa.
func reverseName(addr netip.Addr) string {
	addr = addr.Unmap()
	var b strings.Builder
	if addr.Is4() {
		a := addr.As4()
		fmt.Fprintf(&b, "%d.%d.%d.%d.in-addr.arpa.", a[3], a[2], a[1], a[0])
		return b.String()
	}
	const hex = "0123456789abcdef"
	a := addr.As16()
	for i := len(a) - 1; i >= 0; i-- {
		b.WriteByte(hex[a[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[a[i]>>4])
		b.WriteByte('.')
	}
	b.WriteString("ip6.arpa.")
	return b.String()
}
