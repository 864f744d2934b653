package main

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/testservers"
	"github.com/emersion/go-smtp"
)

// rawSMTP is a hand-driven SMTP session, for what a well-behaved client
// library will not send.
type rawSMTP struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t testing.TB, addr string, implicitTLS bool) *rawSMTP {
	t.Helper()
	var conn net.Conn
	var err error
	if implicitTLS {
		conn, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := &rawSMTP{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.expect("220")
	return c
}

// reply reads a (multi-line) reply and returns its last line.
func (c *rawSMTP) reply() string {
	c.t.Helper()
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read reply: %v", err)
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

// expect reads a reply and fails unless it starts with prefix.
func (c *rawSMTP) expect(prefix string) string {
	c.t.Helper()
	r := c.reply()
	if !strings.HasPrefix(r, prefix) {
		c.t.Fatalf("reply %q, want %s", r, prefix)
	}
	return r
}

// send writes raw bytes.
func (c *rawSMTP) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// cmd sends one command line and checks the reply's prefix.
func (c *rawSMTP) cmd(line, want string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(want)
}

// TestE2EPolicy checks the binary's refusals on real sockets: AUTH before
// TLS, MAIL before AUTH, sender and From: mismatch, relay without AUTH and
// bare LF/CR payloads. Nothing refused reaches the back end.
func TestE2EPolicy(t *testing.T) {
	t.Parallel()
	sink := testservers.StartSink(t)
	s := relaySite(t, sink)
	s.serve(t)
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00pw-alice"))

	t.Run("auth before TLS", func(t *testing.T) {
		c := dialRaw(t, s.Submission, false)
		c.cmd("EHLO client.example", "250")
		c.cmd("AUTH PLAIN "+plain, "538 5.7.11")
	})
	t.Run("relay without auth", func(t *testing.T) {
		c, err := smtp.DialStartTLS(s.Submission, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Mail("alice@example.test", nil)
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 530 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 0}) {
			t.Fatalf("MAIL before AUTH: %v, want 530 5.7.0", err)
		}
		if err := c.Rcpt("bob@remote.example", nil); err == nil {
			t.Fatal("RCPT to a remote domain accepted without AUTH")
		}
	})
	t.Run("envelope sender not owned", func(t *testing.T) {
		c, err := dialAlice(s.Submission)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Mail("ceo@example.test", nil)
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 553 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
			t.Fatalf("MAIL FROM another's address: %v, want 553 5.7.1", err)
		}
	})
	t.Run("From header not owned", func(t *testing.T) {
		c, err := dialAliceTLS(s.Submissions)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Mail("alice@example.test", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("bob@remote.example", nil); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, "From: ceo@example.test\r\nSubject: forged\r\n\r\nx\r\n")
		err = w.Close()
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 553 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
			t.Fatalf("From: another's address: %v, want 553 5.7.1", err)
		}
	})
	for name, body := range map[string]string{
		`\n.\n`:             "a\n.\nb\r\n",
		`\r\n.\n`:           "a\r\n.\nb\r\n",
		`\n.\r\n`:           "a\n.\r\nb\r\n",
		`lone \r`:           "a\rb\r\n",
		`bare \n`:           "a\nb\r\n",
		`bare \n in header`: "",
	} {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, s.Submissions, true)
			c.cmd("EHLO client.example", "250")
			c.cmd("AUTH PLAIN "+plain, "235")
			c.cmd("MAIL FROM:<alice@example.test>", "250")
			c.cmd("RCPT TO:<bob@remote.example>", "250")
			c.cmd("DATA", "354")
			msg := "From: alice@example.test\r\nSubject: smuggle\r\n\r\n" + body
			if body == "" {
				msg = "From: alice@example.test\r\nSubject: smuggle\nX: y\r\n\r\nbody\r\n"
			}
			c.send(msg + ".\r\n")
			if r := c.reply(); !strings.HasPrefix(r, "5") {
				t.Fatalf("payload with %s: reply %q, want 5xx", name, r)
			}
		})
	}
	// Everything above was refused: nothing may reach the back end.
	time.Sleep(1500 * time.Millisecond) // more than a retry interval: a leaked message would be there
	if n := len(sink.Messages(t)); n != 0 {
		t.Errorf("the sink received %d messages, want none", n)
		for _, m := range sink.Messages(t) {
			t.Logf("%s", m)
		}
	}
}

// TestE2ELimits checks a listener's recipient and size limits from the
// config file.
func TestE2ELimits(t *testing.T) {
	t.Parallel()
	sink := testservers.StartSink(t)
	s := newSite(t)
	s.staticUsers(t, "alice", "pw-alice", "alice@example.test")
	s.Routes = "  - domains: [\"*\"]\n    to: smtp://" + sink.Addr + "\n    tls: none"
	s.Limits = "      max_recipients: 2\n      max_message_size: 10KiB"
	s.writeConfig(t)
	s.serve(t)

	c, err := dialAlice(s.Submission)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, arg := c.Extension("SIZE"); !ok || arg != "10240" {
		t.Errorf("SIZE extension %v %q, want 10240", ok, arg)
	}
	if err := c.Mail("alice@example.test", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"a@remote.example", "b@remote.example"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	err = c.Rcpt("c@remote.example", nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 452 || se.EnhancedCode != (smtp.EnhancedCode{4, 5, 3}) {
		t.Errorf("third RCPT: %v, want 452 4.5.3", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(w, "From: alice@example.test\r\nSubject: big\r\n\r\n"+strings.Repeat(strings.Repeat("x", 78)+"\r\n", 200))
	err = w.Close()
	if !errors.As(err, &se) || se.Code != 552 || se.EnhancedCode != (smtp.EnhancedCode{5, 3, 4}) {
		t.Errorf("16 KB message over a 10 KiB limit: %v, want 552 5.3.4", err)
	}
}
