package dnsresolver

import (
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

type cacheKey struct {
	name string
	typ  dnsmessage.Type
}

func (k cacheKey) String() string { return k.typ.String() + " " + k.name }

type cacheEntry struct {
	a       *answer
	expires time.Time
}

// cache holds answers until they expire, at most size of them.
type cache struct {
	now  func() time.Time
	size int

	mu sync.Mutex
	m  map[cacheKey]cacheEntry
}

func newCache(size int, now func() time.Time) *cache {
	return &cache{now: now, size: size, m: make(map[cacheKey]cacheEntry)}
}

func (c *cache) get(k cacheKey) (*answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return nil, false
	}
	if !c.now().Before(e.expires) {
		delete(c.m, k)
		return nil, false
	}
	return e.a, true
}

func (c *cache) put(k cacheKey, a *answer, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.m) >= c.size {
		for key, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.size {
				break
			}
			delete(c.m, key) // full of live answers: drop any
		}
	}
	c.m[k] = cacheEntry{a: a, expires: now.Add(ttl)}
}
