package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/gateway/queue"
)

// txn tracks one SMTP/LMTP transaction's answers. Each distinct address
// is sent once; duplicates take the answer of its first occurrence.
type txn struct {
	rcpts   []*queue.Recipient
	host    string
	results []queue.Result
	set     []bool
	first   []int // index of the first recipient with the same address
	reply   string
	// dataSent is set once DATA was accepted: from then on the message
	// may have reached the server and must not be sent again.
	dataSent bool
}

func newTxn(rcpts []*queue.Recipient, host string) *txn {
	x := &txn{rcpts: rcpts, host: host, results: make([]queue.Result, len(rcpts)),
		set: make([]bool, len(rcpts)), first: make([]int, len(rcpts))}
	seen := map[string]int{}
	for i, r := range rcpts {
		j, ok := seen[r.Address]
		if !ok {
			j = i
			seen[r.Address] = i
		}
		x.first[i] = j
	}
	return x
}

func (x *txn) answer(i int, r queue.Result) {
	r.Recipient, r.RemoteMTA = x.rcpts[i].Address, x.host
	x.results[i], x.set[i] = r, true
	x.reply = replyString(r)
}

// answerRest gives r to every unique recipient not answered yet.
func (x *txn) answerRest(r queue.Result) {
	for i := range x.rcpts {
		if x.first[i] == i && !x.set[i] {
			x.answer(i, r)
		}
	}
}

// done copies answers to duplicates and returns the results.
func (x *txn) done() ([]queue.Result, string) {
	for i := range x.rcpts {
		if j := x.first[i]; j != i {
			x.results[i] = x.results[j]
			x.results[i].Recipient = x.rcpts[i].Address
		}
	}
	return x.results, x.reply
}

// transact runs one transaction for rcpts at t: MAIL, one RCPT per
// address, DATA, and the reply (per recipient for LMTP). It takes an idle
// connection to t when there is one (see pool.go) and leaves the
// connection there afterwards. It reports whether t could not be reached
// (connect, TLS or greeting failed), in which case another target may be
// tried.
func (d *Deliverer) transact(ctx context.Context, msg *queue.Message, t *target, rcpts []*queue.Recipient) ([]queue.Result, string, bool) {
	x := newTxn(rcpts, t.host)
	body, err := msg.Open()
	if err != nil {
		x.answerRest(tempResult(fmt.Sprintf("open message: %v", err)))
		res, reply := x.done()
		return res, reply, false
	}
	defer body.Close()

	ds := d.dest(t.poolKey())
	for {
		s, err := ds.acquire(ctx)
		if err != nil {
			x.answerRest(tempResult("cancelled waiting for a connection slot: " + err.Error()))
			out, reply := x.done()
			return out, reply, false
		}
		reused := s != nil
		if reused {
			d.reuse(ctx, s)
		}
		if !reused {
			s, err = d.connect(ctx, t)
			if err != nil {
				ds.releaseSlot()
				res := d.errResult(ctx, "connect", err)
				res.Permanent = false // a refusal at greeting or hello is the back end's trouble, not the message's
				x.answerRest(res)
				out, reply := x.done()
				return out, reply, true
			}
		}
		d.send(ctx, s, x, msg.Envelope, body, t.scheme == schemeLMTP)
		if reused && s.broken && !x.dataSent && ctx.Err() == nil {
			// The pooled connection died under MAIL or RCPT (the server
			// dropped it while idle): nothing was committed, start over
			// on another one.
			d.log.DebugContext(ctx, "pooled connection unusable, opening a new one",
				slog.String("route", ds.key), slog.String("reply", x.reply))
			d.finish(ctx, ds, s)
			x = newTxn(rcpts, t.host)
			continue
		}
		d.finish(ctx, ds, s)
		out, reply := x.done()
		return out, reply, false
	}
}

// errResult is errResult with the context's reason when it was cancelled.
func (d *Deliverer) errResult(ctx context.Context, op string, err error) queue.Result {
	var se *smtp.SMTPError
	if cerr := ctx.Err(); cerr != nil && !errors.As(err, &se) {
		return tempResult(fmt.Sprintf("%s: %v", op, cerr))
	}
	return errResult(op, err)
}
