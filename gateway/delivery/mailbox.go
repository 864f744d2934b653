package delivery

import (
	"context"
	"errors"
	"fmt"

	"bridgehead.dev/bridgehead/gateway/queue"
)

// mailboxMTA is the RemoteMTA of results from the built-in mailbox store.
const mailboxMTA = "mailbox"

// deliverMailbox stores the message for each recipient in the built-in
// mailbox store, one at a time.
func (d *Deliverer) deliverMailbox(ctx context.Context, msg *queue.Message, rcpts []*queue.Recipient) ([]queue.Result, string) {
	out := make([]queue.Result, 0, len(rcpts))
	var reply string
	for _, r := range rcpts {
		res := d.mailboxOne(ctx, msg, r.Address)
		res.Recipient, res.RemoteMTA = r.Address, mailboxMTA
		out = append(out, res)
		reply = replyString(res)
	}
	return out, reply
}

func (d *Deliverer) mailboxOne(ctx context.Context, msg *queue.Message, rcpt string) queue.Result {
	if err := ctx.Err(); err != nil {
		return tempResult("mailbox: " + err.Error())
	}
	body, err := msg.Open()
	if err != nil {
		return tempResult(fmt.Sprintf("open message: %v", err))
	}
	defer body.Close()
	err = d.opts.Mailbox.DeliverMailbox(ctx, rcpt, body)
	var pe *PermanentError
	switch {
	case err == nil:
		return queue.Result{Code: 250, Enhanced: "2.0.0", Text: "stored in mailbox", Final: true}
	case errors.As(err, &pe):
		return queue.Result{Code: 550, Enhanced: "5.2.0", Text: "mailbox: " + err.Error(), Permanent: true}
	default:
		return queue.Result{Code: 451, Enhanced: "4.2.0", Text: "mailbox: " + err.Error()}
	}
}
