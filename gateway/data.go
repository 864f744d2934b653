package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/internal/mailtext"
	"bridgehead.dev/bridgehead/metrics"
)

const (
	// maxHeaderBytes bounds the header section read into memory.
	maxHeaderBytes = 1 << 20
	// lookupTimeout bounds one directory lookup during a command.
	lookupTimeout = 30 * time.Second
)

// receive takes the message, checks it, adds the MSA's headers and writes
// it to the queue. The 250 is given only once the queue has it on disk.
// (Data in observe.go records it.)
func (s *session) receive(r io.Reader) error {
	_ = s.conn.Conn().SetReadDeadline(time.Now().Add(s.lo.Limits.DataTimeout))
	err := s.data(r)
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code < 400 {
		return se // the 250 with the queue id
	}
	if err != nil {
		s.refused++
		err = s.dataReply(err)
		if errors.As(err, &se) {
			s.log.Warn("message refused", slog.String("from", s.tx.from), slog.Int("rcpts", len(s.tx.rcpts)),
				slog.Int("code", se.Code), slog.String("reply", se.Message))
		}
	}
	return err
}

func (s *session) data(r io.Reader) error {
	br := s.gw.ctl.dataReader(&strictReader{r: r, maxLine: s.lo.Limits.MaxLineLength})
	defer s.gw.ctl.putDataReader(br)
	raw, err := readHeaderBlock(br)
	if err != nil {
		return err
	}
	hdr, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return replyBadHeader
	}
	if n := countReceived(&hdr); n > s.gw.opts.MaxHops {
		s.log.Warn("loop suspected", slog.Int("received", n))
		return replyLoop
	}
	if s.lo.Mode != ModeInbound {
		if err := s.checkFromHeader(&hdr); err != nil {
			return err
		}
	}

	q := s.gw.deps.Queue
	now := time.Now()
	env := &queue.Envelope{
		ID:         q.NewID(),
		From:       s.tx.from,
		Recipients: s.tx.rcpts,
		ClientIP:   s.ip.String(),
		Listener:   s.lo.Name,
		Ret:        string(s.tx.opts.Return),
		EnvID:      s.tx.opts.EnvelopeID,
	}
	if s.user != nil {
		env.Login = s.user.Login
	}
	var filtered []byte // the message as the filters left it; nil without filters
	if len(s.lo.Filters) > 0 {
		if filtered, err = s.runFilters(env, raw, br); err != nil {
			s.obs.why = metrics.ReasonFilter
			return err
		}
	}
	tx, err := q.Begin(env)
	if err != nil {
		return err
	}
	defer tx.Abort() // no-op after Commit
	tx.Annotate(s.queuedAttrs()...)

	var added bytes.Buffer
	added.WriteString(s.receivedHeader(env.ID, len(env.Recipients), env.Recipients[0].Address, now))
	if s.lo.Mode != ModeInbound {
		// RFC 6409 8.2, 8.3: the MSA completes what the client left out.
		if !hdr.Has("Date") {
			added.WriteString("Date: " + now.Format(time.RFC1123Z) + "\r\n")
		}
		if !hdr.Has("Message-Id") {
			added.WriteString("Message-ID: " + mailtext.MessageID(env.ID, s.gw.opts.Hostname) + "\r\n")
		}
	}
	if _, err := tx.Write(added.Bytes()); err != nil {
		return err
	}
	if filtered != nil {
		if _, err := tx.Write(filtered); err != nil {
			return err
		}
	} else {
		if _, err := tx.Write(raw); err != nil {
			return err
		}
		if _, err := br.WriteTo(tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(s.ctx); err != nil {
		return err
	}
	s.messages++
	s.tx = transaction{}
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK queued as " + env.ID}
}

// dataReply maps what went wrong while reading the message to a reply.
func (s *session) dataReply(err error) error {
	var se *smtp.SMTPError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, errBareLF):
		return replyBareLF
	case errors.Is(err, errLineTooLong), errors.Is(err, smtp.ErrTooLongLine):
		// go-smtp's own line limit usually trips first; its error is no
		// *smtp.SMTPError and would otherwise become a 451.
		return replyLineTooLong
	case errors.As(err, &ne) && ne.Timeout():
		return replyTimeout
	}
	return s.reply(err)
}

// checkFromHeader requires every From address to be one the login may send
// as (maddy's check; the envelope alone is not enough).
func (s *session) checkFromHeader(h *textproto.Header) error {
	addrs, ok := fromAddresses(h)
	if !ok {
		return replyNoFrom
	}
	for _, a := range addrs {
		if s.user == nil || !s.user.MaySendAs(a) {
			s.log.Warn("message refused", slog.String("reason", "From header not owned by login"), slog.String("header_from", a))
			return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
				Message: "From header address rejected: not owned by the authenticated user"}
		}
	}
	return nil
}

// readHeaderBlock reads the header section up to and including the empty
// line that ends it (or to the end of a message that has no body).
func readHeaderBlock(br *bufio.Reader) ([]byte, error) {
	var buf bytes.Buffer
	lineStart := 0 // where the current line began in buf
	for {
		line, err := br.ReadSlice('\n')
		buf.Write(line)
		if buf.Len() > maxHeaderBytes {
			return nil, replyBadHeader
		}
		switch {
		case err == io.EOF:
			if buf.Len() > 0 && !bytes.HasSuffix(buf.Bytes(), []byte("\r\n")) {
				buf.WriteString("\r\n")
			}
			return buf.Bytes(), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue // a line longer than the buffer: read on
		case err != nil:
			return nil, err
		}
		// Only a whole line of "\r\n" ends the header section, not the tail
		// of a line that filled the buffer.
		if buf.Len()-lineStart == 2 {
			return buf.Bytes(), nil
		}
		lineStart = buf.Len()
	}
}
