package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// handshakeError is a failed TLS handshake after STARTTLS (or a TLS
// session failing at its first exchange, as TLS 1.3 reports a refused
// client certificate): the connection is lost, an opportunistic caller
// dials again without TLS.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return "TLS handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// negotiateTLS reads the greeting, says EHLO/LHLO and runs STARTTLS on a
// fresh connection, by hand: go-smtp v0.25's client can only STARTTLS
// before its own EHLO, which it then sends as "localhost". The returned
// connection replays a 220 greeting so that a new go-smtp client can start
// on it with its own EHLO/LHLO (the one after STARTTLS, or a second one in
// plain text when opportunistic TLS did not happen).
//
// It reports whether TLS is on.
func (d *Deliverer) negotiateTLS(ctx context.Context, conn net.Conn, t *target, policy TLSPolicy) (net.Conn, bool, error) {
	br := bufio.NewReader(conn)
	tp := textproto.NewReader(br)
	step := func(expect int, cmd string) (string, error) {
		_ = conn.SetDeadline(time.Now().Add(bounded(ctx, d.opts.CommandTimeout)))
		if cmd != "" {
			if _, err := io.WriteString(conn, cmd+"\r\n"); err != nil {
				return "", err
			}
		}
		_, msg, err := tp.ReadResponse(expect)
		var pe *textproto.Error
		if errors.As(err, &pe) {
			return "", &smtp.SMTPError{Code: pe.Code, Message: pe.Msg}
		}
		return msg, err
	}
	defer conn.SetDeadline(time.Time{})
	if _, err := step(220, ""); err != nil {
		return nil, false, fmt.Errorf("greeting: %w", err)
	}
	hello := "EHLO "
	if t.scheme == schemeLMTP {
		hello = "LHLO "
	}
	ext, err := step(250, hello+d.opts.Hostname)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", strings.TrimSpace(hello), err)
	}
	plain := func() net.Conn { return replayConn(conn, br) }
	if !offersSTARTTLS(ext) {
		if policy == PolicyOpportunistic {
			return plain(), false, nil
		}
		return nil, false, errors.New("STARTTLS not offered, TLS policy " + string(policy))
	}
	if _, err := step(220, "STARTTLS"); err != nil {
		var se *smtp.SMTPError
		if policy == PolicyOpportunistic && errors.As(err, &se) {
			return plain(), false, nil
		}
		return nil, false, fmt.Errorf("STARTTLS: %w", err)
	}
	if br.Buffered() > 0 {
		return nil, false, errors.New("STARTTLS: data after the 220 reply")
	}
	tc := tls.Client(conn, t.tlsConfig())
	hctx, cancel := context.WithTimeout(ctx, d.opts.DialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil, false, &handshakeError{err}
	}
	return replayConn(tc, tc), true, nil
}

func offersSTARTTLS(ehlo string) bool {
	for _, line := range strings.Split(ehlo, "\n")[1:] {
		if kw, _, _ := strings.Cut(strings.TrimSpace(line), " "); strings.EqualFold(kw, "STARTTLS") {
			return true
		}
	}
	return false
}

// greetedConn reads a replayed greeting, then the connection.
type greetedConn struct {
	net.Conn
	r io.Reader
}

func (g *greetedConn) Read(b []byte) (int, error) { return g.r.Read(b) }

func replayConn(c net.Conn, r io.Reader) net.Conn {
	return &greetedConn{Conn: c, r: io.MultiReader(strings.NewReader("220 greeting already read\r\n"), r)}
}
