package testservers

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

const testMsg = "From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\n.leading dot\r\nbody\r\n"

func TestSink(t *testing.T) {
	t.Parallel()
	s := StartSink(t)
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("a@example.test", []string{"b@example.test", "c@example.test"}, strings.NewReader(testMsg)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	msgs := s.Messages(t)
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	m, err := ParseSink(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.MailArgs, "<a@example.test>") || len(m.RcptArgs) != 2 || m.RcptArgs[1] != "<c@example.test>" {
		t.Errorf("envelope: %+v", m)
	}
	if string(m.Data) != testMsg {
		t.Errorf("data:\n%q\nwant\n%q", m.Data, testMsg)
	}

	s.Stop(t)
	if c, err := net.Dial("tcp", s.Addr); err == nil {
		c.Close()
		t.Fatal("sink still listening after Stop")
	}
	s.Restart(t)
	c, err = smtp.Dial(s.Addr)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	c.Close()
}

func TestSinkRejectsRcpt(t *testing.T) {
	t.Parallel()
	s := StartSink(t, "-f", "rcpt", "-B", "550 5.1.1 No such user")
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("a@example.test", nil); err != nil {
		t.Fatal(err)
	}
	err = c.Rcpt("b@example.test", nil)
	if se, ok := err.(*smtp.SMTPError); !ok || se.Code != 550 {
		t.Fatalf("RCPT: %v, want 550", err)
	}
}

func TestDovecot(t *testing.T) {
	t.Parallel()
	d := StartDovecot(t, map[string]string{"alice@example.test": "secret"})
	lmtp := func() error {
		conn, err := net.Dial("tcp", d.LMTPAddr)
		if err != nil {
			return err
		}
		c := smtp.NewClientLMTP(conn)
		defer c.Close()
		if err := c.Hello("test.example"); err != nil {
			return err
		}
		if err := c.Mail("a@example.test", nil); err != nil {
			return err
		}
		if err := c.Rcpt("Alice@example.test", nil); err != nil {
			return err
		}
		if err := c.Rcpt("nobody@example.test", nil); err == nil {
			t.Error("RCPT of an unknown user accepted")
		} else if se, ok := err.(*smtp.SMTPError); !ok || se.Code != 550 {
			t.Errorf("RCPT of an unknown user: %v, want 550", err)
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte(testMsg)); err != nil {
			return err
		}
		resp, err := w.CloseWithLMTPResponse()
		if err != nil {
			return err
		}
		if len(resp) != 1 {
			t.Errorf("LMTP replies: %v", resp)
		}
		return c.Quit()
	}
	if err := lmtp(); err != nil {
		t.Fatal(err)
	}
	got := d.Fetch(t, "alice@example.test", "secret")
	if len(got) != 1 || !bytes.HasSuffix(got[0], []byte(testMsg)) {
		t.Fatalf("INBOX: %q", got)
	}

	d.Stop(t)
	if c, err := net.Dial("tcp", d.LMTPAddr); err == nil {
		c.Close()
		t.Fatal("dovecot still listening after Stop")
	}
	d.Start(t)
	if got := d.Fetch(t, "alice@example.test", "secret"); len(got) != 1 {
		t.Fatalf("INBOX after restart: %d messages", len(got))
	}
}
