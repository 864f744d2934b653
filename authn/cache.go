package authn

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"

	"bridgehead.dev/bridgehead/directory"
)

// Cache defaults.
const (
	// DefaultCacheTTL is how long a successful check is remembered when
	// CacheOptions.TTL is zero.
	DefaultCacheTTL = 5 * time.Minute
	// DefaultCacheSize is how many logins are remembered when
	// CacheOptions.Size is zero.
	DefaultCacheSize = 10000
)

// CacheOptions configure a Cache. The zero value is ready to use.
type CacheOptions struct {
	// TTL is how long a successful check is remembered. Zero means
	// DefaultCacheTTL; negative is an error.
	TTL time.Duration
	// Size bounds the number of logins remembered (the least recently
	// used go first). Zero means DefaultCacheSize; negative is an error.
	Size int
}

// Cache is a directory.Authenticator that remembers the successful password
// checks of another one for a while, so that a client logging in again and
// again does not reach LDAP or the IMAP back end each time.
//
// An entry is keyed by the login and holds an HMAC-SHA256 of the password
// under a random key made when the Cache is, never the password itself; a
// different password never matches it. Any failure for a login evicts its
// entry, and failures are never remembered. Clients logging in with the
// same login and password at the same moment share one check. It is safe
// for concurrent use.
type Cache struct {
	inner  directory.Authenticator
	key    []byte
	lru    *expirable.LRU[string, cacheEntry]
	checks singleflight.Group // keyed by login and MAC
	hits   atomic.Uint64
	misses atomic.Uint64
}

// cacheEntry is one remembered success.
type cacheEntry struct {
	mac  []byte
	user *directory.User
}

var _ directory.Authenticator = (*Cache)(nil)

// NewCache returns a Cache in front of inner.
func NewCache(inner directory.Authenticator, opts CacheOptions) (*Cache, error) {
	if inner == nil {
		return nil, fmt.Errorf("authn: cache: no authenticator to cache")
	}
	if opts.TTL < 0 || opts.Size < 0 {
		return nil, fmt.Errorf("authn: cache: negative TTL %v or size %d", opts.TTL, opts.Size)
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultCacheTTL
	}
	if opts.Size == 0 {
		opts.Size = DefaultCacheSize
	}
	key := make([]byte, sha256.Size)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("authn: cache key: %w", err)
	}
	return &Cache{
		inner: inner,
		key:   key,
		lru:   expirable.NewLRU[string, cacheEntry](opts.Size, nil, opts.TTL),
	}, nil
}

// Authenticate answers from the cache when login and password match a
// remembered success, and asks the cached authenticator otherwise.
func (c *Cache) Authenticate(ctx context.Context, login, password string) (*directory.User, error) {
	mac := c.mac(login, password)
	if e, ok := c.lru.Get(login); ok && hmac.Equal(e.mac, mac) {
		c.hits.Add(1)
		return cloneUser(e.user), nil
	}
	c.misses.Add(1)
	// A storm of clients with the same credentials (a client pool starting
	// up, a load test) would otherwise run one directory bind or bcrypt
	// check each.
	ch := c.checks.DoChan(login+"\x00"+string(mac), func() (any, error) {
		user, err := c.inner.Authenticate(ctx, login, password)
		if err != nil || user == nil {
			c.lru.Remove(login)
			return user, err
		}
		c.lru.Add(login, cacheEntry{mac: mac, user: cloneUser(user)})
		return user, nil
	})
	select {
	case r := <-ch:
		user, _ := r.Val.(*directory.User)
		if r.Shared && user != nil {
			user = cloneUser(user)
		}
		return user, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Forget drops the login's entry, if any.
func (c *Cache) Forget(login string) { c.lru.Remove(login) }

// Stats returns how many checks the cache answered and how many it passed
// on.
func (c *Cache) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

// mac is the HMAC of the password, bound to the login.
func (c *Cache) mac(login, password string) []byte {
	h := hmac.New(sha256.New, c.key)
	// The login's length first, so that login and password cannot trade bytes.
	fmt.Fprintf(h, "%d:%s", len(login), login)
	h.Write([]byte(password))
	return h.Sum(nil)
}

// cloneUser copies a user so that callers cannot change a cached one.
func cloneUser(u *directory.User) *directory.User {
	c := *u
	c.Addresses = slices.Clone(u.Addresses)
	c.SendAs = slices.Clone(u.SendAs)
	return &c
}
