package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

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
		if reused && !d.reuse(ctx, ds, s) {
			continue // dropped by the server while idle: try the next one
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
			// The pooled connection died under MAIL or RCPT: nothing
			// was committed, start over on another one.
			d.finish(ctx, ds, s)
			x = newTxn(rcpts, t.host)
			continue
		}
		d.finish(ctx, ds, s)
		out, reply := x.done()
		return out, reply, false
	}
}

func (d *Deliverer) send(ctx context.Context, s *session, x *txn, env *queue.Envelope, body io.Reader, lmtp bool) {
	c := s.c
	utf8 := !isASCII(env.From)
	for _, r := range x.rcpts {
		utf8 = utf8 || !isASCII(r.Address)
	}
	if ok, _ := c.Extension("SMTPUTF8"); utf8 && !ok {
		x.answerRest(queue.Result{Code: 553, Enhanced: "5.6.7", Permanent: true,
			Text: "non-ASCII address and the back end does not support SMTPUTF8"})
		return
	}
	dsn, _ := c.Extension("DSN")
	d.arm(ctx, s)
	if err := c.Mail(env.From, mailOptions(env, utf8)); err != nil {
		x.answerRest(d.stepFailed(ctx, s, "MAIL", err))
		return
	}
	var accepted []int
	for i, r := range x.rcpts {
		if x.first[i] != i {
			continue
		}
		d.arm(ctx, s)
		if err := c.Rcpt(r.Address, rcptOptions(r)); err != nil {
			res := d.stepFailed(ctx, s, "RCPT", err)
			x.answer(i, res)
			if s.broken {
				x.answerRest(res)
				return
			}
			continue
		}
		accepted = append(accepted, i)
	}
	if len(accepted) == 0 {
		d.arm(ctx, s)
		if err := c.Reset(); err != nil {
			s.broken = true
		}
		return
	}
	d.arm(ctx, s)
	w, err := c.Data()
	if err != nil {
		x.answerRest(d.stepFailed(ctx, s, "DATA", err))
		return
	}
	x.dataSent = true
	_ = s.conn.SetDeadline(time.Now().Add(bounded(ctx, d.opts.DataTimeout)))
	if _, err := io.Copy(w, body); err != nil {
		// Never send the final dot after a partial body: drop the
		// connection so that the back end discards the transaction.
		s.broken = true
		x.answerRest(d.errResult(ctx, "sending message", err))
		return
	}
	if !lmtp {
		resp, err := w.CloseWithResponse()
		if err != nil {
			x.answerRest(d.stepFailed(ctx, s, "end of data", err))
			return
		}
		ok := okResult(resp.StatusText)
		ok.Relayed = !dsn
		x.answerRest(ok)
		return
	}
	resps, err := w.CloseWithLMTPResponse()
	var perRcpt smtp.LMTPDataError
	errors.As(err, &perRcpt)
	for _, i := range accepted {
		addr := x.rcpts[i].Address
		switch {
		case resps[addr] != nil:
			ok := okResult(resps[addr].StatusText)
			ok.Relayed = !dsn
			x.answer(i, ok)
		case perRcpt[addr] != nil:
			x.answer(i, replyResult(perRcpt[addr]))
		}
	}
	if err != nil && !isOnlyLMTP(err) {
		s.broken = true
		x.answerRest(d.errResult(ctx, "end of data", err))
	}
}

// isOnlyLMTP reports whether err is nothing but per-recipient replies.
func isOnlyLMTP(err error) bool {
	_, ok := err.(smtp.LMTPDataError)
	return ok
}

// stepFailed maps a failed step; an error that is not a server reply
// means the connection is unusable.
func (d *Deliverer) stepFailed(ctx context.Context, s *session, op string, err error) queue.Result {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		s.broken = true
	}
	return d.errResult(ctx, op, err)
}

// errResult is errResult with the context's reason when it was cancelled.
func (d *Deliverer) errResult(ctx context.Context, op string, err error) queue.Result {
	var se *smtp.SMTPError
	if cerr := ctx.Err(); cerr != nil && !errors.As(err, &se) {
		return tempResult(fmt.Sprintf("%s: %v", op, cerr))
	}
	return errResult(op, err)
}
