package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// Limits on what the load tool reads from the server.
const (
	maxWireReplyLine  = 2000
	maxWireReplyLines = 100
)

// wireClient is the load tool's SMTP client. It is written here rather
// than taken from go-smtp because a mail client under load pipelines its
// commands (RFC 2920) and sends a message body it has already
// dot-stuffed, as Outlook and Thunderbird do; go-smtp's client waits for
// each reply and stuffs the body a byte at a time, which would make the
// load tool, not the server, the bottleneck. Replies that are not 2xx/3xx
// come back as *smtp.SMTPError.
type wireClient struct {
	conn    net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration
	ext     map[string]string // EHLO keywords (upper case) and their parameters
}

// newWireClient reads the greeting on conn.
func newWireClient(conn net.Conn, timeout time.Duration) (*wireClient, error) {
	c := &wireClient{conn: conn, timeout: timeout}
	c.attach(conn)
	if _, err := c.expect(220); err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	return c, nil
}

func (c *wireClient) attach(conn net.Conn) {
	c.conn = conn
	c.r = bufio.NewReaderSize(conn, 4096)
	c.w = bufio.NewWriterSize(conn, 4096)
}

// hello sends EHLO and records the extensions.
func (c *wireClient) hello(name string) error {
	c.arm()
	if err := c.write("EHLO " + name + "\r\n"); err != nil {
		return err
	}
	lines, err := c.expect(250)
	if err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	c.ext = map[string]string{}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		c.ext[strings.ToUpper(k)] = v
	}
	return nil
}

// startTLS upgrades the connection; the caller says EHLO again.
func (c *wireClient) startTLS(conf *tls.Config) error {
	c.arm()
	if err := c.write("STARTTLS\r\n"); err != nil {
		return err
	}
	if _, err := c.expect(220); err != nil {
		return fmt.Errorf("starttls: %w", err)
	}
	tc := tls.Client(c.conn, conf)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("starttls: %w", err)
	}
	c.attach(tc)
	return nil
}

// auth logs in with PLAIN or LOGIN.
func (c *wireClient) auth(mech, user, password string) error {
	c.arm()
	b64 := base64.StdEncoding.EncodeToString
	switch mech {
	case "plain":
		if err := c.write("AUTH PLAIN " + b64([]byte("\x00"+user+"\x00"+password)) + "\r\n"); err != nil {
			return err
		}
	case "login":
		for _, step := range []string{"AUTH LOGIN\r\n", b64([]byte(user)) + "\r\n"} {
			if err := c.write(step); err != nil {
				return err
			}
			if _, err := c.expect(334); err != nil {
				return err
			}
		}
		if err := c.write(b64([]byte(password)) + "\r\n"); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown AUTH mechanism %q", mech)
	}
	_, err := c.expect(235)
	return err
}

// send runs one transaction. With pipelining MAIL, the RCPTs and DATA go
// in one write and the replies are read after it; parts (the message,
// already dot-stuffed, ending in CRLF) and the final dot go in a second
// write. A refused recipient is reported even when the others took the
// message.
func (c *wireClient) send(from string, to []string, parts [][]byte, pipelining bool) error {
	c.arm()
	cmds := make([]string, 0, len(to)+2)
	cmds = append(cmds, "MAIL FROM:<"+from+">\r\n")
	for _, r := range to {
		cmds = append(cmds, "RCPT TO:<"+r+">\r\n")
	}
	cmds = append(cmds, "DATA\r\n")
	want := func(i int) int {
		if i == len(cmds)-1 {
			return 354
		}
		return 250
	}
	var first error // the first refusal of MAIL or a RCPT
	if pipelining {
		for _, cmd := range cmds {
			if _, err := c.w.WriteString(cmd); err != nil {
				return err
			}
		}
		if err := c.w.Flush(); err != nil {
			return err
		}
		for i := range cmds {
			_, err := c.expect(want(i))
			var se *smtp.SMTPError
			switch {
			case err == nil:
			case !errors.As(err, &se):
				return err
			case i == len(cmds)-1:
				if first != nil {
					return first // DATA refused for want of MAIL or recipients
				}
				return err
			case first == nil:
				first = err
			}
		}
	} else {
		for i, cmd := range cmds {
			if err := c.write(cmd); err != nil {
				return err
			}
			if _, err := c.expect(want(i)); err != nil {
				return err
			}
		}
	}
	// DATA was accepted: the body goes to the recipients that were.
	for _, p := range parts {
		if _, err := c.w.Write(p); err != nil {
			return err
		}
	}
	if err := c.write(".\r\n"); err != nil {
		return err
	}
	if _, err := c.expect(250); err != nil {
		return err
	}
	return first
}

// reset sends RSET.
func (c *wireClient) reset() error {
	c.arm()
	if err := c.write("RSET\r\n"); err != nil {
		return err
	}
	_, err := c.expect(250)
	return err
}

// quit sends QUIT and closes the connection.
func (c *wireClient) quit() error {
	c.arm()
	err := c.write("QUIT\r\n")
	if err == nil {
		_, err = c.expect(221)
	}
	if cerr := c.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

// arm sets the deadline for the next command and its reply.
func (c *wireClient) arm() { _ = c.conn.SetDeadline(time.Now().Add(c.timeout)) }

// write sends what is buffered and s.
func (c *wireClient) write(s string) error {
	if _, err := c.w.WriteString(s); err != nil {
		return err
	}
	return c.w.Flush()
}

// expect reads one reply: its text lines, or an *smtp.SMTPError when the
// code is not want.
func (c *wireClient) expect(want int) ([]string, error) {
	var lines []string
	code := 0
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				err = errors.New("reply line too long")
			}
			return nil, err
		}
		if len(line) > maxWireReplyLine || len(lines) >= maxWireReplyLines {
			return nil, errors.New("reply too long")
		}
		s := strings.TrimRight(string(line), "\r\n")
		if len(s) < 3 {
			return nil, fmt.Errorf("malformed reply %q", s)
		}
		n, err := strconv.Atoi(s[:3])
		if err != nil || (code != 0 && n != code) {
			return nil, fmt.Errorf("malformed reply %q", s)
		}
		code = n
		more := len(s) > 3 && s[3] == '-'
		if len(s) > 4 {
			lines = append(lines, s[4:])
		} else {
			lines = append(lines, "")
		}
		if !more {
			break
		}
	}
	if code != want {
		return nil, replyError(code, lines)
	}
	return lines, nil
}

// replyError is a refusal as go-smtp's client reports it, so that the
// report groups it by code and enhanced status.
func replyError(code int, lines []string) *smtp.SMTPError {
	se := &smtp.SMTPError{Code: code, EnhancedCode: smtp.NoEnhancedCode, Message: strings.Join(lines, "\n")}
	if f := strings.Fields(lines[0]); len(f) > 0 {
		var ec smtp.EnhancedCode
		if p := strings.Split(f[0], "."); len(p) == 3 {
			ok := true
			for i := range p {
				v, err := strconv.Atoi(p[i])
				ok = ok && err == nil
				ec[i] = v
			}
			if ok && ec[0] == code/100 {
				se.EnhancedCode = ec
				se.Message = strings.TrimSpace(strings.TrimPrefix(se.Message, f[0]))
			}
		}
	}
	return se
}

// dotStuff returns b with a dot added before every line that starts with
// one, as DATA needs.
func dotStuff(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/64)
	for len(b) > 0 { // b starts a line
		if b[0] == '.' {
			out = append(out, '.')
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b...)
			break
		}
		out = append(out, b[:i+1]...)
		b = b[i+1:]
	}
	return out
}
