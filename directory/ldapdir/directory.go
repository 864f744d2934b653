package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"bridgehead.dev/bridgehead/directory"
	"github.com/go-ldap/ldap/v3"
	"golang.org/x/sync/singleflight"
)

// maxInput bounds logins and addresses; longer ones match nothing.
const maxInput = 320

// validInput reports whether a login or address may be looked up: not
// empty, not too long, no control characters (slapd ends some assertion
// values at a NUL, so "alice\x00" could match alice).
func validInput(s string) bool {
	if s == "" || len(s) > maxInput {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// errAmbiguous means a search that must find one entry found several.
var errAmbiguous = errors.New("more than one entry matches")

var _ directory.Directory = (*Directory)(nil)

// Directory is the LDAP directory. It is safe for concurrent use.
type Directory struct {
	opts   Options
	log    *slog.Logger
	dialer *dialer
	pool   *pool
	cache  *cache
	flight singleflight.Group
	stats  counters
	// opLimit bounds one whole operation: failover dials, binds, searches.
	opLimit time.Duration
}

// New checks opts and makes a Directory. It reads the CA and password files
// but does not connect: an unreachable server at start is not an error, the
// first lookup reports it.
func New(ctx context.Context, opts Options) (*Directory, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("ldap: options: %w", err)
	}
	opts = opts.withDefaults()
	if opts.BindDN != "" {
		if _, err := readPassword(opts.BindPasswordFile); err != nil {
			return nil, fmt.Errorf("ldap: %w", err)
		}
	}
	dl, err := newDialer(&opts)
	if err != nil {
		return nil, err
	}
	d := &Directory{
		opts:    opts,
		log:     opts.Logger,
		dialer:  dl,
		pool:    newPool(dl, opts.PoolSize),
		cache:   newCache(&opts),
		opLimit: opts.Timeout * time.Duration(2*len(opts.URLs)+3),
	}
	d.log.LogAttrs(ctx, slog.LevelInfo, "ldap directory ready",
		slog.Any("urls", opts.URLs), strAttr("schema", opts.Schema), strAttr("base_dn", opts.BaseDN),
		slog.Bool("start_tls", opts.StartTLS), slog.Int("pool_size", opts.PoolSize),
		slog.Bool("cache", !opts.Cache.Disabled), slog.Duration("cache_ttl", opts.Cache.TTL),
		slog.Duration("cache_stale_for", opts.Cache.StaleFor))
	return d, nil
}

// Close closes the pooled connections. Lookups after Close fail.
func (d *Directory) Close() error {
	d.pool.close()
	s := d.Stats()
	d.log.LogAttrs(context.Background(), slog.LevelInfo, "ldap directory closed",
		slog.Uint64("cache_hits", s.Hits), slog.Uint64("cache_stale_hits", s.StaleHits),
		slog.Uint64("cache_misses", s.Misses), slog.Uint64("ldap_queries", s.Queries),
		slog.Uint64("ldap_errors", s.Errors))
	return nil
}

// Stats returns the counters since New.
func (d *Directory) Stats() Stats { return d.stats.snapshot() }

// Authenticate finds the login's entry with UserFilter, requires exactly
// one, and binds as its DN with password on a connection of its own. An
// empty password is refused before any bind. A disabled account gives
// directory.ErrDisabled whatever the password (servers refuse even the right
// password of a locked account, so the two cannot be told apart).
func (d *Directory) Authenticate(ctx context.Context, login, password string) (*directory.User, error) {
	fail := func(err error) (*directory.User, error) {
		return nil, fmt.Errorf("ldap: authenticate %q: %w", login, err)
	}
	if password == "" {
		return fail(fmt.Errorf("empty password: %w", directory.ErrInvalidCredentials))
	}
	if !validInput(login) {
		return fail(directory.ErrInvalidCredentials)
	}
	ctx, cancel := context.WithTimeout(ctx, d.opLimit)
	defer cancel()
	e, err := d.findOne(ctx, d.opts.UserFilter, login)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return fail(fmt.Errorf("no such login: %w", directory.ErrInvalidCredentials))
	case errors.Is(err, errAmbiguous):
		d.log.LogAttrs(ctx, levelError, "ldap login matches several entries", strAttr("login", login))
		return fail(fmt.Errorf("%w: %w", err, directory.ErrInvalidCredentials))
	case err != nil:
		return fail(err)
	}
	disabled := d.opts.disabled(e)
	if err := d.bind(ctx, e.DN, password); err != nil {
		if errors.Is(err, directory.ErrUnavailable) {
			return fail(err)
		}
		if disabled {
			return fail(directory.ErrDisabled)
		}
		return fail(fmt.Errorf("%w: %w", directory.ErrInvalidCredentials, err))
	}
	if disabled {
		return fail(directory.ErrDisabled)
	}
	u, err := d.user(ctx, e, login)
	if err != nil {
		return fail(err)
	}
	return u, nil
}

