package gateway

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/gateway/protolog"
	"bridgehead.dev/bridgehead/metrics"
)

// This file records what sessions do: Prometheus metrics and one protocol
// log line per command, with the reply the command got. go-smtp calls the
// exported Session methods here; each hands over to the policy behind it
// (mail, rcpt, receive, auth) and records the outcome.

// observed is a session's state for metrics and the protocol log.
type observed struct {
	// why is the refusal reason of the reply being returned when its
	// reply alone does not say (filters).
	why string
	// helo is the EHLO/HELO name the session last saw.
	helo string
	// afterData is set while go-smtp resets the transaction after DATA,
	// which is no RSET of the client's.
	afterData bool
	// bytesIn and bytesOut add up the commands and replies logged, for
	// the session's last line.
	bytesIn, bytesOut int64
}

// Mail records MAIL FROM and its reply.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	start := time.Now()
	err := s.mail(from, opts)
	s.command("MAIL", "FROM:<"+from+">", start, err, 0)
	return err
}

// Rcpt records RCPT TO and its reply.
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	start := time.Now()
	err := s.rcpt(to, opts)
	s.command("RCPT", "TO:<"+to+">", start, err, 0)
	return err
}

// Data records DATA (and BDAT) with the size of the message and the reply.
func (s *session) Data(r io.Reader) error {
	start := time.Now()
	cr := &countingReader{r: r}
	err := s.receive(cr)
	s.obs.afterData = true
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code < 400 {
		s.gw.opts.Metrics.MessageAccepted(s.lo.Name, cr.n)
	}
	s.command("DATA", queueIDOf(err), start, err, cr.n)
	return err
}

// Auth starts a SASL exchange whose outcome is recorded when it ends. Only
// the mechanism is ever recorded, never what the client sends.
func (s *session) Auth(mech string) (sasl.Server, error) {
	start := time.Now()
	srv, err := s.auth(mech)
	if err != nil {
		s.authDone(mech, start, err)
		return nil, err
	}
	return &observedSASL{Server: srv, s: s, mech: mech, start: start}, nil
}

// observedSASL records the end of a SASL exchange.
type observedSASL struct {
	sasl.Server
	s     *session
	mech  string
	start time.Time
	done  bool
}

func (o *observedSASL) Next(response []byte) ([]byte, bool, error) {
	ch, done, err := o.Server.Next(response)
	if (done || err != nil) && !o.done {
		o.done = true
		o.s.authDone(o.mech, o.start, err)
	}
	return ch, done, err
}

// authDone records an AUTH that ended with err (nil: success).
func (s *session) authDone(mech string, start time.Time, err error) {
	code := replyCode(err, 235)
	result := metrics.AuthSuccess
	switch {
	case code == 421:
		result = metrics.AuthThrottled
		s.gw.opts.Metrics.Throttled(s.lo.Name)
	case code >= 500:
		result = metrics.AuthFailure
	case code >= 400:
		result = metrics.AuthError
	}
	s.gw.opts.Metrics.Auth(s.lo.Name, mech, result)
	s.logLine("AUTH", metrics.Mechanism(mech), start, code, int64(len("AUTH ")+len(mech)+2), replyLen(code, err))
}

// command records a MAIL, RCPT or DATA that got err (nil: 250).
func (s *session) command(verb, arg string, start time.Time, err error, size int64) {
	code := replyCode(err, 250)
	if code >= 400 {
		reason := s.refusalReason(verb, err)
		s.gw.opts.Metrics.MessageRefused(s.lo.Name, reason)
		if reason == metrics.ReasonRate {
			s.gw.opts.Metrics.Throttled(s.lo.Name)
		}
	}
	s.obs.why = ""
	in := size
	if verb != "DATA" {
		in = int64(len(verb) + 1 + len(arg) + 2)
	}
	s.logLine(verb, arg, start, code, in, replyLen(code, err))
}

// started records a new go-smtp session: it begins at EHLO (or HELO),
// first on the connection or after STARTTLS.
func (s *session) started(state tls.ConnectionState, isTLS bool) {
	if isTLS {
		s.gw.opts.Metrics.TLSHandshake(s.lo.Name, state.Version)
	}
	s.obs.helo = s.conn.Hostname()
	s.logLine("EHLO", s.obs.helo, s.start, 250, int64(len("EHLO ")+len(s.obs.helo)+2), 0)
}

