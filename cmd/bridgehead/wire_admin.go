package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"bridgehead.dev/bridgehead/gateway/admin"
)

// adminRunner runs the admin API beside the gateway.
type adminRunner struct {
	addr     string
	queueDir string
}

// newAdminRunner takes the admin API's settings from the config.
func newAdminRunner(cfg *Config) *adminRunner {
	return &adminRunner{addr: cfg.Admin.Address, queueDir: filepath.Join(cfg.StateDir, "queue")}
}

// start serves the admin API for s until the returned stop is called
// (at the end of run, so that probes answer while the process drains). It
// reports ready once the gateway's listeners are up and not ready as soon
// as ctx is done, when shutdown begins. A non-loopback address is an
// error (the API has no authentication in this version); an address that
// cannot be bound is logged and the gateway runs without the admin API,
// since mail submission must not depend on it.
func (a *adminRunner) start(ctx context.Context, s *server) (stop func(), err error) {
	if err := admin.CheckAddress(a.addr); err != nil {
		return nil, fmt.Errorf("admin.address: %w", err)
	}
	srv, err := admin.New(admin.Options{Queue: s.queue, QueueDir: a.queueDir, Listeners: s.gw, Logger: s.log})
	if err != nil {
		return nil, err
	}
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
