package delivery

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

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
)

// Route sends the recipients of some domains to one back end.
type Route struct {
	// Domains are lower-case domains; "*" matches any domain. Matching is
	// exact (no subdomains).
	Domains []string
	// To is "smtp://host[:25]", "lmtp://host[:24]", "smtps://host[:465]"
	// (implicit TLS) or "mailbox:" (the built-in mailbox store). It is
	// the single-target form of Targets; set one or the other.
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
}

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
	out := make([]*target, 0, len(urls))
	for _, u := range urls {
		one := r
		one.To, one.Targets = u, nil
		t, err := o.buildTarget(one)
		if err != nil {
			return nil, err
		}
		if r.Auth != nil {
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
