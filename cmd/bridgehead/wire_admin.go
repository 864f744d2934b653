package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"bridgehead.dev/bridgehead/gateway/admin"
	"bridgehead.dev/bridgehead/gateway/queue"
)

// adminRunner runs the admin API beside the gateway.
type adminRunner struct {
	addr      string
	queueDir  string
	tokenFile string
	certFile  string
	keyFile   string
	// srv is set while the API serves, for reload to give it a new token.
	srv atomic.Pointer[admin.Server]
}

// newAdminRunner takes the admin API's settings from the config.
func newAdminRunner(cfg *Config) *adminRunner {
	return &adminRunner{addr: cfg.Admin.Address, queueDir: filepath.Join(cfg.StateDir, "queue"),
		tokenFile: cfg.Admin.TokenFile, certFile: cfg.Admin.CertFile, keyFile: cfg.Admin.KeyFile}
}

// tlsConfig returns the admin API's TLS: admin.cert_file/key_file, else
// the listeners' certificate; nil on loopback without admin.cert_file.
func (a *adminRunner) tlsConfig(s *server) (*tls.Config, error) {
	if a.certFile != "" {
		cert, err := tls.LoadX509KeyPair(a.certFile, a.keyFile)
		if err != nil {
			return nil, fmt.Errorf("admin.cert_file: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	}
	if err := admin.CheckAddress(a.addr); err == nil {
		return nil, nil
	}
	if s.rl.certs.cert.Load() == nil {
		return nil, errors.New("admin: no certificate for TLS off loopback")
	}
	return s.rl.certs.config(), nil
}

// start serves the admin API for s until the returned stop is called
// (at the end of run, so that probes answer while the process drains). It
// reports ready once the gateway's listeners are up and not ready as soon
// as ctx is done, when shutdown begins. Off loopback it serves HTTPS and
// requires the bearer token of admin.token_file (also on loopback when
// one is configured). An address that cannot be bound is logged and the
// gateway runs without the admin API, since mail submission must not
// depend on it.
func (a *adminRunner) start(ctx context.Context, s *server) (stop func(), err error) {
	token := ""
	if a.tokenFile != "" {
		if token, err = readToken(a.tokenFile); err != nil {
			return nil, fmt.Errorf("admin.token_file: %w", err)
		}
	}
	tlsCfg, err := a.tlsConfig(s)
	if err != nil {
		return nil, err
	}
	if err := admin.CheckAddress(a.addr); err != nil && (token == "" || tlsCfg == nil) {
		return nil, fmt.Errorf("admin.address: %w: admin.token_file and a certificate are required", err)
	}
	srv, err := admin.New(admin.Options{
		Queue: s.queue, QueueDir: a.queueDir, Listeners: s.gw, Logger: s.log,
		Token: token, TLSConfig: tlsCfg, Reload: s.reload,
		RouteOf: func(env *queue.Envelope, r *queue.Recipient) string { return routeOf(s.rl.current(), env, r) },
		History: s.deliver.history.get,
	})
	if err != nil {
		return nil, err
	}
	a.srv.Store(srv)
	s.obs.serveMetrics(srv)
	ln, err := admin.Listen(ctx, a.addr)
	if err != nil {
		s.log.Error("admin API not started", slog.String("address", a.addr), slog.Any("error", err))
		return func() {}, nil
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(actx, ln); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("admin API stopped", slog.Any("error", err))
		}
	}()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-s.gw.Ready():
			srv.SetReady(true)
		case <-ctx.Done():
		case <-actx.Done():
			return
		}
		select {
		case <-ctx.Done():
			srv.Drain()
		case <-actx.Done():
		}
	}()
	return func() {
		srv.Drain()
		cancel()
		<-watched
		<-served
	}, nil
}

// reloaded gives the running API the token of the reloaded config; a
// changed address or certificate file waits for a restart.
func (a *adminRunner) reloaded(cfg *Config, log *slog.Logger) {
	srv := a.srv.Load()
	if srv == nil || cfg.Admin.TokenFile == "" {
		return
	}
	tok, err := readToken(cfg.Admin.TokenFile)
	if err != nil {
		log.Warn("reload: admin token kept", slog.Any("error", err))
		return
	}
	srv.SetToken(tok)
}

// routeOf names the route recipient r of env takes under cfg, as
// delivery picks it: the directory's back end by name when configured,
// else the first target of the first route matching the sender and
// recipient domains; "" when none does.
func routeOf(cfg *Config, env *queue.Envelope, r *queue.Recipient) string {
	if r.Backend != "" {
		if _, ok := cfg.Backends[r.Backend]; ok {
			return r.Backend
		}
	}
	domain := func(addr string) string {
		_, d, _ := strings.Cut(strings.ToLower(addr), "@")
		return strings.TrimSuffix(d, ".")
	}
	sd, rd := domain(env.From), domain(r.Address)
	for _, rt := range cfg.Routes {
		if len(rt.Senders) > 0 && (sd == "" || !slices.Contains(lowerAll(rt.Senders), sd)) {
			continue
		}
		for _, d := range lowerAll(rt.Domains) {
			if (d == "*" || d == rd) && len(rt.To) > 0 {
				return rt.To[0]
			}
		}
	}
	return ""
}
