package delivery

import (
	"context"
	"io"
	"strconv"
	"time"

	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/internal/smtpwire"
)

// pipelineDepth is how many commands go out before their replies are
// read when the server offers PIPELINING (RFC 2920): the whole envelope
// of nearly every message, yet few enough replies that they never fill
// the socket buffers while the client is still writing.
const pipelineDepth = 100

// send runs one transaction on s: MAIL, RCPT for each distinct address and
// DATA (in one write when pipelining), then the body and the final reply
// (one per accepted recipient for LMTP). A transaction that ends before
// the body is reset with RSET; one that ends with the final reply needs
// nothing before the next MAIL.
func (d *Deliverer) send(ctx context.Context, s *session, x *txn, env *queue.Envelope, body io.Reader, lmtp bool) {
	c := s.c
	utf8 := !isASCII(env.From)
	for _, r := range x.rcpts {
		utf8 = utf8 || !isASCII(r.Address)
	}
	if utf8 && !c.Has("SMTPUTF8") {
		x.answerRest(queue.Result{Code: 553, Enhanced: "5.6.7", Permanent: true,
			Text: "non-ASCII address and the back end does not support SMTPUTF8"})
		return
	}
	dsn := c.Has("DSN")
	mail, err := mailCmd(c, env.From, mailOptions(env, utf8))
	if err != nil {
		x.answerRest(errResult("MAIL", err))
		return
	}
	cmds := []string{mail}
	var idx []int // recipient of cmds[1+k]
	for i, r := range x.rcpts {
		if x.first[i] != i {
			continue
		}
		line, err := rcptCmd(c, r.Address, rcptOptions(r))
		if err != nil {
			x.answer(i, errResult("RCPT", err))
			continue
		}
		cmds = append(cmds, line)
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return
	}
	cmds = append(cmds, "DATA")
	accepted, ok := d.envelope(ctx, s, x, cmds, idx)
	if !ok {
		return
	}
	x.dataSent = true
	_ = s.conn.SetDeadline(time.Now().Add(bounded(ctx, d.opts.DataTimeout)))
	if s.copyBuf == nil {
		s.copyBuf = make([]byte, 16<<10)
	}
	dw := smtpwire.NewDotWriter(c.Writer())
	err = dw.CopyFrom(body, s.copyBuf)
	if err == nil {
		if err = dw.Close(); err == nil {
			err = c.Flush()
		}
	}
	if err != nil {
		// Never send the final dot after a partial body: drop the
		// connection so that the back end discards the transaction.
		s.broken = true
		x.answerRest(d.errResult(ctx, "sending message", err))
		return
	}
	n := 1
	if lmtp {
		n = len(accepted)
	}
	for k := range n {
		r, err := c.ReadReply()
		if err != nil {
			s.broken = true
			x.answerRest(d.errResult(ctx, "end of data", err))
			return
		}
		res := d.finalResult(s, r, dsn)
		if lmtp {
			x.answer(accepted[k], res)
		} else {
			x.answerRest(res)
		}
	}
}

// finalResult maps the reply to the end of the data.
func (d *Deliverer) finalResult(s *session, r smtpwire.Reply, dsn bool) queue.Result {
	if r.Code/100 == 2 {
		ok := okResult(r.Text)
		ok.Relayed = !dsn
		return ok
	}
	if r.Code/100 == 3 || r.Code == 421 {
		s.broken = true
	}
	return replyResult(r.Err())
}

// envelope sends cmds (MAIL, the RCPTs of the recipients idx, DATA) and
// reads their replies, PIPELINING permitting several commands per write.
// It answers the recipients the server refused (all of them when it
// refused MAIL or DATA) and reports those accepted and whether the server
// now waits for the body. A transaction that cannot go on is reset.
func (d *Deliverer) envelope(ctx context.Context, s *session, x *txn, cmds []string, idx []int) ([]int, bool) {
	c := s.c
	depth := 1
	if c.Has("PIPELINING") {
		depth = pipelineDepth
	}
	last := len(cmds) - 1 // DATA
	var accepted []int
	var data *smtpwire.Reply
	mailOK, stop := false, false
	sent, read := 0, 0
	op := func(k int) string {
		switch k {
		case 0:
			return "MAIL"
		case last:
			return "DATA"
		}
		return "RCPT"
	}
	fail := func(k int, err error) ([]int, bool) {
		s.broken = true
		x.answerRest(d.errResult(ctx, op(k), err))
		return nil, false
	}
	for {
		for !stop && sent <= last && sent-read < depth {
			if sent == last && read == last && len(accepted) == 0 {
				stop = true // every recipient refused: no DATA
				break
			}
			if err := c.WriteCmd(cmds[sent]); err != nil {
				return fail(sent, err)
			}
			sent++
		}
		if read == sent {
			break
		}
		d.arm(ctx, s)
		if err := c.Flush(); err != nil {
			return fail(read, err)
		}
		for ; read < sent; read++ {
			r, err := c.ReadReply()
			if err != nil {
				return fail(read, err)
			}
			if r.Code == 421 {
				// The server is closing the connection (perhaps it
				// timed out while idle in the pool).
				s.broken = true
				x.answerRest(replyResult(r.Err()))
				return nil, false
			}
			switch {
			case read == last:
				data = &r
			case r.Code/100 == 3:
				return fail(read, &unexpectedError{r})
			case read == 0:
				mailOK = r.Code/100 == 2
				if !mailOK {
					x.answerRest(replyResult(r.Err()))
					stop = true
				}
			case !mailOK:
				// Refused as MAIL was: answered already.
			case r.Code/100 == 2:
				accepted = append(accepted, idx[read-1])
			default:
				x.answer(idx[read-1], replyResult(r.Err()))
			}
		}
	}
	switch {
	case data != nil && data.Code/100 == 3 && len(accepted) > 0:
		return accepted, true
	case data != nil && data.Code/100 != 4 && data.Code/100 != 5:
		// Ready for a body no one is to get, or a reply of the wrong
		// kind: the state is unknown, drop the connection.
		return fail(last, &unexpectedError{*data})
	case data != nil && mailOK:
		x.answerRest(replyResult(data.Err()))
	}
	if mailOK {
		d.arm(ctx, s)
		if err := c.Rset(); err != nil {
			s.broken = true
		}
	}
	return nil, false
}

// unexpectedError is a reply of a kind the command cannot have: the
// connection's state is unknown.
type unexpectedError struct{ r smtpwire.Reply }

func (e *unexpectedError) Error() string {
	return "unexpected reply " + strconv.Itoa(e.r.Code) + " " + e.r.Text
}
