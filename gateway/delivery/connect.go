package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/internal/smtpwire"
)

// session is one open client connection to a back end.
type session struct {
	c      *smtpwire.Client
	conn   net.Conn // what the client talks over (deadlines go here)
	stop   func() bool
	broken bool // the connection is unusable: close without QUIT
	used   int  // transactions carried so far
	// idleTimer closes the session when it idles in the pool too long.
	idleTimer *time.Timer
	// copyBuf carries message bodies from the queue to the connection,
	// made at the first message.
	copyBuf []byte
}

// connect dials t, says EHLO/LHLO, applies its TLS policy and logs in. A closed ctx
// closes the connection, which ends any step in progress.
func (d *Deliverer) connect(ctx context.Context, t *target) (*session, error) {
	s, err := d.connectPolicy(ctx, t, t.tls)
	var hf *handshakeError
	if errors.As(err, &hf) && t.tls == PolicyOpportunistic {
		d.log.WarnContext(ctx, "TLS handshake failed, retrying without TLS",
			slog.String("route", t.key()), slog.String("error", hf.err.Error()))
		return d.connectPolicy(ctx, t, PolicyNone)
	}
	return s, err
}

func (d *Deliverer) connectPolicy(ctx context.Context, t *target, policy TLSPolicy) (*session, error) {
	dctx, cancel := context.WithTimeout(ctx, d.opts.DialTimeout)
	defer cancel()
	nd := &net.Dialer{}
	var conn net.Conn
	var err error
	if t.scheme == schemeSMTPS {
		conn, err = (&tls.Dialer{NetDialer: nd, Config: t.tlsConfig()}).DialContext(dctx, "tcp", t.addr)
	} else {
		conn, err = nd.DialContext(dctx, "tcp", t.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", t.addr, err)
	}
	raw := conn
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	fail := func(err error) (*session, error) {
		stop()
		raw.Close()
		return nil, err
	}
	c := smtpwire.NewClient(conn, t.scheme == schemeLMTP)
	s := &session{c: c, conn: conn, stop: stop}
	d.arm(ctx, s)
	if err := c.Greet(); err != nil {
		return fail(fmt.Errorf("greeting: %w", err))
	}
	if err := c.Hello(d.opts.Hostname); err != nil {
		return fail(fmt.Errorf("hello: %w", err))
	}
	if t.scheme != schemeSMTPS && policy != PolicyNone {
		tc, err := d.startTLS(ctx, c, t, policy)
		if err != nil {
			return fail(err)
		}
		if tc != nil {
			s.c, s.conn = tc, tc.Conn()
			d.arm(ctx, s)
			if err := tc.Hello(d.opts.Hostname); err != nil {
				var se *smtp.SMTPError
				if !errors.As(err, &se) {
					return fail(&handshakeError{err})
				}
				return fail(fmt.Errorf("hello after STARTTLS: %w", err))
			}
		}
	}
	if t.auth != nil {
		d.arm(ctx, s)
		if err := s.c.Login(t.auth.Username, t.auth.Password); err != nil {
			return fail(fmt.Errorf("auth as %s: %w", t.auth.Username, err))
		}
	}
	return s, nil
}

// arm sets the deadline of the next command step: CommandTimeout, cut
// short by ctx's deadline. The body gets DataTimeout (see send).
func (d *Deliverer) arm(ctx context.Context, s *session) {
	_ = s.conn.SetDeadline(time.Now().Add(bounded(ctx, d.opts.CommandTimeout)))
}

// bounded returns limit, or less when ctx's deadline comes sooner.
func bounded(ctx context.Context, limit time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < limit {
			return max(left, time.Millisecond)
		}
	}
	return limit
}

// close ends the session: QUIT when the connection is usable, then close.
func (d *Deliverer) close(ctx context.Context, s *session) {
	s.stop()
	if !s.broken && ctx.Err() == nil {
		_ = s.conn.SetDeadline(time.Now().Add(bounded(ctx, min(d.opts.CommandTimeout, 10*time.Second))))
		_ = s.c.Quit()
	}
	_ = s.conn.Close()
}
