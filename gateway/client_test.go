package gateway

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// rawClient speaks SMTP line by line over a real connection, for the edge
// cases a client library will not produce. Every step fails the test on an
// I/O error; replies are returned for the test to judge.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	text *textproto.Conn
}

// reply is one SMTP reply: its code, enhanced code ("5.7.11", "" when
// none) and the text of its last line after the enhanced code; lines holds
// every line's text (EHLO keywords).
type reply struct {
	code  int
	enh   string
	text  string
	lines []string
}

func (r reply) String() string { return fmt.Sprintf("%d %s %s", r.code, r.enh, r.text) }

// is reports whether the reply has the code and enhanced code.
func (r reply) is(code int, enh string) bool { return r.code == code && r.enh == enh }

// connected dials the named listener; nothing is read yet. Implicit TLS is
// started on the submissions listener.
func (tg *testGateway) connected(t testing.TB, listener string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", tg.addrs[listener], 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", listener, err)
	}
	if listener == lnSubmissions {
		tc := tls.Client(c, tg.clientTLS)
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.Handshake(); err != nil {
			c.Close()
			t.Fatalf("TLS handshake on %s: %v", listener, err)
		}
		c = tc
	}
	rc := &rawClient{t: t, conn: c, text: textproto.NewConn(c)}
	t.Cleanup(func() { rc.conn.Close() })
	rc.deadline()
	return rc
}

// greeted is connected with the 220 greeting read.
func (tg *testGateway) greeted(t testing.TB, listener string) *rawClient {
	t.Helper()
	c := tg.connected(t, listener)
	if r := c.read(); r.code != 220 {
		t.Fatalf("greeting = %v, want 220", r)
	}
	return c
}

// afterEHLO is greeted with EHLO answered 250.
func (tg *testGateway) afterEHLO(t testing.TB, listener string) *rawClient {
	t.Helper()
	c := tg.greeted(t, listener)
	c.ehlo()
	return c
}

// afterSTARTTLS is afterEHLO on a STARTTLS listener with TLS started and
// EHLO said again; on the submissions listener it is afterEHLO.
func (tg *testGateway) afterSTARTTLS(t testing.TB, listener string) *rawClient {
	t.Helper()
	c := tg.afterEHLO(t, listener)
	if listener != lnSubmissions {
		c.startTLS(tg.clientTLS)
		c.ehlo()
	}
	return c
}

// authenticated is afterSTARTTLS logged in as alice with AUTH PLAIN.
func (tg *testGateway) authenticated(t testing.TB, listener string) *rawClient {
	t.Helper()
	c := tg.afterSTARTTLS(t, listener)
	if r := c.authPlain(aliceLogin, alicePass); r.code != 235 {
		t.Fatalf("AUTH PLAIN = %v, want 235", r)
	}
	return c
}

// deadline bounds the next exchange, so a server that does not answer
// fails the test instead of hanging it.
func (c *rawClient) deadline() { _ = c.conn.SetDeadline(time.Now().Add(30 * time.Second)) }

// read reads one reply.
func (c *rawClient) read() reply {
	c.t.Helper()
	r, err := c.tryRead()
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	return r
}

// tryRead reads one reply, returning the error of a closed connection.
func (c *rawClient) tryRead() (reply, error) {
	c.deadline()
	var r reply
	for {
		line, err := c.text.ReadLine()
		if err != nil {
			return r, err
		}
		if len(line) < 4 {
			return r, fmt.Errorf("short reply line %q", line)
		}
		code := 0
		if _, err := fmt.Sscanf(line[:3], "%d", &code); err != nil {
			return r, fmt.Errorf("reply line %q: %w", line, err)
		}
		r.code = code
		r.lines = append(r.lines, line[4:])
		if line[3] == ' ' {
			r.text = line[4:]
			if f := strings.Fields(r.text); len(f) > 0 && len(f[0]) >= 5 && strings.Count(f[0], ".") == 2 && f[0][0] >= '2' && f[0][0] <= '5' {
				r.enh = f[0]
				r.text = strings.TrimSpace(strings.TrimPrefix(r.text, f[0]))
			}
			return r, nil
		}
	}
}

