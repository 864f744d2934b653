package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/gateway/queue"
)

// session is one SMTP session. go-smtp makes a new one after STARTTLS, so
// authentication state starts over with the TLS session.
type session struct {
	gw     *Gateway
	lo     *ListenerOptions
	conn   *smtp.Conn
	ip     netip.Addr
	tlsOn  bool
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	start  time.Time

	user     *directory.User
	authMech string
	messages int // messages accepted
	refused  int // transactions refused

	tx transaction

	obs observed // metrics and protocol log state (observe.go)
}

// transaction is the state of one MAIL..DATA.
type transaction struct {
	active bool
	from   string
	opts   smtp.MailOptions
	rcpts  []*queue.Recipient
}

var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.AuthSession = (*session)(nil)
)

func (g *Gateway) newSession(c *smtp.Conn, lo *ListenerOptions) *session {
	ctx, cancel := context.WithCancel(g.sessionsCtx)
	s := &session{gw: g, lo: lo, conn: c, ip: remoteIP(c.Conn()), ctx: ctx, cancel: cancel, start: time.Now()}
	state, isTLS := c.TLSConnectionState()
	s.tlsOn = isTLS
	attrs := []any{slog.String("listener", lo.Name), slog.String("client_ip", s.ip.String()), slog.String("helo", c.Hostname())}
	if isTLS {
		attrs = append(attrs, slog.String("tls", tlsVersionName(state.Version)))
	}
	s.log = g.log.With(attrs...)
	s.started(state, isTLS)
	return s
}

// queuedAttrs are what the queue's "queued" line adds about the session:
// the envelope already names the listener, client and login.
func (s *session) queuedAttrs() []slog.Attr {
	attrs := []slog.Attr{slog.String("helo", s.conn.Hostname())}
	if state, ok := s.conn.TLSConnectionState(); ok {
		attrs = append(attrs, slog.String("tls", tlsVersionName(state.Version)))
	}
	return attrs
}

// AuthMechanisms lists the SASL mechanisms; none before TLS, and none on
// an inbound listener.
func (s *session) AuthMechanisms() []string {
	if !s.tlsOn || s.lo.Mode == ModeInbound {
		return nil
	}
	return s.gw.deps.Auth.Mechanisms()
}

// auth starts a SASL exchange (Auth in observe.go records it).
func (s *session) auth(mech string) (sasl.Server, error) {
	switch {
	case s.lo.Mode == ModeInbound:
		return nil, replyAuthUnsupported
	case !s.tlsOn:
		s.log.Warn("auth refused", slog.String("reason", "no TLS"), slog.String("mechanism", mech))
		return nil, replyEncryptionRequired
	case s.user != nil:
		return nil, replyAlreadyAuthenticated
	}
	info := authn.ConnInfo{RemoteIP: s.ip, Listener: s.lo.Name, TLS: s.tlsOn}
	srv, err := s.gw.deps.Auth.NewServer(s.ctx, mech, info, func(u *directory.User) {
		s.user = u
		s.authMech = mech
		s.log = s.log.With(slog.String("login", u.Login))
	})
	if err != nil {
		return nil, s.authReply(err)
	}
	return saslReplies{srv, s}, nil
}

// authReply is reply for authn's errors: a client cut off for too many
// failures gets authn's 421 and the connection closes.
func (s *session) authReply(err error) error {
	var ae *authn.Error
	if errors.As(err, &ae) && ae.Kind == authn.KindThrottled {
		code, enh, text := ae.Reply()
		s.log.Warn("auth cut off", slog.String("reason", ae.Reason))
		s.closeWith(fmt.Sprintf("%d %d.%d.%d %s", code, enh[0], enh[1], enh[2], text))
	}
	return s.reply(err)
}

// saslReplies turns authn's errors into SMTP replies on their way out.
type saslReplies struct {
	sasl.Server
	s *session
}

func (r saslReplies) Next(response []byte) ([]byte, bool, error) {
	ch, done, err := r.Server.Next(response)
	if err != nil {
		return nil, false, r.s.authReply(err)
	}
	return ch, done, nil
}

// Reset discards the current transaction.
func (s *session) Reset() {
	s.observeReset()
	s.tx = transaction{}
}

// Logout ends the session and logs it.
func (s *session) Logout() error {
	defer s.cancel()
	if _, nowTLS := s.conn.TLSConnectionState(); nowTLS && !s.tlsOn {
		// STARTTLS: go-smtp continues with a new session.
		s.ended(true)
		return nil
	}
	s.ended(false)
	s.log.Info("session end",
		slog.String("auth", s.authMech),
		slog.Int("messages", s.messages),
		slog.Int("refused", s.refused),
		slog.Duration("duration", time.Since(s.start)))
	return nil
}

// tlsState returns the connection's TLS state, if any.
func (s *session) tlsState() (tls.ConnectionState, bool) {
	return s.conn.TLSConnectionState()
}
