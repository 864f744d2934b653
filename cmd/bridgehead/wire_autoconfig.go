package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"bridgehead.dev/bridgehead/autoconfig"
)

// autoconfigRunner serves client autoconfiguration beside the gateway; a
// nil *autoconfigRunner (autoconfig.address unset) does nothing.
type autoconfigRunner struct {
	addr    string
	handler http.Handler
	tls     *tls.Config // nil = plain HTTP
	log     *slog.Logger
}

// autoconfigDrain bounds how long stop waits for requests in progress.
const autoconfigDrain = 5 * time.Second

// newAutoconfigRunner builds the handler from the config; nil when
// autoconfig is off.
func newAutoconfigRunner(cfg *Config, tlsCfg *tls.Config, log *slog.Logger) (*autoconfigRunner, error) {
	if cfg.Autoconfig.Address == "" {
		return nil, nil
	}
	o := cfg.autoconfigOptions()
	o.Logger = log
	h, err := autoconfig.New(o)
	if err != nil {
		return nil, fmt.Errorf("autoconfig: %w", err)
	}
	a := &autoconfigRunner{addr: cfg.Autoconfig.Address, handler: h, log: log}
	if cfg.Autoconfig.TLS {
		if tlsCfg == nil {
			return nil, errors.New("autoconfig: tls needs tls.cert_file")
		}
		a.tls = tlsCfg.Clone()
		a.tls.NextProtos = []string{"http/1.1"}
	}
	return a, nil
}

// start listens and serves until the returned stop is called; stop waits
// (a bounded while) for requests in progress.
func (a *autoconfigRunner) start(ctx context.Context) (stop func(), err error) {
	if a == nil {
		return func() {}, nil
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", a.addr)
	if err != nil {
		return nil, fmt.Errorf("autoconfig: listen %s: %w", a.addr, err)
	}
	srv := &http.Server{
		Handler:           a.handler,
		TLSConfig:         a.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	scheme := "http"
	if a.tls != nil {
		scheme = "https"
		ln = tls.NewListener(ln, a.tls)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("autoconfig stopped", slog.Any("error", err))
		}
	}()
	a.log.Info("autoconfig serving", slog.String("address", ln.Addr().String()), slog.String("scheme", scheme))
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), autoconfigDrain)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		<-served
	}, nil
}
