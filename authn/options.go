package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultFailureDelay is the pause before a failed attempt is answered when
// Options.FailureDelay is zero.
const DefaultFailureDelay = time.Second

// MaxCredentialLength is the longest authorization identity, username or
// password accepted, in bytes; a longer one is KindMalformed.
const MaxCredentialLength = 1024

// Options configure an Authenticator. The zero value is ready to use.
type Options struct {
	// FailureDelay is the pause before a failed attempt is answered, to slow
	// down password guessing. Zero means DefaultFailureDelay (1s); negative
	// is an error. The pause ends early when the attempt's context is done.
	FailureDelay time.Duration
	// NoFailureDelay answers failures at once (tests, or when a proxy in
	// front already throttles). FailureDelay must then be zero.
	NoFailureDelay bool
	// Logger receives the audit trail. Nil means slog.Default().
	Logger *slog.Logger
	// Sleep pauses for d or until ctx is done, whichever comes first, and
	// returns ctx.Err() in the second case. Nil means a timer; tests inject
	// a recorder.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Validate reports contradictory or out-of-range options.
func (o *Options) Validate() error {
	if o.FailureDelay < 0 {
		return fmt.Errorf("authn: failure delay %v is negative", o.FailureDelay)
	}
	if o.NoFailureDelay && o.FailureDelay != 0 {
		return errors.New("authn: both a failure delay and no failure delay are set")
	}
	return nil
}

// failureDelay returns the effective delay.
func (o *Options) failureDelay() time.Duration {
	switch {
	case o.NoFailureDelay:
		return 0
	case o.FailureDelay == 0:
		return DefaultFailureDelay
	}
	return o.FailureDelay
}

// sleepContext waits for d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
