package bounce

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"

	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/ndr"
)

// Reporter builds and queues delivery status notifications for the queue's
// failed and delayed messages. Its methods are safe for concurrent use.
type Reporter struct {
	opts Options
	log  *slog.Logger
	q    atomic.Pointer[queue.Queue]
}

// New returns a Reporter. Hook its OnFailure and OnDelay into
// queue.Options, open the queue, then hand it over with SetQueue.
func New(opts Options) (*Reporter, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &Reporter{opts: opts, log: opts.Logger.With(slog.String("component", "bounce"))}, nil
}

// SetQueue sets the queue reports are queued in and the original messages
// are read from. Until it is called, reports that are due go to the
// postmaster's Badmail folder instead.
func (r *Reporter) SetQueue(q *queue.Queue) { r.q.Store(q) }

// OnFailure is the queue's failure hook: it queues a failure report to the
// sender of env for the failed recipients that asked for one, or keeps a
// failed message with the null sender as a double bounce.
func (r *Reporter) OnFailure(ctx context.Context, env *queue.Envelope, failed []*queue.Recipient) {
	log := r.log.With(slog.String("queue_id", env.ID))
	if env.From == "" {
		r.doubleBounce(ctx, log, env, failed)
		return
	}
	var rs []ndr.RecipientStatus
	for _, rc := range failed {
		if !wants(rc.Notify, notifyFailure) {
			log.Info("no failure report: NOTIFY excludes it", slog.String("rcpt", rc.Address),
				slog.String("notify", strings.Join(rc.Notify, ",")))
			continue
		}
		rs = append(rs, r.failedStatus(rc))
	}
	r.report(ctx, log, env, rs, "failure")
}

// OnDelay is the queue's delay hook: it queues one delay report to the
// sender of env for the delayed recipients whose NOTIFY includes DELAY or
// is absent.
func (r *Reporter) OnDelay(ctx context.Context, env *queue.Envelope, delayed []*queue.Recipient) {
	log := r.log.With(slog.String("queue_id", env.ID))
	if env.From == "" {
		return
	}
	var rs []ndr.RecipientStatus
	for _, rc := range delayed {
		if !wants(rc.Notify, notifyDelay) {
			continue
		}
		rs = append(rs, r.delayedStatus(env, rc))
	}
	r.report(ctx, log, env, rs, "delay")
}

// OnSuccess is the queue's success hook: for recipients whose NOTIFY
// includes SUCCESS and whose delivery ended DSN handling here (mailbox
// store, or a back end without DSN), it queues a success report (RFC 3461
// section 6.2: "relayed" or "delivered").
func (r *Reporter) OnSuccess(ctx context.Context, env *queue.Envelope, done []*queue.Recipient) {
	if env.From == "" {
		return
	}
	var rs []ndr.RecipientStatus
	for _, rc := range done {
		if wants(rc.Notify, notifySuccess) {
			rs = append(rs, r.successStatus(rc))
		}
	}
	r.report(ctx, r.log.With(slog.String("queue_id", env.ID)), env, rs, "success")
}

// report builds the report on rs for env and queues it to env.From.
func (r *Reporter) report(ctx context.Context, log *slog.Logger, env *queue.Envelope, rs []ndr.RecipientStatus, kind string) {
	if len(rs) == 0 {
		return
	}
	original, err := r.readOriginal(env.ID)
	if err != nil {
		// A report without the original still tells the sender what
		// happened.
		log.Warn("report without the original message", slog.Any("error", err))
	}
	rep := &ndr.Report{
		ReportingMTA:  r.opts.Hostname,
		Postmaster:    r.opts.Postmaster,
		To:            env.From,
		EnvelopeID:    env.EnvID,
		ArrivalDate:   env.Received,
		Recipients:    rs,
		Original:      original,
		ReturnFull:    kind != "success" && !strings.EqualFold(env.Ret, "HDRS"), // RFC 3461 4.3: headers only when nothing failed
		MaxReturnSize: r.opts.MaxReturnSize,
		Language:      r.language(env.From),
		Date:          r.opts.Now(),
	}
	msg, err := ndr.Build(rep, r.opts.Templates)
	if err != nil {
		log.Error("cannot build report", slog.String("kind", kind), slog.Any("error", err))
		return
	}
	id, err := r.enqueue(ctx, env.From, msg)
	if err != nil {
		log.Error("cannot queue report, keeping it in badmail", slog.String("kind", kind), slog.Any("error", err))
		r.keepBadmail(ctx, log, badmailNote(r.opts, env, nil, "The report could not be queued: "+err.Error()), msg)
		return
	}
	log.Info("report queued", slog.String("kind", kind), slog.String("report_id", id),
		slog.String("to", env.From), slog.Int("rcpts", len(rs)))
	r.observe(rs)
	if r.opts.CopyToPostmaster {
		r.copyToPostmaster(ctx, log, msg)
	}
}

// language is the report language for a message from sender.
func (r *Reporter) language(sender string) string {
	if i := strings.LastIndexByte(sender, '@'); i >= 0 {
		if l, ok := r.opts.DomainLanguage[strings.ToLower(sender[i+1:])]; ok && l != "" {
			return l
		}
	}
	return r.opts.Language
}