// bind checks dn's password on a new, unpooled connection, failing over
// like the pool does. An LDAP result (49 and the like) is returned as it is;
// no answer wraps directory.ErrUnavailable.
func (d *Directory) bind(ctx context.Context, dn, password string) error {
	c, err := d.dialer.dial(ctx, func(c *ldap.Conn) error {
		start := time.Now()
		err := c.Bind(dn, password)
		d.observeRequest("bind", start)
		return err
	})
	if err != nil {
		if errors.Is(err, directory.ErrUnavailable) {
			d.stats.errors.Add(1)
		}
		return err
	}
	c.Close()
	return nil
}

// LookupUser returns the user with the login, from the cache when fresh. A
// disabled account gives directory.ErrDisabled: it may not act as a sender.
func (d *Directory) LookupUser(ctx context.Context, login string) (*directory.User, error) {
	if !validInput(login) {
		return nil, fmt.Errorf("ldap: lookup user %q: %w", login, directory.ErrNotFound)
	}
	a, err := d.lookup(ctx, "u:"+strings.ToLower(login), func(ctx context.Context) (answer, error) {
		e, err := d.findOne(ctx, d.opts.UserFilter, login)
		if errors.Is(err, errAmbiguous) {
			d.log.LogAttrs(ctx, levelError, "ldap login matches several entries", strAttr("login", login))
			return answer{}, fmt.Errorf("%w: %w", err, directory.ErrNotFound)
		}
		if err != nil {
			return answer{}, err
		}
		u, err := d.user(ctx, e, login)
		return answer{user: u, disabled: d.opts.disabled(e)}, err
	})
	if err == nil && a.disabled {
		err = directory.ErrDisabled
	}
	if err != nil {
		return nil, fmt.Errorf("ldap: lookup user %q: %w", login, err)
	}
	return a.user, nil
}

// LookupRecipient returns the user, group or contact owning address, from
// the cache when fresh. An address on several entries is a directory error
// reported as directory.ErrUnavailable (a temporary failure), so mail waits
// rather than bounces while it is fixed.
func (d *Directory) LookupRecipient(ctx context.Context, address string) (*directory.Recipient, error) {
	if !validInput(address) {
		return nil, fmt.Errorf("ldap: lookup recipient %q: %w", address, directory.ErrNotFound)
	}
	a, err := d.lookup(ctx, "r:"+strings.ToLower(address), func(ctx context.Context) (answer, error) {
		e, err := d.findOne(ctx, d.opts.RecipientFilter, address)
		if errors.Is(err, errAmbiguous) {
			d.log.LogAttrs(ctx, levelError, "ldap address on several entries", strAttr("address", address))
			return answer{}, fmt.Errorf("%w: %w", err, directory.ErrUnavailable)
		}
		if err != nil {
			return answer{}, err
		}
		return answer{rcpt: d.recipient(e, address)}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("ldap: lookup recipient %q: %w", address, err)
	}
	return a.rcpt, nil
}

// lookup answers from the cache or runs fetch once for all concurrent
// callers with the same key. fetch runs detached from the caller's
// cancellation (other callers may wait on it) under opLimit. While LDAP is
// unavailable a stale answer is served for at most StaleFor past its TTL.
func (d *Directory) lookup(ctx context.Context, key string, fetch func(context.Context) (answer, error)) (answer, error) {
	if a, found, ok := d.cache.fresh(key); ok {
		d.stats.hits.Add(1)
		d.observeCache(true)
		if !found {
			return answer{}, fmt.Errorf("cached: %w", directory.ErrNotFound)
		}
		return a.clone(), nil
	}
	d.stats.misses.Add(1)
	d.observeCache(false)
	ch := d.flight.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opLimit)
		defer cancel()
		a, err := fetch(fctx)
		switch {
		case err == nil:
			d.cache.putFound(key, a)
		case errors.Is(err, directory.ErrNotFound):
			d.cache.putNotFound(key)
		}
		return a, err
	})
	var err error
	var a answer
	select {
	case r := <-ch:
		a, _ = r.Val.(answer)
		err = r.Err
	case <-ctx.Done():
		err = fmt.Errorf("%w: %w", directory.ErrUnavailable, ctx.Err())
	}
	if err == nil {
		return a.clone(), nil
	}
	if errors.Is(err, directory.ErrUnavailable) {
		if s, ok := d.cache.stale(key); ok {
			d.stats.stale.Add(1)
			d.log.LogAttrs(ctx, levelWarn, "ldap unavailable, serving a stale answer",
				strAttr("key", key), slog.Duration("age", d.opts.Now().Sub(s.at)), errAttr(err))
			return s.clone(), nil
		}
	}
	return answer{}, err
}

