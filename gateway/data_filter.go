package gateway

import (
	"bufio"
	"bytes"
	"errors"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/gateway/filter"
	"bridgehead.dev/bridgehead/gateway/queue"
)

// runFilters reads the rest of the message into memory after its header
// raw and runs the listener's filter chain over it, before anything is
// queued. It returns the message to queue, or the reply refusing it.
func (s *session) runFilters(env *queue.Envelope, raw []byte, br *bufio.Reader) ([]byte, error) {
	var msg bytes.Buffer
	msg.Write(raw)
	if _, err := br.WriteTo(&msg); err != nil {
		return nil, err
	}
	fenv := &filter.Envelope{
		QueueID:  env.ID,
		ClientIP: env.ClientIP,
		Helo:     s.conn.Hostname(),
		From:     env.From,
		Login:    env.Login,
	}
	for _, r := range env.Recipients {
		fenv.Rcpts = append(fenv.Rcpts, r.Address)
	}
	out, err := s.lo.Filters.Run(s.ctx, fenv, msg.Bytes(), s.log)
	var rej *filter.Rejection
	if errors.As(err, &rej) {
		return nil, &smtp.SMTPError{Code: rej.Code,
			EnhancedCode: smtp.EnhancedCode{rej.Enhanced[0], rej.Enhanced[1], rej.Enhanced[2]}, Message: rej.Message}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
