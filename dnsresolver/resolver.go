package dnsresolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sync/singleflight"
)

// Defaults for zero Options fields and cache bounds.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultNegativeTTL = 60 * time.Second
	// MinTTL and MaxTTL clamp how long an answer is cached.
	MinTTL = 5 * time.Second
	MaxTTL = time.Hour
	// MaxNegativeTTL bounds how long a "does not exist" answer is cached.
	MaxNegativeTTL = 15 * time.Minute
	// DefaultCacheSize is the number of cached answers kept.
	DefaultCacheSize = 10000
	// resolvConf is where the system's resolver is configured.
	resolvConf = "/etc/resolv.conf"
)

// Options configure a Resolver.
type Options struct {
	// Server is host:port of a recursive resolver; "" means the first
	// nameserver of /etc/resolv.conf (127.0.0.1:53 when there is none).
	Server string
	// Timeout bounds one query (each UDP try and the TCP retry); default
	// DefaultTimeout. The caller's context may cut it shorter.
	Timeout time.Duration
	// Logger gets a debug line per query; default slog.Default().
	Logger *slog.Logger
	// CacheSize bounds the number of cached answers; default
	// DefaultCacheSize.
	CacheSize int
	// Now is the clock for cache expiry; default time.Now. Tests set it.
	Now func() time.Time
}

// Resolver is a caching stub resolver. It is safe for concurrent use.
type Resolver struct {
	server  string
	timeout time.Duration
	log     *slog.Logger
	cache   *cache
	flight  singleflight.Group
}

// New returns a Resolver for opts.
func New(opts Options) (*Resolver, error) {
	server := opts.Server
	if server == "" {
		conf, err := os.ReadFile(resolvConf)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("dnsresolver: %w", err)
		}
		server = firstNameserver(conf)
		if server == "" {
			server = "127.0.0.1:53"
		}
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		return nil, fmt.Errorf("dnsresolver: server %q: want host:port: %w", server, err)
	}
	if opts.Timeout < 0 || opts.CacheSize < 0 {
		return nil, errors.New("dnsresolver: negative timeout or cache size")
	}
	r := &Resolver{server: server, timeout: opts.Timeout, log: opts.Logger}
	if r.timeout == 0 {
		r.timeout = DefaultTimeout
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	size := opts.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	r.cache = newCache(size, now)
	return r, nil
}

// Server returns the host:port queries go to.
func (r *Resolver) Server() string { return r.server }

// answer is what a query for one name and type came to: the records of
// that type (after following CNAMEs) or a permanent error.
type answer struct {
	records []dnsmessage.Resource
	err     error // nil, ErrNotFound or ErrNoRecords (wrapped)
}

// lookup returns the answer for name and typ, from the cache or the
// server. A temporary failure is returned as an error and not cached.
func (r *Resolver) lookup(ctx context.Context, name string, typ dnsmessage.Type) ([]dnsmessage.Resource, error) {
	fqdn := canonical(name)
	key := cacheKey{name: fqdn, typ: typ}
	if a, ok := r.cache.get(key); ok {
		return a.records, a.err
	}
	v, err, _ := r.flight.Do(key.String(), func() (any, error) {
		a, ttl, err := r.query(ctx, fqdn, typ)
		if err != nil {
			return nil, err
		}
		r.cache.put(key, a, ttl)
		return a, nil
	})
	if err != nil {
		return nil, err
	}
	a := v.(*answer)
	return a.records, a.err
}

// canonical lower-cases name and gives it a trailing dot.
func canonical(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// trimDot returns a name from the wire without its trailing dot.
func trimDot(n dnsmessage.Name) string {
	return strings.ToLower(strings.TrimSuffix(n.String(), "."))
}
