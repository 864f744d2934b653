package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Defaults for the zero fields of Options.
const (
	DefaultExpire        = 48 * time.Hour
	DefaultWorkers       = 32
	DefaultShutdownGrace = 30 * time.Second
	// DefaultSpillThreshold is the message size up to which a
	// transaction buffers the message in memory and commits it to the
	// journal: nearly all mail, while a thousand sessions in DATA at
	// once hold at most 256 MiB.
	DefaultSpillThreshold = 256 << 10
	// DefaultJournalSegmentSize is the size past which the journal
	// starts a new segment. Small enough that removing a finished
	// segment frees little at once: on ext4 with online discard the
	// fsyncs after the unlink of a 64 MiB segment waited 40-60 ms for
	// the freed blocks; at 8 MiB the wait is within the usual fsync
	// spread. More segments cost more rotations, each a file made ahead
	// and a removal, both in the background.
	DefaultJournalSegmentSize = 8 << 20
)

// DefaultRetry returns the default retry schedule: 15m, 30m, 1h, 4h, the
// last interval repeating.
func DefaultRetry() []time.Duration {
	return []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 4 * time.Hour}
}

// Options configure a Queue. Zero fields get their defaults from Validate.
type Options struct {
	// Dir is the queue directory (state_dir/queue); created if missing.
	Dir string
	// Retry are the intervals between delivery attempts of a message's
	// pending recipients; the last one repeats. Default DefaultRetry().
	Retry []time.Duration
	// Expire is how long a message may stay undelivered; its recipients
	// still pending after an attempt made that late fail as expired.
	// Default 48h.
	Expire time.Duration
	// DelayNotice is the age of a message after which OnDelay is called,
	// once per message, when recipients are still pending. Zero: never.
	DelayNotice time.Duration
	// Workers is the number of messages attempted in parallel. Default 32.
	Workers int
	// ShutdownGrace bounds how long in-flight attempts may go on after
	// Run's context is done before the Deliverer's context is cancelled.
	// Default 30s.
	ShutdownGrace time.Duration
	// Deliverer delivers the messages. Required.
	Deliverer Deliverer
	// OnFailure, if set, is called once when a message ends with one or
	// more failed recipients (permanent failure or expiry), after that
	// state is on disk and before the message is moved to failed/. After a
	// crash at that point it is called again at the next Open, so it may
	// see a message twice but never misses one. The envelope is a copy.
	OnFailure func(ctx context.Context, env *Envelope, failed []*Recipient)
	// OnDelay, if set, is called once per message when an attempt leaves
	// recipients pending and the message is older than DelayNotice. The
	// envelope is a copy with DelayNotified already recorded on disk.
	OnDelay func(ctx context.Context, env *Envelope, delayed []*Recipient)
	// OnSuccess, if set, is called once when a message ends, with its
	// delivered recipients that have a SuccessAction (mailbox store, or a
	// back end without DSN), before the message is removed; the success
	// report for NOTIFY=SUCCESS hooks here. A crash right after it may
	// repeat it.
	OnSuccess func(ctx context.Context, env *Envelope, done []*Recipient)
	// Logger receives the queue log. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// CreateTemp makes the temporary files the queue writes before
	// renaming them into place. Default os.CreateTemp; tests inject
	// failures here.
	CreateTemp func(dir, pattern string) (*os.File, error)
	// SpillThreshold is the message size up to which a transaction keeps
	// the message in memory and Commit appends it to the journal (one
	// write and one fsync shared with the concurrent commits); a larger
	// message is written to its own file as it arrives. Default
	// DefaultSpillThreshold (256 KiB); negative: no journal, every message
	// gets its own file from Begin on.
	SpillThreshold int64
	// JournalSegmentSize is the size past which the journal starts a new
	// segment file. Default DefaultJournalSegmentSize (8 MiB).
	JournalSegmentSize int64

	// syncFile makes a journal segment's writes durable. Default
	// fdatasync; tests count the calls here.
	syncFile func(*os.File) error
	// journalEnqueued, if set (by tests), is called each time a record
	// joins the journal's waiting batch.
	journalEnqueued func()
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	if o.Dir == "" {
		return errors.New("queue: dir is empty")
	}
	if o.Deliverer == nil {
		return errors.New("queue: no deliverer")
	}
	if len(o.Retry) == 0 {
		o.Retry = DefaultRetry()
	}
	for i, d := range o.Retry {
		if d <= 0 {
			return fmt.Errorf("queue: retry interval %d is %v, must be positive", i+1, d)
		}
	}
	if o.Expire == 0 {
		o.Expire = DefaultExpire
	}
	if o.Expire < 0 {
		return fmt.Errorf("queue: expire is %v, must be positive", o.Expire)
	}
	if o.DelayNotice < 0 {
		return fmt.Errorf("queue: delay notice is %v, must not be negative", o.DelayNotice)
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.Workers < 0 {
		return fmt.Errorf("queue: workers is %d, must be positive", o.Workers)
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = DefaultShutdownGrace
	}
	if o.ShutdownGrace < 0 {
		return fmt.Errorf("queue: shutdown grace is %v, must not be negative", o.ShutdownGrace)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CreateTemp == nil {
		o.CreateTemp = os.CreateTemp
	}
	if o.SpillThreshold == 0 {
		o.SpillThreshold = DefaultSpillThreshold
	}
	if o.JournalSegmentSize == 0 {
		o.JournalSegmentSize = DefaultJournalSegmentSize
	}
	if o.JournalSegmentSize < 0 {
		return fmt.Errorf("queue: journal segment size is %d, must be positive", o.JournalSegmentSize)
	}
	if o.syncFile == nil {
		o.syncFile = datasync
	}
	return nil
}

// retryAfter returns the wait before the next attempt of a message that
// has had n attempts.
func (o *Options) retryAfter(n int) time.Duration {
	i := min(max(n-1, 0), len(o.Retry)-1)
	return o.Retry[i]
}