// findOne searches BaseDN for the one entry matching tmpl with value.
func (d *Directory) findOne(ctx context.Context, tmpl, value string) (*ldap.Entry, error) {
	entries, err := d.search(ctx, filter(tmpl, value), d.opts.attributes(), 2)
	switch {
	case err != nil:
		return nil, err
	case len(entries) == 0:
		return nil, directory.ErrNotFound
	case len(entries) > 1:
		return nil, errAmbiguous
	}
	return entries[0], nil
}

// search runs one subtree search under BaseDN on a pooled connection.
// Failures wrap directory.ErrUnavailable, except a size limit, which gives
// errAmbiguous.
func (d *Directory) search(ctx context.Context, f string, attrs []string, sizeLimit int) ([]*ldap.Entry, error) {
	timeLimit := max(1, int((d.opts.Timeout+time.Second-1)/time.Second))
	req := ldap.NewSearchRequest(d.opts.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		sizeLimit, timeLimit, false, f, attrs, nil)
	var res *ldap.SearchResult
	err := d.pool.do(ctx, func(c *ldap.Conn) error {
		d.stats.queries.Add(1)
		var err error
		start := time.Now()
		res, err = c.Search(req)
		d.observeRequest("search", start)
		return err
	})
	if sizeLimit > 0 && ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return nil, errAmbiguous
	}
	if err != nil {
		d.stats.errors.Add(1)
		d.log.LogAttrs(ctx, levelWarn, "ldap search failed", strAttr("filter", f), errAttr(err))
		if !errors.Is(err, directory.ErrUnavailable) {
			err = fmt.Errorf("search: %w: %w", directory.ErrUnavailable, err)
		}
		return nil, err
	}
	return res.Entries, nil
}

// user builds the User of entry e, found with login.
func (d *Directory) user(ctx context.Context, e *ldap.Entry, login string) (*directory.User, error) {
	u := &directory.User{
		Login:     e.GetAttributeValue(d.opts.LoginAttribute),
		Addresses: d.opts.addresses(e),
		Backend:   d.opts.backend(e),
	}
	if u.Login == "" {
		u.Login = login
	}
	if !d.opts.SendAsGroups {
		return u, nil
	}
	groups, err := d.search(ctx, filter(d.opts.GroupFilter, e.DN), d.opts.attributes(), 0)
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", e.DN, err)
	}
	for _, g := range groups {
		for _, a := range d.opts.addresses(g) {
			if !u.MaySendAs(a) {
				u.SendAs = append(u.SendAs, a)
			}
		}
	}
	return u, nil
}

// recipient builds the Recipient of entry e, found by address.
func (d *Directory) recipient(e *ldap.Entry, address string) *directory.Recipient {
	r := &directory.Recipient{Address: address, Kind: d.opts.kind(e), Backend: d.opts.backend(e)}
	for _, a := range d.opts.addresses(e) {
		if strings.EqualFold(a, address) {
			r.Address = a
			break
		}
	}
	if r.Kind == directory.KindUser {
		r.Login = e.GetAttributeValue(d.opts.LoginAttribute)
	}
	return r
}
