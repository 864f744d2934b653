package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
)

// newAuthenticator builds SMTP AUTH from cfg.Auth: each password method
// (directory, imap) behind its own cache, chained in auth.methods order;
// a listener with auth_methods gets a chain of its own; guessing is
// throttled as auth.throttle says; auth.oidc, when set, enables
// OAUTHBEARER and XOAUTH2 (the provider is discovered at the first token,
// so that the gateway starts while it is down).
func newAuthenticator(ctx context.Context, cfg *Config, dir directory.Directory, log *slog.Logger) (*authn.Authenticator, error) {
	checks := map[string]directory.Authenticator{}
	method := func(name string) (authn.Method, error) {
		if c, ok := checks[name]; ok {
			return authn.Method{Name: name, Check: c}, nil
		}
		var inner directory.Authenticator
		switch name {
		case AuthDirectory:
			inner = dir
		case AuthIMAP:
			v, err := newIMAPVerifier(cfg, dir)
			if err != nil {
				return authn.Method{}, err
			}
			inner = v
		default:
			return authn.Method{}, fmt.Errorf("unknown auth method %q", name)
		}
		c, err := authn.NewCache(inner, authn.CacheOptions{TTL: cfg.Auth.CacheTTL.D()})
		if err != nil {
			return authn.Method{}, err
		}
		checks[name] = c
		return authn.Method{Name: name, Check: c}, nil
	}
	chain := func(names []string) (*authn.Chain, error) {
		var ms []authn.Method
		for _, n := range names {
			m, err := method(n)
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
		}
		return authn.NewChain(ms...)
	}

	def, err := chain(cfg.Auth.Methods)
	if err != nil {
		return nil, err
	}
	opts := authn.Options{Logger: log}
	for _, l := range cfg.Listeners {
		if len(l.AuthMethods) == 0 || slices.Equal(l.AuthMethods, cfg.Auth.Methods) {
			continue
		}
		c, err := chain(l.AuthMethods)
		if err != nil {
			return nil, fmt.Errorf("listener %q: %w", l.Name, err)
		}
		if opts.Listeners == nil {
			opts.Listeners = map[string]directory.Authenticator{}
		}
		opts.Listeners[l.Name] = c
	}
	if opts.Throttle, err = authn.NewThrottle(cfg.Auth.Throttle.options()); err != nil {
		return nil, err
	}
	if o := cfg.Auth.OIDC; o.Issuer != "" {
		if opts.Tokens, err = newOIDCVerifier(ctx, o, dir); err != nil {
			return nil, err
		}
	}
	log.Info("auth configured",
		slog.String("methods", strings.Join(cfg.Auth.Methods, ",")),
		slog.Int("listener_overrides", len(opts.Listeners)),
		slog.String("oidc_issuer", cfg.Auth.OIDC.Issuer))
	return authn.New(def, opts)
}

// newIMAPVerifier builds the imap method from auth.imap: addresses from the
// directory, else login@ the first accepted domain.
func newIMAPVerifier(cfg *Config, dir directory.Resolver) (*authn.IMAPVerifier, error) {
	ic := cfg.Auth.IMAP
	opts := authn.IMAPOptions{Address: ic.Address, Resolver: dir}
	switch ic.TLS {
	case "", "implicit":
		opts.TLS = authn.IMAPImplicitTLS
	case "starttls":
		opts.TLS = authn.IMAPStartTLS
	default:
		return nil, fmt.Errorf("auth.imap.tls %q: want implicit or starttls", ic.TLS)
	}
	if len(cfg.Domains) > 0 {
		opts.Domain = cfg.Domains[0]
	}
	if ic.CAFile != "" {
		pool, err := loadCAFile(ic.CAFile)
		if err != nil {
			return nil, fmt.Errorf("auth.imap.ca_file: %w", err)
		}
		opts.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	v, err := authn.NewIMAPVerifier(opts)
	if err != nil {
		return nil, fmt.Errorf("auth.imap: %w", err)
	}
	return v, nil
}

// newOIDCVerifier builds the token check from auth.oidc.
func newOIDCVerifier(ctx context.Context, o OIDCConfig, dir directory.Resolver) (*authn.OIDCVerifier, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	if o.CAFile != "" {
		pool, err := loadCAFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("auth.oidc.ca_file: %w", err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		client.Transport = tr
	}
	v, err := authn.NewOIDCVerifier(ctx, authn.OIDCOptions{
		Issuer: o.Issuer, Audience: o.Audience, UsernameClaim: o.UsernameClaim,
		Resolver: dir, HTTPClient: client, Lazy: true,
	})
	if err != nil {
		return nil, fmt.Errorf("auth.oidc: %w", err)
	}
	return v, nil
}

// loadCAFile reads a PEM bundle into a pool.
func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates", path)
	}
	return pool, nil
}

// options maps auth.throttle onto authn's options.
func (t ThrottleConfig) options() authn.ThrottleOptions {
	return authn.ThrottleOptions{
		Window: t.Window.D(), BaseDelay: t.BaseDelay.D(), MaxDelay: t.MaxDelay.D(),
		CutOff: t.CutOff, CoolDown: t.CoolDown.D(), LoginSlowAfter: t.LoginSlowAfter,
	}
}
