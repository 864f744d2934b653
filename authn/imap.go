package authn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"bridgehead.dev/bridgehead/directory"
)

// IMAPTLS says how the IMAP password check secures its connection.
type IMAPTLS int

// IMAP connection security.
const (
	// IMAPImplicitTLS speaks TLS from the first byte (port 993).
	IMAPImplicitTLS IMAPTLS = iota
	// IMAPStartTLS connects in the clear and upgrades with STARTTLS
	// before anything else; a server without STARTTLS is an error.
	IMAPStartTLS
	// IMAPPlaintext sends the password in the clear: only for a back end
	// on loopback.
	IMAPPlaintext
)

// DefaultIMAPTimeout bounds one IMAP check when IMAPOptions.Timeout is zero.
const DefaultIMAPTimeout = 10 * time.Second

// IMAPOptions configure an IMAPVerifier.
type IMAPOptions struct {
	// Address is the host:port of the back-end IMAP server. Required.
	Address string
	// TLS is how the connection is secured.
	TLS IMAPTLS
	// TLSConfig is used for IMAPImplicitTLS and IMAPStartTLS; nil means
	// the system roots with the host of Address as the server name.
	TLSConfig *tls.Config
	// Resolver, if not nil, supplies the user's addresses by login.
	Resolver directory.Resolver
	// Domain makes the address login@Domain of a login without '@' that
	// the Resolver does not know (or when there is none); a login with '@'
	// is its own address. Without Domain such a login has no address.
	Domain string
	// Timeout bounds one check (connect, login, logout). Zero means
	// DefaultIMAPTimeout.
	Timeout time.Duration
	// Dial connects to Address; nil means a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// IMAPVerifier checks passwords by logging in to a back-end IMAP server
// (Dovecot, say) and logging out again. It is a directory.Authenticator
// and safe for concurrent use; each check uses a connection of its own.
type IMAPVerifier struct {
	o IMAPOptions
}

var _ directory.Authenticator = (*IMAPVerifier)(nil)

// NewIMAPVerifier returns an IMAPVerifier.
func NewIMAPVerifier(opts IMAPOptions) (*IMAPVerifier, error) {
	host, _, err := net.SplitHostPort(opts.Address)
	if err != nil {
		return nil, fmt.Errorf("authn: imap: address %q: %w", opts.Address, err)
	}
	switch opts.TLS {
	case IMAPImplicitTLS, IMAPStartTLS, IMAPPlaintext:
	default:
		return nil, fmt.Errorf("authn: imap: unknown TLS mode %d", opts.TLS)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("authn: imap: negative timeout %v", opts.Timeout)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultIMAPTimeout
	}
	if opts.TLSConfig == nil {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		opts.TLSConfig = opts.TLSConfig.Clone()
	}
	if opts.TLSConfig.ServerName == "" {
		opts.TLSConfig.ServerName = host
	}
	if opts.Dial == nil {
		var d net.Dialer
		opts.Dial = d.DialContext
	}
	return &IMAPVerifier{o: opts}, nil
}

// Authenticate logs in to the IMAP server as login. A refused login is
// directory.ErrInvalidCredentials; a server that cannot be reached or
// answers anything else is directory.ErrUnavailable.
func (v *IMAPVerifier) Authenticate(ctx context.Context, login, password string) (*directory.User, error) {
	ctx, cancel := context.WithTimeout(ctx, v.o.Timeout)
	defer cancel()
	if err := v.login(ctx, login, password); err != nil {
		return nil, err
	}
	return v.user(ctx, login)
}

// login connects, logs in and out.
func (v *IMAPVerifier) login(ctx context.Context, login, password string) error {
	conn, err := v.o.Dial(ctx, "tcp", v.o.Address)
	if err != nil {
		return fmt.Errorf("authn: imap: connect %s: %w: %w", v.o.Address, directory.ErrUnavailable, err)
	}
	// The deadline and the context bound every read and write.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	opts := &imapclient.Options{TLSConfig: v.o.TLSConfig}
	var c *imapclient.Client
	switch v.o.TLS {
	case IMAPImplicitTLS:
		tc := tls.Client(conn, v.o.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return v.unavailable(ctx, "TLS handshake", err)
		}
		c = imapclient.New(tc, opts)
	case IMAPStartTLS:
		c, err = imapclient.NewStartTLS(conn, opts)
		if err != nil {
			return v.unavailable(ctx, "STARTTLS", err)
		}
	default:
		c = imapclient.New(conn, opts)
	}
	defer c.Close()
	if err := c.WaitGreeting(); err != nil {
		return v.unavailable(ctx, "greeting", err)
	}
	if err := c.Login(login, password).Wait(); err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo && loginRefused(ie) {
			return fmt.Errorf("authn: imap: login refused (%s): %w", ie.Code, directory.ErrInvalidCredentials)
		}
		return v.unavailable(ctx, "login", err)
	}
	// The password is right; a failed logout does not change that.
	_ = c.Logout().Wait()
	return nil
}

// loginRefused tells a wrong password (or an account the store refuses)
// from a server that cannot check it (RFC 5530 codes): UNAVAILABLE,
// SERVERBUG, LIMIT, PRIVACYREQUIRED (a plaintext connection to a server
// that wants TLS) and the like are the server's or the setup's trouble.
func loginRefused(e *imap.Error) bool {
	switch e.Code {
	case "", imap.ResponseCodeAuthenticationFailed, imap.ResponseCodeAuthorizationFailed,
		imap.ResponseCodeExpired, imap.ResponseCodeContactAdmin, imap.ResponseCodeAlert:
		return true
	}
	return false
}

// unavailable wraps a failure to talk to the server.
func (v *IMAPVerifier) unavailable(ctx context.Context, op string, err error) error {
	if ce := ctx.Err(); ce != nil {
		err = fmt.Errorf("%w (%w)", err, ce)
	}
	return fmt.Errorf("authn: imap: %s %s: %w: %w", op, v.o.Address, directory.ErrUnavailable, err)
}

// user returns the directory's entry for login, or one made from the
// Domain rule when there is none.
func (v *IMAPVerifier) user(ctx context.Context, login string) (*directory.User, error) {
	if v.o.Resolver != nil {
		u, err := v.o.Resolver.LookupUser(ctx, login)
		switch {
		case err == nil && u != nil:
			return u, nil
		case err == nil, errors.Is(err, directory.ErrNotFound):
		default:
			return nil, fmt.Errorf("authn: imap: look up %q: %w", login, errors.Join(directory.ErrUnavailable, err))
		}
	}
	u := &directory.User{Login: login}
	switch {
	case strings.Contains(login, "@"):
		u.Addresses = []string{login}
	case v.o.Domain != "":
		u.Addresses = []string{login + "@" + v.o.Domain}
	}
	return u, nil
}