// cmd sends one command line and reads its reply.
func (c *rawClient) cmd(format string, args ...any) reply {
	c.t.Helper()
	c.send(format, args...)
	return c.read()
}

// send writes one command line.
func (c *rawClient) send(format string, args ...any) {
	c.t.Helper()
	c.deadline()
	if err := c.text.PrintfLine(format, args...); err != nil {
		c.t.Fatalf("send %q: %v", fmt.Sprintf(format, args...), err)
	}
}

// writeRaw writes bytes as they are.
func (c *rawClient) writeRaw(s string) {
	c.t.Helper()
	c.deadline()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// ehlo says EHLO and returns the extension keywords of the 250 reply.
func (c *rawClient) ehlo() []string {
	c.t.Helper()
	r := c.cmd("EHLO client.example.net")
	if r.code != 250 {
		c.t.Fatalf("EHLO = %v, want 250", r)
	}
	return r.lines[1:]
}

// startTLS runs STARTTLS and the handshake.
func (c *rawClient) startTLS(cfg *tls.Config) {
	c.t.Helper()
	if r := c.cmd("STARTTLS"); !r.is(220, "2.0.0") {
		c.t.Fatalf("STARTTLS = %v, want 220 2.0.0", r)
	}
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn = tc
	c.text = textproto.NewConn(tc)
}

// authPlain runs AUTH PLAIN with an initial response.
func (c *rawClient) authPlain(login, pass string) reply {
	c.t.Helper()
	return c.cmd("AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00"+login+"\x00"+pass)))
}

// authLogin runs AUTH LOGIN through its two prompts.
func (c *rawClient) authLogin(login, pass string) reply {
	c.t.Helper()
	if r := c.cmd("AUTH LOGIN"); r.code != 334 {
		return r
	}
	if r := c.cmd("%s", base64.StdEncoding.EncodeToString([]byte(login))); r.code != 334 {
		return r
	}
	return c.cmd("%s", base64.StdEncoding.EncodeToString([]byte(pass)))
}

// data sends DATA and then payload exactly as given (it must end with the
// end-of-data line), and returns the reply after it.
func (c *rawClient) data(payload string) reply {
	c.t.Helper()
	if r := c.cmd("DATA"); r.code != 354 {
		c.t.Fatalf("DATA = %v, want 354", r)
	}
	c.writeRaw(payload)
	return c.read()
}

// send1 runs one whole transaction (MAIL, one RCPT per address, DATA with
// payload) and returns the reply after the data; a refusal earlier fails
// the test.
func (c *rawClient) send1(from string, rcpts []string, payload string) reply {
	c.t.Helper()
	if r := c.cmd("MAIL FROM:<%s>", from); r.code != 250 {
		c.t.Fatalf("MAIL FROM:<%s> = %v, want 250", from, r)
	}
	for _, to := range rcpts {
		if r := c.cmd("RCPT TO:<%s>", to); r.code != 250 {
			c.t.Fatalf("RCPT TO:<%s> = %v, want 250", to, r)
		}
	}
	return c.data(payload)
}

// quit says QUIT and expects 221.
func (c *rawClient) quit() {
	c.t.Helper()
	if r := c.cmd("QUIT"); r.code != 221 {
		c.t.Fatalf("QUIT = %v, want 221", r)
	}
}

// expectClosed reads until the server closes the connection, failing if
// it answers anything or leaves the connection open.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	r, err := c.tryRead()
	if err == nil {
		c.t.Fatalf("got %v, want the connection closed", r)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open: %v", err)
	}
}

// message builds a message (CRLF, terminated with the end-of-data line)
// from alice with the given extra header lines and body lines.
func message(from, subject string, body ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: <bob@example.test>\r\nSubject: %s\r\n\r\n", from, subject)
	for _, l := range body {
		b.WriteString(l + "\r\n")
	}
	b.WriteString(".\r\n")
	return b.String()
}
