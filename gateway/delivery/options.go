package delivery

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"bridgehead.dev/bridgehead/dnsresolver"
)

var _ Resolver = (*dnsresolver.Resolver)(nil)

// TLSPolicy says how a connection to a back end is protected.
type TLSPolicy string

// TLS policies. The zero value means PolicyOpportunistic for smtp:// and
// lmtp:// and PolicyRequired for smtps://.
const (
	// PolicyNone never starts TLS.
	PolicyNone TLSPolicy = "none"
	// PolicyOpportunistic starts TLS when the server offers STARTTLS,
	// without verifying its certificate, and goes on in plain text when
	// STARTTLS is not offered, refused or its handshake fails.
	PolicyOpportunistic TLSPolicy = "opportunistic"
	// PolicyRequired fails (temporarily) unless STARTTLS succeeds; the
	// certificate is not verified.
	PolicyRequired TLSPolicy = "required"
	// PolicyVerify is PolicyRequired with the certificate verified against
	// Route.CAFile (or the system roots) for the route's host name.
	PolicyVerify TLSPolicy = "verify"
)

// Defaults for zero Options fields.
const (
	DefaultMaxPerRoute    = 16
	DefaultDialTimeout    = 30 * time.Second
	DefaultCommandTimeout = 5 * time.Minute
	DefaultDataTimeout    = 10 * time.Minute
	// DefaultIdleTimeout is how long a connection waits in the pool for
	// the next message to its destination.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultMaxMessagesPerConnection is how many transactions one
	// connection carries before it is closed.
	DefaultMaxMessagesPerConnection = 100
	// DefaultMXPort is the port "mx" targets connect to.
	DefaultMXPort = 25
)

// Route sends the recipients of some domains to one back end.
type Route struct {
	// Domains are lower-case domains; "*" matches any domain. Matching is
	// exact (no subdomains).
	Domains []string
	// To is "smtp://host[:25]", "lmtp://host[:24]", "smtps://host[:465]"
	// (implicit TLS), "mailbox:" (the built-in mailbox store) or "mx"
	// (each recipient domain's mail exchangers, found with
	// Options.Resolver). It is the single-target form of Targets; set one
	// or the other.
	To string
	// Targets are tried in order (failover): a target that cannot be
	// reached (connect or TLS failure, refusal at greeting) passes the
	// attempt to the next one; a reply to MAIL, RCPT or DATA is final.
	// Same syntax as To; TLS and CAFile apply to each.
	Targets []string
	// Senders, when set, restrict the route to envelope senders of these
	// lower-case domains (sender-dependent routing); empty means any
	// sender.
	Senders []string
	// Auth, when set, logs in to each target (smart host) with PLAIN or
	// LOGIN, as the server offers; the TLS policy must be required or
	// verify (or the scheme smtps), never plain text.
	Auth *Auth
	// TLS is the TLS policy (see TLSPolicy); must be empty for "mailbox:".
	TLS TLSPolicy
	// CAFile is a PEM file of CA certificates for PolicyVerify; empty
	// means the system roots.
	CAFile string
	// MXPort is the port an "mx" target connects to at each exchanger;
	// default DefaultMXPort. Only for "mx".
	MXPort int
}

// Auth are the credentials for a smart host.
type Auth struct {
	// Username and Password are sent with PLAIN or LOGIN.
	Username, Password string
}

// Mailbox delivers into the built-in store (dev mode, postmaster copies).
type Mailbox interface {
	// DeliverMailbox stores msg (CRLF line ends) for rcpt. An error
	// wrapping a *PermanentError is a permanent failure, any other a
	// temporary one.
	DeliverMailbox(ctx context.Context, rcpt string, msg io.Reader) error
}

// PermanentError marks an error from a Mailbox as a permanent failure; other
// errors are temporary.
type PermanentError struct {
	// Err is what went wrong.
	Err error
}

// Error implements error.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *PermanentError) Unwrap() error { return e.Err }

