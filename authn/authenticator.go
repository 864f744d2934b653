package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-sasl"

	"bridgehead.dev/bridgehead/directory"
)

// ConnInfo describes the connection an attempt comes from, for the audit
// trail.
type ConnInfo struct {
	// RemoteIP is the client's address (after the PROXY protocol, if any).
	RemoteIP netip.Addr
	// Listener is the name of the listener ("submission").
	Listener string
	// TLS reports whether the connection is encrypted.
	TLS bool
}

// Authenticator makes SASL servers that check passwords against a
// directory. It is safe for concurrent use; each server it makes serves one
// AUTH exchange.
type Authenticator struct {
	dir       directory.Authenticator
	tokens    TokenVerifier
	listeners map[string]directory.Authenticator
	throttle  *Throttle
	delay     time.Duration
	sleep     func(ctx context.Context, d time.Duration) error
	log       *slog.Logger
}

// New returns an Authenticator checking passwords with dir.
func New(dir directory.Authenticator, opts Options) (*Authenticator, error) {
	if dir == nil {
		return nil, errors.New("authn: no directory")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	a := &Authenticator{
		dir:       dir,
		listeners: maps.Clone(opts.Listeners),
		throttle:  opts.Throttle,
		tokens:    opts.Tokens,
		delay:     opts.failureDelay(),
		sleep:     opts.Sleep,
		log:       opts.Logger,
	}
	if a.sleep == nil {
		a.sleep = sleepContext
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	return a, nil
}

// Mechanisms returns the SASL mechanisms offered, in order of preference.
func (a *Authenticator) Mechanisms() []string {
	if a.tokens != nil {
		return []string{sasl.Plain, sasl.Login, sasl.OAuthBearer, MechXOAuth2}
	}
	return []string{sasl.Plain, sasl.Login}
}

// NewServer returns a SASL server for one AUTH exchange with the mechanism
// (compared without regard to case). The server checks the password with
// the listener's password check (Options.Listeners) or the directory under
// ctx and, on success, calls onSuccess (if not nil) with the user before it
// reports the exchange done. Every error it or NewServer returns is an
// *Error; an unknown mechanism is KindUnsupported, and a client cut off by
// the throttle is KindThrottled, before or during the exchange.
func (a *Authenticator) NewServer(ctx context.Context, mech string, info ConnInfo, onSuccess func(*directory.User)) (sasl.Server, error) {
	t := &attempt{a: a, ctx: ctx, info: info, mech: strings.ToUpper(mech), onSuccess: onSuccess}
	if e := t.cutOff(); e != nil {
		t.fail(e)
		return nil, e
	}
	switch t.mech {
	case sasl.Plain:
		return &guard{t: t, inner: sasl.NewPlainServer(t.checkPlain), limit: 3*MaxCredentialLength + 2}, nil
	case sasl.Login:
		return &guard{t: t, inner: NewLoginServer(t.checkLogin), limit: MaxCredentialLength}, nil
	case sasl.OAuthBearer, MechXOAuth2:
		if a.tokens != nil {
			return &guard{t: t, inner: newBearerServer(t.mech == MechXOAuth2, t.checkToken), limit: MaxTokenResponseLength}, nil
		}
	}
	e := &Error{Kind: KindUnsupported, Reason: "unsupported mechanism"}
	a.log.LogAttrs(ctx, slog.LevelInfo, "auth mechanism unsupported",
		slog.String("client_ip", ipString(info.RemoteIP)),
		slog.String("mechanism", logSafe(mech)),
		slog.String("listener", info.Listener),
		slog.Bool("tls", info.TLS),
	)
	return nil, e
}

// attempt is one AUTH exchange.
type attempt struct {
	a         *Authenticator
	ctx       context.Context
	info      ConnInfo
	mech      string
	onSuccess func(*directory.User)
	// login is the username the client gave, once known, for the log.
	login string
}

// checkPlain is go-sasl's PLAIN callback.
func (t *attempt) checkPlain(authzid, username, password string) error {
	if len(authzid) > MaxCredentialLength {
		return malformed("authorization identity longer than %d bytes", MaxCredentialLength)
	}
	if err := t.takeUsername(username); err != nil {
		return err
	}
	if authzid != "" && authzid != username {
		return &Error{Kind: KindInvalidCredentials, Reason: fmt.Sprintf("authorization identity %q differs from login", logSafe(authzid))}
	}
	return t.check(username, password)
}

// checkLogin is the LOGIN callback.
func (t *attempt) checkLogin(username, password string) error {
	if err := t.takeUsername(username); err != nil {
		return err
	}
	return t.check(username, password)
}

// takeUsername checks the username's form and remembers it for the log.
func (t *attempt) takeUsername(username string) error {
	switch {
	case len(username) > MaxCredentialLength:
		return malformed("username longer than %d bytes", MaxCredentialLength)
	case username == "":
		return malformed("empty username")
	}
	t.login = username
	if !utf8.ValidString(username) || strings.IndexFunc(username, unicode.IsControl) >= 0 {
		return malformed("username is not UTF-8 or holds control characters")
	}
	return nil
}

// check asks the directory. The username is already checked.
func (t *attempt) check(username, password string) error {
	if len(password) > MaxCredentialLength {
		return malformed("password longer than %d bytes", MaxCredentialLength)
	}
	if password == "" {
		return &Error{Kind: KindInvalidCredentials, Reason: "empty password"}
	}
	// A client cut off meanwhile (by its other connections) guesses no
	// further: nothing reaches the directory.
	if e := t.cutOff(); e != nil {
		return e
	}
	user, err := t.a.verifier(t.info.Listener).Authenticate(t.ctx, username, password)
	switch {
	case err == nil && user == nil:
		return &Error{Kind: KindUnavailable, Reason: "directory returned no user and no error"}
	case err == nil:
	case errors.Is(err, directory.ErrInvalidCredentials):
		return &Error{Kind: KindInvalidCredentials, Reason: "invalid credentials", Err: err}
	case errors.Is(err, directory.ErrDisabled):
		// Told to the client like a wrong password; the log says why.
		return &Error{Kind: KindInvalidCredentials, Reason: "account disabled", Err: err}
	case errors.Is(err, directory.ErrUnavailable):
		return &Error{Kind: KindUnavailable, Reason: "directory unavailable", Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindUnavailable, Reason: "attempt cancelled or timed out", Err: err}
	default:
		return &Error{Kind: KindUnavailable, Reason: "directory error", Err: err}
	}
	return t.succeed(username, user)
}

// succeed records a successful attempt and reports the user.
func (t *attempt) succeed(username string, user *directory.User) error {
	if t.a.throttle != nil {
		t.a.throttle.Success(username)
	}
	if t.onSuccess != nil {
		t.onSuccess(user)
	}
	t.a.log.LogAttrs(t.ctx, slog.LevelInfo, "auth ok",
		slog.String("client_ip", ipString(t.info.RemoteIP)),
		slog.String("login", logSafe(username)),
		slog.String("mechanism", t.mech),
		slog.String("listener", t.info.Listener),
		slog.Bool("tls", t.info.TLS),
		slog.String("user", user.Login),
	)
	return nil
}

// verifier returns the password check for a listener.
func (a *Authenticator) verifier(listener string) directory.Authenticator {
	if v, ok := a.listeners[listener]; ok {
		return v
	}
	return a.dir
}

// cutOff returns a KindThrottled error when the client is in a cool-down.
func (t *attempt) cutOff() *Error {
	if t.a.throttle == nil {
		return nil
	}
	if cut, until := t.a.throttle.CutOff(t.info.RemoteIP); cut {
		return &Error{Kind: KindThrottled, Reason: "client cut off until " + until.UTC().Format(time.RFC3339)}
	}
	return nil
}

// fail logs a failed attempt and waits the failure delay (or until the
// attempt's context is done). With a throttle, a wrong password counts
// toward the client's and the login's limits and may wait longer; the
// failure that reaches the client's cut-off turns e into KindThrottled.
func (t *attempt) fail(e *Error) {
	delay := t.a.delay
	cut := false
	if t.a.throttle != nil && e.Kind == KindInvalidCredentials {
		var d time.Duration
		d, cut = t.a.throttle.Failure(t.info.RemoteIP, t.login)
		delay = max(delay, d)
	}
	if e.Kind == KindThrottled {
		delay = 0
	}
	attrs := []slog.Attr{
		slog.String("client_ip", ipString(t.info.RemoteIP)),
		slog.String("login", logSafe(t.login)),
		slog.String("mechanism", t.mech),
		slog.String("listener", t.info.Listener),
		slog.Bool("tls", t.info.TLS),
		slog.String("reason", e.Reason),
		slog.String("kind", e.Kind.String()),
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("err", e.Err.Error()))
	}
	t.a.log.LogAttrs(t.ctx, slog.LevelWarn, "auth failed", attrs...)
	if cut {
		e.Kind = KindThrottled
		e.Reason += "; client cut off"
		t.a.log.LogAttrs(t.ctx, slog.LevelWarn, "auth client cut off",
			slog.String("client_ip", ipString(t.info.RemoteIP)),
			slog.String("client_block", ClientBlock(t.info.RemoteIP).String()),
			slog.String("login", logSafe(t.login)),
			slog.String("listener", t.info.Listener),
		)
	}
	if delay > 0 {
		// A done context ends the pause early; the answer stays the same.
		_ = t.a.sleep(t.ctx, delay)
	}
}

// guard wraps a mechanism's server: it refuses oversized responses, turns
// every error into an *Error, and logs and delays failures.
type guard struct {
	t        *attempt
	inner    sasl.Server
	limit    int
	finished bool
}

// Next implements sasl.Server.
func (g *guard) Next(response []byte) (challenge []byte, done bool, err error) {
	if g.finished {
		return nil, true, malformed("response after the exchange ended")
	}
	if len(response) > g.limit {
		g.finished = true
		e := malformed("%s response longer than %d bytes", g.t.mech, g.limit)
		g.t.fail(e)
		return nil, true, e
	}
	challenge, done, err = g.inner.Next(response)
	if err == nil {
		g.finished = done
		return challenge, done, nil
	}
	g.finished = true
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Kind: KindMalformed, Reason: fmt.Sprintf("%s response not understood", g.t.mech), Err: err}
	}
	g.t.fail(e)
	return nil, true, e
}

