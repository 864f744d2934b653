// Package smtpwire is the client side of the SMTP and LMTP wire protocol
// (RFC 5321, 2033): commands buffered so that a pipelined group (RFC 2920)
// leaves in one write, replies read in order with bounded size, the
// extensions EHLO announced, SASL AUTH (RFC 4954) and bulk dot-stuffing of
// a message body. It is written here because go-smtp's client neither
// pipelines nor writes a body faster than a byte at a time; the relay to
// the back ends and the load tool both use it. A reply that is not
// positive is returned as *smtp.SMTPError; any other error means the
// connection is unusable.
package smtpwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
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

// Client is the client side of one SMTP or LMTP connection.
type Client struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	lmtp bool
	ext  map[string]string // EHLO keywords (upper case) and their parameters
}

// NewClient starts a client on conn; lmtp says LHLO instead of EHLO.
func NewClient(conn net.Conn, lmtp bool) *Client {
	return &Client{conn: conn, lmtp: lmtp, br: bufio.NewReaderSize(conn, 4096), bw: bufio.NewWriterSize(conn, 16<<10)}
}

// Conn is the connection the client speaks on.
func (c *Client) Conn() net.Conn { return c.conn }

// LMTP reports whether the client speaks LMTP.
func (c *Client) LMTP() bool { return c.lmtp }

// Buffered is how many bytes the server sent that no reply read yet: any
// after the 220 to STARTTLS is an injection attempt.
func (c *Client) Buffered() int { return c.br.Buffered() }

// Writer is the client's write buffer, for a message body; Flush sends it.
func (c *Client) Writer() io.Writer { return c.bw }

// Reply is one complete server reply; Text is its lines' text joined by
// "\n", without the codes.
type Reply struct {
	Code int
	Text string
}

// Err returns r as an *smtp.SMTPError, its enhanced status code (RFC
// 3463) split off when there is one.
func (r Reply) Err() *smtp.SMTPError {
	se := &smtp.SMTPError{Code: r.Code, Message: r.Text}
	first, rest, ok := strings.Cut(r.Text, " ")
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

// Expect returns r when its code is of the class of want (its first
// digit), else r as an error.
func (r Reply) Expect(want int) (Reply, error) {
	if r.Code/100 != want/100 {
		return r, r.Err()
	}
	return r, nil
}

// ErrMalformed marks a reply that does not follow RFC 5321 section 4.2.
var ErrMalformed = errors.New("malformed reply")

// ReadReply reads one reply, multi-line or not.
func (c *Client) ReadReply() (Reply, error) {
	var r Reply
	var sb strings.Builder
	for n := 0; ; n++ {
		if n == maxReplyLines {
			return Reply{}, fmt.Errorf("read reply: more than %d lines: %w", maxReplyLines, ErrMalformed)
		}
		line, err := c.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxReplyLine {
			return Reply{}, fmt.Errorf("read reply: line longer than %d bytes: %w", maxReplyLine, ErrMalformed)
		}
		if err != nil {
			return Reply{}, fmt.Errorf("read reply: %w", err)
		}
		line = trimEOL(line)
		if len(line) < 3 || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
			return Reply{}, fmt.Errorf("read reply %q: %w", line, ErrMalformed)
		}
		code, err := strconv.Atoi(string(line[:3]))
		if err != nil || code < 200 || code > 599 || (n > 0 && code != r.Code) {
			return Reply{}, fmt.Errorf("read reply %q: %w", line, ErrMalformed)
		}
		r.Code = code
		if n > 0 {
			sb.WriteByte('\n')
		}
		if len(line) > 4 {
			sb.Write(line[4:])
		}
		if len(line) == 3 || line[3] == ' ' {
			r.Text = sb.String()
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

// WriteCmd buffers one command line; Flush sends what is buffered.
func (c *Client) WriteCmd(line string) error {
	if strings.ContainsAny(line, "\r\n") {
		return errors.New("command contains CR or LF")
	}
	c.bw.WriteString(line)
	_, err := c.bw.WriteString("\r\n")
	return err
}

// Flush sends what is buffered.
func (c *Client) Flush() error {
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// Cmd sends one command and reads its reply, which must be of the class
// of want (any reply when want is 0).
func (c *Client) Cmd(want int, line string) (Reply, error) {
	if err := c.WriteCmd(line); err != nil {
		return Reply{}, err
	}
	if err := c.Flush(); err != nil {
		return Reply{}, err
	}
	r, err := c.ReadReply()
	if err != nil || want == 0 {
		return r, err
	}
	return r.Expect(want)
}

// Greet reads the server's greeting.
func (c *Client) Greet() error {
	r, err := c.ReadReply()
	if err != nil {
		return err
	}
	_, err = r.Expect(220)
	return err
}

// Hello says EHLO (LHLO for LMTP) and keeps the extensions; a server
// that does not know EHLO gets HELO.
func (c *Client) Hello(name string) error {
	verb := "EHLO "
	if c.lmtp {
		verb = "LHLO "
	}
	r, err := c.Cmd(250, verb+name)
	var se *smtp.SMTPError
	if !c.lmtp && errors.As(err, &se) && (se.Code == 500 || se.Code == 502) {
		c.ext = map[string]string{}
		_, err = c.Cmd(250, "HELO "+name)
		return err
	}
	if err != nil {
		return err
	}
	c.ext = map[string]string{}
	if _, rest, ok := strings.Cut(r.Text, "\n"); ok {
		for _, line := range strings.Split(rest, "\n") {
			kw, params, _ := strings.Cut(strings.TrimSpace(line), " ")
			c.ext[strings.ToUpper(kw)] = params
		}
	}
	return nil
}

// Extension reports whether the server announced kw (upper case), and
// its parameters.
func (c *Client) Extension(kw string) (bool, string) {
	p, ok := c.ext[kw]
	return ok, p
}

// Has reports whether the server announced kw (upper case).
func (c *Client) Has(kw string) bool {
	_, ok := c.ext[kw]
	return ok
}

// Quit sends QUIT and reads the reply.
func (c *Client) Quit() error {
	_, err := c.Cmd(221, "QUIT")
	return err
}

// Rset aborts the transaction in progress.
func (c *Client) Rset() error {
	_, err := c.Cmd(250, "RSET")
	return err
}
