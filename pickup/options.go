package pickup

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"bridgehead.dev/bridgehead/gateway/queue"
)

// Defaults for the zero fields of Options.
const (
	DefaultInterval = 2 * time.Second
	DefaultMaxSize  = 25 << 20
	DefaultMaxHops  = 50
)

// Queue is what the Watcher needs of the queue: a transaction to write one
// message into (see queue.Queue.Begin for its atomicity contract).
type Queue interface {
	Begin(env *queue.Envelope) (*queue.Tx, error)
}

var _ Queue = (*queue.Queue)(nil)

// Options configure a Watcher. Zero fields get their defaults from
// Validate.
type Options struct {
	// Dir is the pickup directory; created (mode 3730: setgid, sticky,
	// group may create files but not list or remove others') when missing.
	// Required.
	Dir string
	// BadmailDir receives files that cannot be queued, each with a
	// NAME.reason file beside it; created when missing. Required.
	BadmailDir string
	// Interval is the time between two polls of Dir. Default 2s.
	Interval time.Duration
	// MaxSize is the largest file taken, in bytes; larger ones go to
	// badmail. Default 25 MiB.
	MaxSize int64
	// MaxHops is the number of Received fields beyond which a message is
	// taken for a loop and goes to badmail. Default 50.
	MaxHops int
	// Hostname is our host name, for the Received field and Message-IDs.
	// Required.
	Hostname string
	// Queue takes the messages. Required.
	Queue Queue
	// Logger receives the watcher's log. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	if o.Dir == "" {
		return errors.New("pickup: dir is empty")
	}
	if o.BadmailDir == "" {
		return errors.New("pickup: badmail dir is empty")
	}
	if o.Hostname == "" || strings.ContainsAny(o.Hostname, " \t\r\n()<>;") {
		return fmt.Errorf("pickup: hostname %q: must be one word", o.Hostname)
	}
	if o.Queue == nil {
		return errors.New("pickup: no queue")
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Interval < 0 {
		return fmt.Errorf("pickup: interval %v: must be positive", o.Interval)
	}
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxSize < 0 {
		return fmt.Errorf("pickup: max size %d: must be positive", o.MaxSize)
	}
	if o.MaxHops == 0 {
		o.MaxHops = DefaultMaxHops
	}
	if o.MaxHops < 0 {
		return fmt.Errorf("pickup: max hops %d: must be positive", o.MaxHops)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}
