package gateway

import (
	"net/netip"
	"sync"
	"time"
)

// maxRateEntries bounds the addresses a rateLimiter tracks at once. A
// flood from more distinct addresses than this within a minute is not
// throttled per address (the connection limits still hold): memory stays
// bounded instead.
const maxRateEntries = 100_000

// rateLimiter allows each client address (IPv6: each /64, which one
// subscriber usually holds whole) perMinute events a minute, as a token
// bucket: a full bucket holds perMinute tokens, each event takes one, and
// it refills evenly over a minute. An address idle long enough for its
// bucket to be full again is forgotten.
type rateLimiter struct {
	perMinute int
	now       func() time.Time

	mu        sync.Mutex
	buckets   map[netip.Prefix]*bucket
	lastSweep time.Time
}

// bucket is one address's tokens as of last.
type bucket struct {
	tokens float64
	last   time.Time
}

// newRateLimiter returns a limiter of perMinute events per address and
// minute, or nil (which allows everything) when perMinute is 0.
func newRateLimiter(perMinute int, now func() time.Time) *rateLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &rateLimiter{perMinute: perMinute, now: now, buckets: map[netip.Prefix]*bucket{}, lastSweep: now()}
}

// rateKey is the address range counted together: the address for IPv4,
// its /64 for IPv6.
func rateKey(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	p, _ := ip.Prefix(64) // cannot fail for a valid IPv6 address
	return p
}

// allow takes a token for ip and reports whether there was one.
func (r *rateLimiter) allow(ip netip.Addr) bool {
	if r == nil {
		return true
	}
	now := r.now()
	key := rateKey(ip)
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.lastSweep) >= time.Minute {
		r.sweep(now)
	}
	b, ok := r.buckets[key]
	if !ok {
		if len(r.buckets) >= maxRateEntries {
			r.sweep(now)
			if len(r.buckets) >= maxRateEntries {
				return true
			}
		}
		b = &bucket{tokens: float64(r.perMinute), last: now}
		r.buckets[key] = b
	}
	b.refill(now, r.perMinute)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refill adds the tokens earned since b.last, up to a full bucket.
func (b *bucket) refill(now time.Time, perMinute int) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(float64(perMinute), b.tokens+elapsed.Minutes()*float64(perMinute))
		b.last = now
	}
}

// sweep forgets the addresses whose buckets are full again (a bucket
// refills completely within a minute).
func (r *rateLimiter) sweep(now time.Time) {
	for k, b := range r.buckets {
		if now.Sub(b.last) >= time.Minute {
			delete(r.buckets, k)
		}
	}
	r.lastSweep = now
}

// len is the number of addresses tracked.
func (r *rateLimiter) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buckets)
}
