package gateway

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/gateway/queue"
)

// authRequired reports whether the listener relays only for logged-in users.
func (s *session) authRequired() bool { return s.lo.Mode != ModeInbound }

// mail starts a transaction: the sender must be one of the login's
// addresses. (Mail in observe.go records it.)
func (s *session) mail(from string, opts *smtp.MailOptions) error {
	if s.authRequired() && s.user == nil {
		s.log.Warn("mail refused", slog.String("reason", "not authenticated"), slog.String("from", from))
		return replyAuthRequired
	}
	if s.messages >= s.lo.Limits.MaxMessagesPerConnection {
		s.log.Warn("mail refused", slog.String("reason", "too many messages on this connection"), slog.Int("limit", s.lo.Limits.MaxMessagesPerConnection))
		s.closeWith("421 4.7.0 Too many messages on this connection, reconnect to send more")
		return replyLocalError
	}
	if err := s.admitMessage(); err != nil {
		return err
	}
	if from != "" && !validAddress(from) {
		return replyBadSender
	}
	if opts != nil && opts.Size > s.lo.Limits.MaxMessageSize {
		s.log.Warn("mail refused", slog.String("reason", "declared size over limit"), slog.Int64("size", opts.Size))
		return replyTooBig
	}
	if s.lo.Mode != ModeInbound && from != "" && !s.user.MaySendAs(from) {
		s.log.Warn("mail refused", slog.String("reason", "sender not owned by login"), slog.String("from", from))
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "Sender address rejected: not owned by user " + s.user.Login}
	}
	s.tx = transaction{active: true, from: from}
	if opts != nil {
		s.tx.opts = *opts
	}
	return nil
}

// rcpt adds a recipient: local ones must exist, remote ones are relayed
// for authenticated sessions only. (Rcpt in observe.go records it.)
func (s *session) rcpt(to string, opts *smtp.RcptOptions) error {
	if s.authRequired() && s.user == nil {
		return replyAuthRequired
	}
	if !validAddress(to) {
		return replyBadAddress
	}
	if len(s.tx.rcpts) >= s.lo.Limits.MaxRecipients {
		s.log.Warn("rcpt refused", slog.String("reason", "too many recipients"), slog.Int("limit", s.lo.Limits.MaxRecipients))
		return replyTooManyRecipients
	}
	for _, r := range s.tx.rcpts {
		if strings.EqualFold(r.Address, to) {
			return nil // the same recipient twice gets one copy
		}
	}
	rcpt := &queue.Recipient{Address: to, State: queue.StatePending}
	if opts != nil {
		for _, n := range opts.Notify {
			rcpt.Notify = append(rcpt.Notify, string(n))
		}
		if opts.OriginalRecipient != "" {
			rcpt.ORCPT = string(opts.OriginalRecipientType) + ";" + opts.OriginalRecipient
		}
	}
	if s.gw.domains[domainOf(to)] {
		ctx, cancel := context.WithTimeout(s.ctx, lookupTimeout)
		defer cancel()
		r, err := s.gw.deps.Directory.LookupRecipient(ctx, to)
		switch {
		case errors.Is(err, directory.ErrNotFound):
			s.log.Info("rcpt refused", slog.String("reason", "unknown recipient"), slog.String("rcpt", to))
			return replyNoSuchUser
		case err != nil:
			return s.reply(err)
		}
		rcpt.Backend = r.Backend
	} else if s.user == nil {
		s.log.Warn("rcpt refused", slog.String("reason", "relay denied"), slog.String("rcpt", to))
		return replyRelayDenied
	}
	s.tx.rcpts = append(s.tx.rcpts, rcpt)
	return nil
}

// closeWith writes a last reply straight to the connection and closes it;
// go-smtp's own reply to the command then goes nowhere.
func (s *session) closeWith(line string) {
	c := s.conn.Conn()
	_, _ = c.Write([]byte(line + "\r\n"))
	_ = c.Close()
}

// domainOf returns the lower-cased domain of an address.
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
}

// validAddress checks the shape local@domain with a plausible domain.
func validAddress(addr string) bool {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 || len(addr) > 254 {
		return false
	}
	d := addr[i+1:]
	if strings.HasPrefix(d, "[") && strings.HasSuffix(d, "]") {
		return true
	}
	for _, label := range strings.Split(strings.TrimSuffix(d, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80) {
				return false
			}
		}
	}
	return !strings.ContainsAny(addr, " \t\r\n\x00")
}
