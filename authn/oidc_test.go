package authn_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/go-jose/go-jose/v4"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/internal/fakeclock"
	"bridgehead.dev/bridgehead/internal/logtest"
)

// provider is an OpenID Connect provider on loopback HTTPS: a discovery
// document and a JWKS that the test can change (key rotation).
type provider struct {
	srv  *httptest.Server
	mu   sync.Mutex
	keys []jose.JSONWebKey // published
	jwks int               // JWKS fetches
	down atomic.Bool       // discovery answers 503
	hits atomic.Int64      // discovery requests
}

func newProvider(t *testing.T) *provider {
	t.Helper()
	p := &provider{}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		if p.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                p.srv.URL,
			"jwks_uri":                              p.srv.URL + "/keys",
			"authorization_endpoint":                p.srv.URL + "/auth",
			"token_endpoint":                        p.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), p.keys...)}
		p.jwks++
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	})
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// signer is a key the test signs tokens with.
type signer struct {
	kid string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

func rsaSigner(t *testing.T, kid string) signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid, jose.RS256, k}
}

func ecSigner(t *testing.T, kid string) signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid, jose.ES256, k}
}

// publish replaces the provider's keys.
func (p *provider) publish(ss ...signer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = nil
	for _, s := range ss {
		p.keys = append(p.keys, jose.JSONWebKey{Key: s.key.Public(), KeyID: s.kid, Algorithm: string(s.alg), Use: "sig"})
	}
}