// ipString is the address as fail2ban wants it: IPv4-mapped addresses as
// IPv4, nothing for an unknown address.
func ipString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.Unmap().String()
}

// maxLogged bounds what of a client-chosen string goes into a log line.
const maxLogged = 256

// logSafe cuts a client-chosen string to maxLogged bytes. Quoting is the
// handler's job.
func logSafe(s string) string {
	if len(s) <= maxLogged {
		return s
	}
	return strings.ToValidUTF8(s[:maxLogged], "") + "..."
}

// checkToken is the OAUTHBEARER and XOAUTH2 callback: username is the
// authorization identity the client named ("" = the token's user).
func (t *attempt) checkToken(username, token string) error {
	if username != "" {
		if err := t.takeUsername(username); err != nil {
			return err
		}
	}
	if e := t.cutOff(); e != nil {
		return e
	}
	if token == "" {
		return &Error{Kind: KindInvalidCredentials, Reason: "empty token"}
	}
	user, err := t.a.tokens.VerifyToken(t.ctx, token)
	var te *TokenError
	switch {
	case err == nil && user == nil:
		return &Error{Kind: KindUnavailable, Reason: "token check returned no user and no error"}
	case err == nil:
	case errors.As(err, &te) || errors.Is(err, directory.ErrInvalidCredentials):
		reason := "token refused"
		if te != nil {
			reason += ": " + te.Reason
		}
		return &Error{Kind: KindInvalidCredentials, Reason: reason, Err: err}
	default:
		return &Error{Kind: KindUnavailable, Reason: "token check unavailable", Err: err}
	}
	if username != "" && !strings.EqualFold(username, user.Login) && !slices.ContainsFunc(user.Addresses, func(a string) bool { return strings.EqualFold(a, username) }) {
		return &Error{Kind: KindInvalidCredentials, Reason: fmt.Sprintf("authorization identity %q is not the token's user %q", logSafe(username), user.Login)}
	}
	if username == "" {
		username = user.Login
		t.login = user.Login
	}
	return t.succeed(username, user)
}
