package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"bridgehead.dev/bridgehead/directory"
)

// DefaultClockSkew is how far past its expiry a token is still taken when
// OIDCOptions.ClockSkew is zero.
const DefaultClockSkew = time.Minute

// OIDCOptions configure an OIDCVerifier.
type OIDCOptions struct {
	// Issuer is the identity provider's issuer URL (https). Required.
	Issuer string
	// Audience is the client id tokens must be issued for. Required.
	Audience string
	// UsernameClaim names the claim holding the user's login: "email"
	// (the default), "preferred_username", "upn" or another string claim.
	UsernameClaim string
	// Resolver looks the user up by that login. Required: a token's user
	// must exist in the directory, which supplies the send-as addresses.
	Resolver directory.Resolver
	// HTTPClient fetches the discovery document and the keys; nil means
	// http.DefaultClient. Give it the CA of the provider's HTTPS.
	HTTPClient *http.Client
	// ClockSkew is how far past its expiry a token is still taken (and
	// how far before its not-before time, beyond go-oidc's own 5 minutes).
	// Zero means DefaultClockSkew; negative is an error.
	ClockSkew time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Lazy defers discovery from NewOIDCVerifier to the first token, and
	// retries it (at most once every DiscoveryRetry) until it succeeds; a
	// token met while the provider cannot be reached is
	// directory.ErrUnavailable. The gateway then starts while the
	// provider is down.
	Lazy bool
}

// DiscoveryRetry is the shortest pause between two failed discoveries of
// a lazy OIDCVerifier.
const DiscoveryRetry = 30 * time.Second

// OIDCVerifier checks OAuth2 bearer tokens (JWTs) issued by an OpenID
// Connect provider: signature against the provider's published keys
// (fetched again when a token names an unknown key, so rotation is picked
// up), issuer, audience, expiry and not-before. It is safe for concurrent
// use. Verdicts are not cached; the keys are.
type OIDCVerifier struct {
	o        OIDCOptions
	client   *http.Client
	keyCtx   context.Context // for key fetches: no deadline, never cancelled
	claim    string
	resolver directory.Resolver

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	failedAt time.Time // last failed discovery
	lastErr  error
}

// TokenError is a token refused for a reason the operator may see (the
// token itself is never part of it).
type TokenError struct {
	// Reason is short: "expired", "not yet valid", "wrong issuer",
	// "wrong audience", "bad signature", "unknown key", "unsupported
	// algorithm", "malformed", "no username claim", "unknown user".
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *TokenError) Error() string {
	if e.Err != nil {
		return "token refused: " + e.Reason + ": " + e.Err.Error()
	}
	return "token refused: " + e.Reason
}

// Unwrap returns the underlying error.
func (e *TokenError) Unwrap() error { return e.Err }

// NewOIDCVerifier fetches the provider's discovery document under ctx
// (unless opts.Lazy) and returns a verifier. The keys are fetched later,
// when needed, with opts.HTTPClient and no deadline of ctx's.
func NewOIDCVerifier(ctx context.Context, opts OIDCOptions) (*OIDCVerifier, error) {
	switch {
	case !strings.HasPrefix(opts.Issuer, "https://"):
		return nil, fmt.Errorf("authn: oidc: issuer %q is not an https URL", opts.Issuer)
	case opts.Audience == "":
		return nil, errors.New("authn: oidc: no audience")
	case opts.Resolver == nil:
		return nil, errors.New("authn: oidc: no directory to look users up in")
	case opts.ClockSkew < 0:
		return nil, fmt.Errorf("authn: oidc: negative clock skew %v", opts.ClockSkew)
	}
	if opts.UsernameClaim == "" {
		opts.UsernameClaim = "email"
	}
	if opts.ClockSkew == 0 {
		opts.ClockSkew = DefaultClockSkew
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	client := opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	v := &OIDCVerifier{
		o: opts, client: client, claim: opts.UsernameClaim, resolver: opts.Resolver,
		keyCtx: oidc.ClientContext(context.WithoutCancel(ctx), client),
	}
	if opts.Lazy {
		return v, nil
	}
	if _, err := v.discover(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// discover returns the token verifier, fetching the discovery document
// first if that has not succeeded yet.
func (v *OIDCVerifier) discover(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if !v.failedAt.IsZero() && v.o.Now().Sub(v.failedAt) < DiscoveryRetry {
		return nil, v.lastErr
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, v.client), v.o.Issuer)
	if err != nil {
		v.failedAt = v.o.Now()
		v.lastErr = fmt.Errorf("authn: oidc: discovery at %s: %w", v.o.Issuer, err)
		return nil, v.lastErr
	}
	skew, now := v.o.ClockSkew, v.o.Now
	v.verifier = p.VerifierContext(v.keyCtx, &oidc.Config{
		ClientID: v.o.Audience,
		Now:      func() time.Time { return now().Add(-skew) },
	})
	return v.verifier, nil
}

// VerifyToken checks a bearer token and returns its user from the
// directory. A refused token is a *TokenError wrapping
// directory.ErrInvalidCredentials; a directory that cannot answer is
// directory.ErrUnavailable.
func (v *OIDCVerifier) VerifyToken(ctx context.Context, token string) (*directory.User, error) {
	verifier, err := v.discover(ctx)
	if err != nil {
		return nil, errors.Join(directory.ErrUnavailable, err)
	}
	tok, err := verifier.Verify(ctx, token)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("authn: oidc: %w: %w", directory.ErrUnavailable, err)
		}
		return nil, &TokenError{Reason: tokenReason(err), Err: errors.Join(directory.ErrInvalidCredentials, err)}
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, &TokenError{Reason: "malformed", Err: errors.Join(directory.ErrInvalidCredentials, err)}
	}
	login, _ := claims[v.claim].(string)
	if login == "" {
		return nil, &TokenError{Reason: "no username claim " + v.claim, Err: directory.ErrInvalidCredentials}
	}
	if ev, ok := claims["email_verified"].(bool); ok && !ev && v.claim == "email" {
		return nil, &TokenError{Reason: "email not verified", Err: directory.ErrInvalidCredentials}
	}
	u, err := v.resolver.LookupUser(ctx, login)
	switch {
	case err == nil && u != nil:
		return u, nil
	case err == nil, errors.Is(err, directory.ErrNotFound):
		return nil, &TokenError{Reason: "unknown user " + logSafe(login), Err: directory.ErrInvalidCredentials}
	case errors.Is(err, directory.ErrDisabled):
		return nil, &TokenError{Reason: "account disabled", Err: errors.Join(directory.ErrInvalidCredentials, err)}
	}
	return nil, fmt.Errorf("authn: oidc: look up %q: %w", logSafe(login), errors.Join(directory.ErrUnavailable, err))
}

// tokenReason names why go-oidc refused a token.
func tokenReason(err error) string {
	var exp *oidc.TokenExpiredError
	if errors.As(err, &exp) {
		return "expired"
	}
	msg := err.Error()
	for _, r := range []struct{ substr, reason string }{
		{"nbf", "not yet valid"},
		{"different provider", "wrong issuer"},
		{"audience", "wrong audience"},
		{"unsupported algorithm", "unsupported algorithm"},
		{"failed to verify signature", "bad signature"},
		{"malformed", "malformed"},
	} {
		if strings.Contains(msg, r.substr) {
			return r.reason
		}
	}
	return "invalid token"
}