// Options configure a Deliverer.
type Options struct {
	// Hostname is the EHLO/LHLO name; default os.Hostname().
	Hostname string
	// Routes map recipient domains to back ends; the first match wins.
	Routes []Route
	// Backends are named back ends (name -> URL, syntax as Route.To, TLS
	// policy the scheme's default). A recipient whose Backend names one
	// goes there; an unknown name falls back to the domain routes.
	Backends map[string]string
	// MaxPerRoute limits parallel connections per destination
	// (scheme://host:port); default DefaultMaxPerRoute.
	MaxPerRoute int
	// DialTimeout bounds connecting (and the TLS handshake); default
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// CommandTimeout bounds each command's reply; default
	// DefaultCommandTimeout.
	CommandTimeout time.Duration
	// DataTimeout bounds sending the message and the reply after it;
	// default DefaultDataTimeout.
	DataTimeout time.Duration
	// Mailbox receives "mailbox:" targets; may be nil if none is used.
	Mailbox Mailbox
	// Logger gets one line per attempt per destination; default
	// slog.Default().
	Logger *slog.Logger
	// Resolver finds the mail exchangers of "mx" targets; required when
	// a route uses one. *dnsresolver.Resolver is one.
	Resolver Resolver
	// ListenAddrs are the host:port addresses this gateway receives mail
	// on. An exchanger that is Hostname, or whose address and port is
	// one of them (for an unspecified host such as 0.0.0.0: any address
	// of a local interface), is ourselves: mail for its domain loops and
	// fails with 554 5.4.6 instead of being sent.
	ListenAddrs []string
	// IdleTimeout is how long a connection waits in the pool for the next
	// message to the same destination; default DefaultIdleTimeout,
	// negative turns reuse off.
	IdleTimeout time.Duration
	// MaxMessagesPerConnection is how many transactions a connection
	// carries before it is closed; default
	// DefaultMaxMessagesPerConnection.
	MaxMessagesPerConnection int
	// OnAttempt, when set, is called once per attempt per destination
	// with the route (the target's key: "smtp://host:port", "mailbox:",
	// "mx"), the result ("delivered", "deferred" or "failed"; for a mix
	// the worst: failed before deferred) and how long it took. It must
	// be quick and safe for concurrent use.
	OnAttempt func(route, result string, took time.Duration)
}

// Resolver is the DNS the "mx" targets need. Errors wrap the
// dnsresolver errors: ErrNullMX, ErrNotFound and ErrNoRecords are
// answers, anything else a temporary failure.
type Resolver interface {
	// LookupMX returns the exchangers of domain in the order to try.
	LookupMX(ctx context.Context, domain string) ([]dnsresolver.MX, error)
	// LookupIP returns the addresses of host, those to try first first.
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
}

// Attempt results given to Options.OnAttempt.
const (
	AttemptDelivered = "delivered"
	AttemptDeferred  = "deferred"
	AttemptFailed    = "failed"
)

func (o *Options) withDefaults() Options {
	c := *o
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
		if c.Hostname == "" {
			c.Hostname = "localhost"
		}
	}
	if c.MaxPerRoute == 0 {
		c.MaxPerRoute = DefaultMaxPerRoute
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = DefaultCommandTimeout
	}
	if c.DataTimeout == 0 {
		c.DataTimeout = DefaultDataTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxMessagesPerConnection == 0 {
		c.MaxMessagesPerConnection = DefaultMaxMessagesPerConnection
	}
	return c
}