// observeReset records RSET, or a new EHLO, which resets the same way;
// go-smtp's own reset after DATA is not the client's.
func (s *session) observeReset() {
	if s.obs.afterData {
		s.obs.afterData = false
		return
	}
	if h := s.conn.Hostname(); h != s.obs.helo {
		s.obs.helo = h
		s.logLine("EHLO", h, time.Now(), 250, int64(len("EHLO ")+len(h)+2), 0)
		return
	}
	s.logLine("RSET", "", time.Now(), 250, int64(len("RSET\r\n")), int64(len("250 2.0.0 Session reset\r\n")))
}

// ended records the end of a session: at STARTTLS, which go-smtp answers
// 220 before the handshake, or at the end of the connection, logged as
// IIS does with QUIT, status 240 and the session's time and bytes.
func (s *session) ended(startTLS bool) {
	if startTLS {
		s.logLine("STARTTLS", "", time.Now(), 220, int64(len("STARTTLS\r\n")), int64(len("220 2.0.0 Ready to start TLS\r\n")))
		return
	}
	s.logLine("QUIT", "", s.start, 240, s.obs.bytesIn, s.obs.bytesOut)
}

// logLine writes one protocol log line; time-taken is from start.
func (s *session) logLine(verb, arg string, start time.Time, code int, in, out int64) {
	s.obs.bytesIn += in
	s.obs.bytesOut += out
	pl := s.lo.ProtocolLog
	if pl == nil {
		return
	}
	e := protolog.Entry{
		ClientIP:      s.ip,
		Method:        verb,
		Query:         arg,
		Status:        code,
		BytesSent:     out,
		BytesReceived: in,
		TimeTaken:     time.Since(start),
	}
	if s.user != nil {
		e.Username = s.user.Login
	}
	if ta, ok := s.conn.Conn().LocalAddr().(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		e.ServerIP, e.ServerPort = ap.Addr().Unmap(), int(ap.Port())
	} else if ap, err := netip.ParseAddrPort(s.conn.Conn().LocalAddr().String()); err == nil {
		e.ServerIP, e.ServerPort = ap.Addr().Unmap(), int(ap.Port())
	}
	pl.Log(e)
}

// refusals maps the fixed replies to their refusal reasons.
var refusals = map[*smtp.SMTPError]string{
	replyAuthRequired:      metrics.ReasonAuth,
	replyNoSuchUser:        metrics.ReasonRecipient,
	replyRelayDenied:       metrics.ReasonRelay,
	replyBadAddress:        metrics.ReasonSyntax,
	replyBadSender:         metrics.ReasonSyntax,
	replyBadHeader:         metrics.ReasonSyntax,
	replyNoFrom:            metrics.ReasonSyntax,
	replyLineTooLong:       metrics.ReasonSyntax,
	replyTooManyRecipients: metrics.ReasonLimit,
	replyTooBig:            metrics.ReasonSize,
	replyBareLF:            metrics.ReasonSmuggling,
}

// refusalReason is the messages_refused_total reason of a refused verb.
func (s *session) refusalReason(verb string, err error) string {
	if s.obs.why != "" {
		return s.obs.why
	}
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return metrics.ReasonOther
	}
	if r, ok := refusals[se]; ok {
		return r
	}
	switch {
	case se == replyLocalError && verb == "MAIL":
		return metrics.ReasonLimit // too many messages on the connection
	case se == replyLocalError && verb == "DATA":
		return metrics.ReasonQueue
	case se.Code == 553 && se.EnhancedCode == smtp.EnhancedCode{5, 7, 1}:
		return metrics.ReasonSender
	case se.Code == 450 && se.EnhancedCode == smtp.EnhancedCode{4, 7, 1}:
		return metrics.ReasonRate
	case errors.Is(err, smtp.ErrDataTooLarge), se.Code == 552:
		return metrics.ReasonSize
	}
	return metrics.ReasonOther
}

// replyCode is the code of the reply err gives, ok when err is nil.
func replyCode(err error, ok int) int {
	if err == nil {
		return ok
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 554 // what go-smtp answers to other errors after DATA
}

// replyLen is about the size of the reply line for err.
func replyLen(code int, err error) int64 {
	text := "OK"
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		text = se.Message
	}
	return int64(len(strconv.Itoa(code)) + len(" 2.0.0 ") + len(text) + 2)
}

// queueIDOf is the queue id in a DATA reply "250 ... OK queued as ID".
func queueIDOf(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code < 400 {
		if i := strings.LastIndexByte(se.Message, ' '); i >= 0 {
			return se.Message[i+1:]
		}
	}
	return ""
}

// countingReader counts the bytes of the message read.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// connMetrics is what a listener records of its connections;
// *metrics.Metrics has it, and a nil one records nothing.
type connMetrics interface {
	ConnectionOpened(listener string)
	ConnectionClosed(listener string)
	Throttled(listener string)
}

var _ connMetrics = (*metrics.Metrics)(nil)
