package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/pickup"
)

// pickupRunner polls the pickup directory beside the gateway.
type pickupRunner struct {
	w   *pickup.Watcher
	log *slog.Logger
}

// newPickupRunner builds the watcher from the config; it creates the
// pickup and badmail directories when missing.
func newPickupRunner(cfg *Config, q *queue.Queue, log *slog.Logger) (*pickupRunner, error) {
	w, err := pickup.New(pickup.Options{
		Dir:        cfg.Pickup.Dir,
		BadmailDir: cfg.Pickup.BadmailDir,
		Interval:   cfg.Pickup.Interval.D(),
		MaxSize:    int64(cfg.Pickup.MaxMessageSize),
		Hostname:   cfg.Hostname,
		Queue:      q,
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("pickup: %w", err)
	}
	return &pickupRunner{w: w, log: log}, nil
}

// start runs the watcher until the returned stop is called or ctx is
// done; stop waits for the file in hand to be finished.
func (r *pickupRunner) start(ctx context.Context) (stop func()) {
	if r == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.w.Run(ctx); err != nil {
			r.log.Error("pickup stopped", slog.Any("error", err))
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}