// Validate checks the options; an error names the route or back end at
// fault: a bad URL, an unknown scheme or TLS policy, an unreadable CA file,
// a "mailbox:" target without a Mailbox, negative limits.
func (o *Options) Validate() error {
	var errs []error
	if strings.ContainsAny(o.Hostname, " \t\r\n") {
		errs = append(errs, fmt.Errorf("hostname %q: must be one word", o.Hostname))
	}
	if o.MaxPerRoute < 0 {
		errs = append(errs, fmt.Errorf("max per route %d: must not be negative", o.MaxPerRoute))
	}
	if o.MaxMessagesPerConnection < 0 {
		errs = append(errs, fmt.Errorf("max messages per connection %d: must not be negative", o.MaxMessagesPerConnection))
	}
	if _, err := parseListenAddrs(o.ListenAddrs); err != nil {
		errs = append(errs, err)
	}
	for name, d := range map[string]time.Duration{"dial": o.DialTimeout, "command": o.CommandTimeout, "data": o.DataTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s timeout %v: must not be negative", name, d))
		}
	}
	for i, r := range o.Routes {
		if _, err := o.buildTargets(r); err != nil {
			errs = append(errs, fmt.Errorf("route %d (domains %s): %w", i+1, strings.Join(r.Domains, ","), err))
		}
	}
	for name, u := range o.Backends {
		if name == "" {
			errs = append(errs, errors.New(`backend "": empty name`))
		}
		if _, err := o.buildTarget(Route{Domains: []string{"*"}, To: u}); err != nil {
			errs = append(errs, fmt.Errorf("backend %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// targetURLs returns the route's targets: Targets, or To alone.
func (r Route) targetURLs() ([]string, error) {
	switch {
	case r.To != "" && len(r.Targets) > 0:
		return nil, errors.New("both to and targets set")
	case r.To != "":
		return []string{r.To}, nil
	case len(r.Targets) == 0:
		return nil, errors.New("no target")
	}
	return r.Targets, nil
}

// buildTargets checks one route and turns each of its targets into a
// target, in order.
func (o *Options) buildTargets(r Route) ([]*target, error) {
	urls, err := r.targetURLs()
	if err != nil {
		return nil, err
	}
	for _, s := range r.Senders {
		if s == "" || s != strings.ToLower(s) || strings.ContainsAny(s, "@ \t*") {
			return nil, fmt.Errorf("sender domain %q: want a lower-case domain", s)
		}
	}
	if r.MXPort != 0 && !slices.Contains(urls, schemeMX) {
		return nil, fmt.Errorf("mx port %d: only used with to %q", r.MXPort, schemeMX)
	}
	out := make([]*target, 0, len(urls))
	for _, u := range urls {
		one := r
		one.To, one.Targets = u, nil
		t, err := o.buildTarget(one)
		if err != nil {
			return nil, err
		}
		if r.Auth != nil && t.scheme != schemeMX { // exchangers get no login, a fallback relay does
			if t.tls != PolicyRequired && t.tls != PolicyVerify {
				return nil, fmt.Errorf("to %q: auth needs tls %q or %q", u, PolicyRequired, PolicyVerify)
			}
			if r.Auth.Username == "" {
				return nil, fmt.Errorf("to %q: auth without a username", u)
			}
			t.auth = r.Auth
		}
		if t.scheme == schemeMailbox && len(urls) > 1 {
			return nil, fmt.Errorf("to %q: mailbox cannot be one of several targets", u)
		}
		if t.scheme == schemeMX && r.Auth != nil && len(urls) == 1 {
			return nil, errors.New(`to "mx": auth is for smart hosts, not for mail exchangers`)
		}
		out = append(out, t)
	}
	return out, nil
}

// buildTarget checks one single-target route and turns it into a target.
func (o *Options) buildTarget(r Route) (*target, error) {
	if len(r.Domains) == 0 {
		return nil, errors.New("no domains")
	}
	for _, d := range r.Domains {
		if d == "*" {
			continue
		}
		if d == "" || d != strings.ToLower(d) || strings.ContainsAny(d, "@ \t*") {
			return nil, fmt.Errorf("domain %q: want a lower-case domain or \"*\"", d)
		}
	}
	t, err := parseTarget(r.To)
	if err != nil {
		return nil, err
	}
	if t.scheme == schemeMailbox && o.Mailbox == nil {
		return nil, fmt.Errorf("to %q: no mailbox store configured", r.To)
	}
	policy, err := t.policy(r.TLS)
	if err != nil {
		return nil, fmt.Errorf("to %q: %w", r.To, err)
	}
	t.tls = policy
	switch {
	case r.MXPort < 0 || r.MXPort > 65535:
		return nil, fmt.Errorf("mx port %d: out of range", r.MXPort)
	case t.scheme == schemeMX && o.Resolver == nil:
		return nil, errors.New(`to "mx": no resolver configured`)
	case t.scheme == schemeMX:
		t.mxPort = cmp.Or(r.MXPort, DefaultMXPort)
	}
	if r.CAFile != "" {
		if policy != PolicyVerify {
			return nil, fmt.Errorf("ca file %q: only used with tls %q", r.CAFile, PolicyVerify)
		}
		pool, err := loadCA(r.CAFile)
		if err != nil {
			return nil, err
		}
		t.roots = pool
	}
	return t, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("ca file %q: no PEM certificates", path)
	}
	return pool, nil
}
