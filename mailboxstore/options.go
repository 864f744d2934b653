package mailboxstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Options configures a Store.
type Options struct {
	// Dir is the root of the store, e.g. state_dir/mailboxes. It is created
	// (0700) if missing. Required.
	Dir string
	// Retention is the age after which the janitor removes a message; 0 keeps
	// messages forever.
	Retention time.Duration
	// JanitorInterval is how often RunJanitor sweeps. Default: Retention/10,
	// at least one minute and at most one hour.
	JanitorInterval time.Duration
	// Logger receives the store's logs. Default: slog.Default().
	Logger *slog.Logger
	// Clock returns the current time; it dates new messages and decides
	// their age. Default: time.Now. Tests inject their own.
	Clock func() time.Time

	// afterSweep, when set (tests), is called after each janitor sweep.
	afterSweep func(removed int)
}

// Validate reports the first problem with the options.
func (o *Options) Validate() error {
	if o.Dir == "" {
		return errors.New("mailboxstore: dir is required")
	}
	if o.Retention < 0 {
		return fmt.Errorf("mailboxstore: retention %v is negative", o.Retention)
	}
	if o.JanitorInterval < 0 {
		return fmt.Errorf("mailboxstore: janitor interval %v is negative", o.JanitorInterval)
	}
	return nil
}

// withDefaults returns a copy with every unset field filled in.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.JanitorInterval == 0 {
		o.JanitorInterval = min(max(o.Retention/10, time.Minute), time.Hour)
	}
	return o
}
