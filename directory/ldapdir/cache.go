package ldapdir

import (
	"slices"
	"sync/atomic"
	"time"

	"bridgehead.dev/bridgehead/directory"
	"github.com/hashicorp/golang-lru/v2/expirable"
)

// Stats are counters since New.
type Stats struct {
	// Hits are lookups answered from the cache (fresh answers).
	Hits uint64
	// StaleHits are lookups answered with a stale answer while LDAP was
	// unavailable.
	StaleHits uint64
	// Misses are lookups that went to LDAP (or joined one in flight).
	Misses uint64
	// Queries are LDAP searches sent.
	Queries uint64
	// Errors are failed LDAP dials, binds of the service account and
	// searches.
	Errors uint64
}

type counters struct {
	hits, stale, misses, queries, errors atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{Hits: c.hits.Load(), StaleHits: c.stale.Load(), Misses: c.misses.Load(),
		Queries: c.queries.Load(), Errors: c.errors.Load()}
}

// answer is a found user or recipient and when LDAP gave it.
type answer struct {
	user *directory.User
	rcpt *directory.Recipient
	// disabled marks a user whose account is disabled.
	disabled bool
	at       time.Time
}

// cache keeps found answers for TTL (and StaleFor beyond it, for outages)
// and not-found answers for NegativeTTL. Freshness is judged with opts.Now;
// the LRUs' own expiry only bounds memory.
type cache struct {
	opts *CacheOptions
	now  func() time.Time
	pos  *expirable.LRU[string, answer]
	neg  *expirable.LRU[string, time.Time]
}

func newCache(o *Options) *cache {
	if o.Cache.Disabled {
		return nil
	}
	return &cache{
		opts: &o.Cache,
		now:  o.Now,
		pos:  expirable.NewLRU[string, answer](o.Cache.Size, nil, o.Cache.TTL+o.Cache.StaleFor),
		neg:  expirable.NewLRU[string, time.Time](o.Cache.Size, nil, o.Cache.NegativeTTL),
	}
}

// fresh returns a usable cached answer: found (a, true, true) or not found
// (zero, false, true).
func (c *cache) fresh(key string) (a answer, found, ok bool) {
	if c == nil {
		return answer{}, false, false
	}
	now := c.now()
	if at, hit := c.neg.Peek(key); hit && now.Sub(at) < c.opts.NegativeTTL {
		return answer{}, false, true
	}
	if a, hit := c.pos.Get(key); hit && now.Sub(a.at) < c.opts.TTL {
		return a, true, true
	}
	return answer{}, false, false
}

// stale returns a found answer past its TTL but within StaleFor.
func (c *cache) stale(key string) (answer, bool) {
	if c == nil || c.opts.StaleFor <= 0 {
		return answer{}, false
	}
	a, hit := c.pos.Peek(key)
	if !hit || c.now().Sub(a.at) >= c.opts.TTL+c.opts.StaleFor {
		return answer{}, false
	}
	return a, true
}

func (c *cache) putFound(key string, a answer) {
	if c == nil {
		return
	}
	a.at = c.now()
	c.neg.Remove(key)
	c.pos.Add(key, a)
}

func (c *cache) putNotFound(key string) {
	if c == nil {
		return
	}
	c.pos.Remove(key)
	c.neg.Add(key, c.now())
}

// copies, so callers cannot change cached answers.
func (a answer) clone() answer {
	if a.user != nil {
		u := *a.user
		u.Addresses = slices.Clone(u.Addresses)
		u.SendAs = slices.Clone(u.SendAs)
		a.user = &u
	}
	if a.rcpt != nil {
		r := *a.rcpt
		a.rcpt = &r
	}
	return a
}
