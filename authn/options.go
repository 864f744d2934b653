package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"bridgehead.dev/bridgehead/directory"
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
	// Listeners maps a listener name (ConnInfo.Listener) to the password
	// check its attempts use instead of the Authenticator's own, e.g. a
	// Chain with another order of methods. Nil entries are an error.
	Listeners map[string]directory.Authenticator
	// Tokens, when not nil, enables the OAUTHBEARER and XOAUTH2
	// mechanisms and checks their bearer tokens (an *OIDCVerifier).
	Tokens TokenVerifier
	// Throttle, when not nil, counts failures per client address and per
	// login: failures then wait the longer of FailureDelay and the
	// throttle's delay, and a client past its cut-off gets KindThrottled.
	// One Throttle may be shared by several Authenticators.
	Throttle *Throttle
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
	for name, a := range o.Listeners {
		if a == nil {
			return fmt.Errorf("authn: listener %q: no password check", name)
		}
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
