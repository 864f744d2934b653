package delivery

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"
)

// Limits on what the client reads from a server.
const (
	maxReplyLine  = 2000 // bytes in one reply line, CRLF included
	maxReplyLines = 200  // lines in one (multi-line) reply
)

// client is the SMTP/LMTP client side of one connection: buffered writes,
// so that a group of commands leaves in one write, and replies read one
// at a time in order. Server replies that are not positive come back as
// *smtp.SMTPError; any other error means the connection is unusable.
type client struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	lmtp bool
	ext  map[string]string // EHLO keywords (upper case) and their parameters
	// copyBuf carries message bodies from the queue to bw, made at the
	// first message.
	copyBuf []byte
}

func newClient(conn net.Conn, lmtp bool) *client {
	return &client{conn: conn, lmtp: lmtp, br: bufio.NewReaderSize(conn, 4096), bw: bufio.NewWriterSize(conn, 16<<10)}
}

// reply is one complete server reply; text is its lines' text joined by
// "\n", without the codes.
type reply struct {
	code int
	text string
}

// err returns r as the *smtp.SMTPError the result mapping expects, its
// enhanced status code split off when there is one.
func (r reply) err() *smtp.SMTPError {
	se := &smtp.SMTPError{Code: r.code, Message: r.text}
	first, rest, ok := strings.Cut(r.text, " ")
	if !ok {
		return se
	}
	parts := strings.Split(first, ".")
	if len(parts) != 3 {
		return se
	}
	var ec smtp.EnhancedCode
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return se
		}
		ec[i] = n
	}
	se.EnhancedCode = ec
	// RFC 2034: the code starts every line.
	se.Message = strings.ReplaceAll(rest, "\n"+first+" ", "\n")
	return se
}

// expect returns r when its code is of the class of want (its first
// digit), else r as an error.
func (r reply) expect(want int) (reply, error) {
	if r.code/100 != want/100 {
		return r, r.err()
	}
	return r, nil
}

// errMalformed marks a reply that does not follow RFC 5321 section 4.2.
var errMalformed = errors.New("malformed reply")

// readReply reads one reply, multi-line or not.
func (c *client) readReply() (reply, error) {
	var r reply
	var sb strings.Builder
	for n := 0; ; n++ {
		if n == maxReplyLines {
			return reply{}, fmt.Errorf("read reply: more than %d lines: %w", maxReplyLines, errMalformed)
		}
		line, err := c.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxReplyLine {
			return reply{}, fmt.Errorf("read reply: line longer than %d bytes: %w", maxReplyLine, errMalformed)
		}
		if err != nil {
			return reply{}, fmt.Errorf("read reply: %w", err)
		}
		line = trimEOL(line)
		if len(line) < 3 || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
			return reply{}, fmt.Errorf("read reply %q: %w", line, errMalformed)
		}
		code, err := strconv.Atoi(string(line[:3]))
		if err != nil || code < 200 || code > 599 || (n > 0 && code != r.code) {
			return reply{}, fmt.Errorf("read reply %q: %w", line, errMalformed)
		}
		r.code = code
		if n > 0 {
			sb.WriteByte('\n')
		}
		if len(line) > 4 {
			sb.Write(line[4:])
		}
		if len(line) == 3 || line[3] == ' ' {
			r.text = sb.String()
			return r, nil
		}
	}
}

func trimEOL(b []byte) []byte {
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

// writeCmd buffers one command line; flush sends what is buffered.
func (c *client) writeCmd(line string) error {
	if strings.ContainsAny(line, "\r\n") {
		return errors.New("command contains CR or LF")
	}
	c.bw.WriteString(line)
	_, err := c.bw.WriteString("\r\n")
	return err
}

func (c *client) flush() error {
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// cmd sends one command and reads its reply, which must be of the class
// of want (any reply when want is 0).
func (c *client) cmd(want int, line string) (reply, error) {
	if err := c.writeCmd(line); err != nil {
		return reply{}, err
	}
	if err := c.flush(); err != nil {
		return reply{}, err
	}
	r, err := c.readReply()
	if err != nil || want == 0 {
		return r, err
	}
	return r.expect(want)
}

// greet reads the server's greeting.
func (c *client) greet() error {
	r, err := c.readReply()
	if err != nil {
		return err
	}
	_, err = r.expect(220)
	return err
}

// hello says EHLO (LHLO for LMTP) and keeps the extensions; a server
// that does not know EHLO gets HELO.
func (c *client) hello(name string) error {
	verb := "EHLO "
	if c.lmtp {
		verb = "LHLO "
	}
	r, err := c.cmd(250, verb+name)
	var se *smtp.SMTPError
	if !c.lmtp && errors.As(err, &se) && (se.Code == 500 || se.Code == 502) {
		c.ext = map[string]string{}
		_, err = c.cmd(250, "HELO "+name)
		return err
	}
	if err != nil {
		return err
	}
	c.ext = map[string]string{}
	if _, rest, ok := strings.Cut(r.text, "\n"); ok {
		for _, line := range strings.Split(rest, "\n") {
			kw, params, _ := strings.Cut(strings.TrimSpace(line), " ")
			c.ext[strings.ToUpper(kw)] = params
		}
	}
	return nil
}

// extension reports whether the server announced kw, and its parameters.
func (c *client) extension(kw string) (bool, string) {
	p, ok := c.ext[kw]
	return ok, p
}

func (c *client) has(kw string) bool {
	_, ok := c.ext[kw]
	return ok
}

// quit sends QUIT and reads the reply.
func (c *client) quit() error {
	_, err := c.cmd(221, "QUIT")
	return err
}

// rset aborts the transaction in progress.
func (c *client) rset() error {
	_, err := c.cmd(250, "RSET")
	return err
}
