package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/internal/smtpwire"
)

// handshakeError is a failed TLS handshake after STARTTLS (or a TLS
// session failing at its first exchange, as TLS 1.3 reports a refused
// client certificate): the connection is lost, an opportunistic caller
// dials again without TLS.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return "TLS handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// startTLS runs STARTTLS on c, which has said EHLO, as policy asks. It
// returns a new client on the TLS connection (which must say EHLO/LHLO
// again), or nil to go on in plain text when opportunistic TLS did not
// happen.
func (d *Deliverer) startTLS(ctx context.Context, c *smtpwire.Client, t *target, policy TLSPolicy) (*smtpwire.Client, error) {
	if !c.Has("STARTTLS") {
		if policy == PolicyOpportunistic {
			return nil, nil
		}
		return nil, errors.New("STARTTLS not offered, TLS policy " + string(policy))
	}
	if _, err := c.Cmd(220, "STARTTLS"); err != nil {
		var se *smtp.SMTPError
		if policy == PolicyOpportunistic && errors.As(err, &se) {
			return nil, nil
		}
		return nil, fmt.Errorf("STARTTLS: %w", err)
	}
	if c.Buffered() > 0 {
		return nil, errors.New("STARTTLS: data after the 220 reply")
	}
	_ = c.Conn().SetDeadline(time.Time{})
	tc := tls.Client(c.Conn(), t.tlsConfig())
	hctx, cancel := context.WithTimeout(ctx, d.opts.DialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil, &handshakeError{err}
	}
	return smtpwire.NewClient(tc, c.LMTP()), nil
}
