package gateway

import (
	"log/slog"
	"net/netip"

	"github.com/emersion/go-smtp"
)

// connRateReply answers a connection over the per-IP connection rate, in
// the words of Postfix's anvil limits.
func connRateReply(ip netip.Addr) string {
	return "421 4.7.0 Error: too many connections from " + ip.String() + "\r\n"
}

// admitMessage is the MAIL FROM check of the listener's per-IP message
// rate (450 4.7.1 over it, as Postfix's smtpd_client_message_rate_limit
// answers); on an inbound listener it also starts looking up the client's
// name for the Received header, so the lookup runs while the envelope and
// the message arrive.
func (s *session) admitMessage() error {
	cc := countedConnOf(s.conn.Conn())
	if cc == nil {
		return nil
	}
	if s.lo.Mode == ModeInbound {
		cc.rdns.start(s.gw.sessionsCtx, s.gw.opts.Resolver, s.ip)
	}
	if !cc.l.msgRate.allow(s.ip) {
		s.log.Warn("mail refused", slog.String("reason", "message rate"), slog.Int("per_minute", cc.l.msgRate.perMinute))
		return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1},
			Message: "Error: too much mail from " + s.ip.String()}
	}
	return nil
}