// sign makes a compact JWT of claims.
func (s signer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", s.kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := js.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tokenUsers knows alice and a disabled bob by email.
type tokenUsers struct{}

func (tokenUsers) LookupUser(_ context.Context, login string) (*directory.User, error) {
	switch login {
	case "alice@example.test":
		return &directory.User{Login: "alice", Addresses: []string{"alice@example.test"}}, nil
	case "bob@example.test":
		return nil, directory.ErrDisabled
	}
	return nil, directory.ErrNotFound
}

func (tokenUsers) LookupRecipient(context.Context, string) (*directory.Recipient, error) {
	return nil, directory.ErrNotFound
}

type oidcRig struct {
	p        *provider
	v        *authn.OIDCVerifier
	rsa, ec  signer
	claims   func(mod map[string]any) map[string]any
	issuer   string
	audience string
}

func newOIDCRig(t *testing.T) *oidcRig {
	t.Helper()
	r := &oidcRig{p: newProvider(t), rsa: rsaSigner(t, "rsa1"), ec: ecSigner(t, "ec1"), audience: "bridgehead"}
	r.issuer = r.p.srv.URL
	r.p.publish(r.rsa, r.ec)
	v, err := authn.NewOIDCVerifier(context.Background(), authn.OIDCOptions{
		Issuer: r.issuer, Audience: r.audience, UsernameClaim: "email",
		Resolver: tokenUsers{}, HTTPClient: r.p.srv.Client(),
	})
	if err != nil {
		t.Fatalf("NewOIDCVerifier: %v", err)
	}
	r.v = v
	r.claims = func(mod map[string]any) map[string]any {
		now := time.Now()
		c := map[string]any{
			"iss": r.issuer, "aud": r.audience, "sub": "1234", "email": "alice@example.test",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		for k, v := range mod {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	return r
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestOIDCVerifier(t *testing.T) {
	t.Parallel()
	r := newOIDCRig(t)
	ctx := context.Background()
	stranger := rsaSigner(t, "rsa1") // same kid, unpublished key
	ghost := rsaSigner(t, "ghost")
	now := time.Now()
	none := b64url([]byte(`{"alg":"none","typ":"JWT","kid":"rsa1"}`)) + "." + b64url(must(json.Marshal(r.claims(nil)))) + "."

	for _, tt := range []struct {
		name, token, reason string
	}{
		{"expired", r.rsa.sign(t, r.claims(map[string]any{"exp": now.Add(-2 * time.Minute).Unix()})), "expired"},
		{"not yet valid", r.rsa.sign(t, r.claims(map[string]any{"nbf": now.Add(time.Hour).Unix()})), "not yet valid"},
		{"wrong issuer", r.rsa.sign(t, r.claims(map[string]any{"iss": "https://evil.test"})), "wrong issuer"},
		{"wrong audience", r.rsa.sign(t, r.claims(map[string]any{"aud": "other-app"})), "wrong audience"},
		{"bad signature", stranger.sign(t, r.claims(nil)), "bad signature"},
		{"alg none", none, ""},
		{"unknown key id", ghost.sign(t, r.claims(nil)), ""},
		{"unknown user", r.rsa.sign(t, r.claims(map[string]any{"email": "mallory@example.test"})), "unknown user"},
		{"disabled user", r.rsa.sign(t, r.claims(map[string]any{"email": "bob@example.test"})), "account disabled"},
		{"no username claim", r.rsa.sign(t, r.claims(map[string]any{"email": nil})), "no username claim"},
		{"garbage", "not.a.jwt", ""},
	} {
		_, err := r.v.VerifyToken(ctx, tt.token)
		var te *authn.TokenError
		if !errors.As(err, &te) || !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Errorf("%s: err %v, want a TokenError of invalid credentials", tt.name, err)
			continue
		}
		if tt.reason != "" && !strings.HasPrefix(te.Reason, tt.reason) {
			t.Errorf("%s: reason %q, want %q", tt.name, te.Reason, tt.reason)
		}
		if strings.Contains(err.Error(), tt.token) {
			t.Errorf("%s: the error shows the token", tt.name)
		}
	}

	// Accepted: RSA, ECDSA, and within the clock skew.
	for name, tok := range map[string]string{
		"RS256":       r.rsa.sign(t, r.claims(nil)),
		"ES256":       r.ec.sign(t, r.claims(nil)),
		"skew":        r.rsa.sign(t, r.claims(map[string]any{"exp": now.Add(-20 * time.Second).Unix()})),
		"aud in list": r.ec.sign(t, r.claims(map[string]any{"aud": []string{"x", "bridgehead"}})),
	} {
		u, err := r.v.VerifyToken(ctx, tok)
		if err != nil || u.Login != "alice" {
			t.Errorf("%s: %v %v", name, u, err)
		}
	}

	// Key rotation: a new key replaces the old one at the provider.
	rotated := ecSigner(t, "ec2")
	r.p.publish(rotated)
	if _, err := r.v.VerifyToken(ctx, rotated.sign(t, r.claims(nil))); err != nil {
		t.Errorf("token signed with the rotated key: %v", err)
	}
	// go-oidc signals the fetch's waiters a moment before it stores the
	// new key set, so the retired key may still verify for that moment;
	// after it, never again.
	retired := r.rsa.sign(t, r.claims(nil))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := r.v.VerifyToken(ctx, retired)
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("token signed with a retired key still accepted 5 s after the rotation was fetched")
		}
	}
	for i := 0; i < 3; i++ {
		if _, err := r.v.VerifyToken(ctx, retired); err == nil {
			t.Fatal("token signed with a retired key accepted again after it was refused")
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestNewOIDCVerifierRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, o := range []authn.OIDCOptions{
		{Issuer: "http://idp.test", Audience: "a", Resolver: tokenUsers{}},
		{Issuer: "https://idp.test", Resolver: tokenUsers{}},
		{Issuer: "https://idp.test", Audience: "a"},
		{Issuer: "https://idp.test", Audience: "a", Resolver: tokenUsers{}, ClockSkew: -1},
	} {
		if _, err := authn.NewOIDCVerifier(ctx, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	// Discovery that fails (a provider whose certificate is not trusted).
	p := newProvider(t)
	if _, err := authn.NewOIDCVerifier(ctx, authn.OIDCOptions{Issuer: p.srv.URL, Audience: "a", Resolver: tokenUsers{}}); err == nil {
		t.Error("untrusted provider accepted")
	}
}

// xoauth2Client is XOAUTH2 for go-smtp's client: on an error challenge it
// sends the empty response the mechanism expects.
type xoauth2Client struct{ user, token string }

func (c xoauth2Client) Start() (string, []byte, error) {
	return authn.MechXOAuth2, []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}
func (c xoauth2Client) Next([]byte) ([]byte, error) { return []byte{}, nil }

// oauthBearerClient is OAUTHBEARER answering an error challenge with %x01,
// as RFC 7628 says (go-sasl's client gives up instead).
type oauthBearerClient struct{ user, token string }

func (c oauthBearerClient) Start() (string, []byte, error) {
	authz := ""
	if c.user != "" {
		authz = "a=" + c.user
	}
	return sasl.OAuthBearer, []byte("n," + authz + ",\x01host=localhost\x01port=25\x01auth=Bearer " + c.token + "\x01\x01"), nil
}
func (c oauthBearerClient) Next([]byte) ([]byte, error) { return []byte{1}, nil }

// TestBearerSMTP drives XOAUTH2 and OAUTHBEARER through a go-smtp server
// with go-smtp's client and Python's smtplib.
func TestBearerSMTP(t *testing.T) {
	t.Parallel()
	r := newOIDCRig(t)
	log := &logtest.Buffer{}
	addr, stop, err := startServer(authn.Options{
		NoFailureDelay: true,
		Logger:         slog.New(slog.NewTextHandler(log, nil)),
		Tokens:         r.v,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	good := r.ec.sign(t, r.claims(nil))
	expired := r.rsa.sign(t, r.claims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}))

	for _, tt := range []struct {
		name   string
		client sasl.Client
		code   int
	}{
		{"XOAUTH2 ok", xoauth2Client{"alice@example.test", good}, 0},
		{"XOAUTH2 expired", xoauth2Client{"alice@example.test", expired}, 535},
		{"XOAUTH2 other user named", xoauth2Client{"carol@example.test", good}, 535},
		{"OAUTHBEARER ok", oauthBearerClient{"", good}, 0},
		{"OAUTHBEARER ok with authzid", oauthBearerClient{"alice", good}, 0},
		{"OAUTHBEARER expired", oauthBearerClient{"", expired}, 535},
		{"OAUTHBEARER bad token", oauthBearerClient{"", "x.y.z"}, 535},
	} {
		c, err := smtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "OAUTHBEARER") || !strings.Contains(mechs, "XOAUTH2") {
			t.Errorf("AUTH offered: %q", mechs)
		}
		err = c.Auth(tt.client)
		var se *smtp.SMTPError
		switch {
		case tt.code == 0 && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.code != 0 && (!errors.As(err, &se) || se.Code != tt.code || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 8})):
			t.Errorf("%s: %v, want %d 5.7.8", tt.name, err, tt.code)
		}
		c.Close()
	}
	got := log.String()
	for _, want := range []string{`reason="token refused: expired"`, "mechanism=XOAUTH2", "mechanism=OAUTHBEARER", `msg="auth ok"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, good) || strings.Contains(got, expired) {
		t.Error("a token was logged")
	}

	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 not installed")
		}
		t.Skip("python3 not installed")
	}
	host, port, _ := strings.Cut(addr, ":")
	const script = `
import smtplib, sys
host, port, mech, user, token = sys.argv[1:6]
s = smtplib.SMTP(host, int(port))
s.ehlo("client.test")
def xoauth2(challenge=None):
    if challenge is not None:
        return ""
    return "user=%s\x01auth=Bearer %s\x01\x01" % (user, token)
def oauthbearer(challenge=None):
    if challenge is not None:
        return "\x01"
    return "n,a=%s,\x01auth=Bearer %s\x01\x01" % (user, token)
try:
    code, _ = s.auth(mech, xoauth2 if mech == "XOAUTH2" else oauthbearer)
except smtplib.SMTPAuthenticationError as e:
    code = e.smtp_code
print(code)
s.quit()
`
	for _, tt := range []struct{ mech, token, want string }{
		{"XOAUTH2", good, "235"},
		{"XOAUTH2", expired, "535"},
		{"OAUTHBEARER", good, "235"},
		{"OAUTHBEARER", expired, "535"},
	} {
		out, err := exec.Command(python, "-c", script, host, port, tt.mech, "alice@example.test", tt.token).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tt.want {
			t.Errorf("smtplib %s: %v\n%s, want %s", tt.mech, err, out, tt.want)
		}
	}
}

// TestOIDCLazyDiscovery: a provider down at start makes tokens temporary
// failures, discovery is retried at most every DiscoveryRetry, and tokens
// work once the provider is back.
func TestOIDCLazyDiscovery(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	p.down.Store(true)
	key := rsaSigner(t, "k1")
	p.publish(key)
	c := fakeclock.New(time.Now())
	v, err := authn.NewOIDCVerifier(context.Background(), authn.OIDCOptions{
		Issuer: p.srv.URL, Audience: "bridgehead", Resolver: tokenUsers{},
		HTTPClient: p.srv.Client(), Lazy: true, Now: c.Now,
	})
	if err != nil {
		t.Fatalf("lazy verifier with the provider down: %v", err)
	}
	tok := key.sign(t, map[string]any{"iss": p.srv.URL, "aud": "bridgehead", "email": "alice@example.test", "exp": time.Now().Add(time.Hour).Unix()})
	ctx := context.Background()
	for range 2 {
		if _, err := v.VerifyToken(ctx, tok); !errors.Is(err, directory.ErrUnavailable) {
			t.Fatalf("provider down: %v, want unavailable", err)
		}
	}
	if n := p.hits.Load(); n != 1 {
		t.Errorf("discovery tried %d times within the retry pause, want 1", n)
	}
	p.down.Store(false)
	if _, err := v.VerifyToken(ctx, tok); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("within the retry pause: %v, want unavailable", err)
	}
	c.Advance(authn.DiscoveryRetry)
	if u, err := v.VerifyToken(ctx, tok); err != nil || u.Login != "alice" {
		t.Errorf("provider back: %v %v", u, err)
	}
	if _, err := authn.NewOIDCVerifier(ctx, authn.OIDCOptions{Issuer: p.srv.URL, Audience: "bridgehead", Resolver: tokenUsers{}, HTTPClient: p.srv.Client()}); err != nil {
		t.Errorf("eager verifier with the provider up: %v", err)
	}
}
