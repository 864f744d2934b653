package gateway

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/gateway/delivery"
	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/gateway/testservers"
)

// notifying wraps a Deliverer and reports every attempt's results once
// they are known, so a test can wait for delivery without polling.
type notifying struct {
	d    queue.Deliverer
	done chan []queue.Result
}

func (n *notifying) Deliver(ctx context.Context, msg *queue.Message, rcpts []*queue.Recipient) []queue.Result {
	res := n.d.Deliver(ctx, msg, rcpts)
	n.done <- res
	return res
}

// withRealDelivery makes the test gateway deliver with the real Deliverer
// to the route's target and returns where attempts are reported.
func withRealDelivery(t testing.TB, s *setup, to string) chan []queue.Result {
	t.Helper()
	d, err := delivery.New(delivery.Options{
		Hostname: hostname,
		Routes:   []delivery.Route{{Domains: []string{"*"}, To: to}},
		Logger:   s.Opts.Logger,
	})
	if err != nil {
		t.Fatalf("delivery.New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	done := make(chan []queue.Result, 10)
	s.Queue.Deliverer = &notifying{d: d, done: done}
	s.RunQueue = true
	return done
}

// awaitDelivered waits for one attempt and fails unless every recipient
// of it was delivered.
func awaitDelivered(t testing.TB, done chan []queue.Result) {
	t.Helper()
	for _, r := range <-done {
		if !r.Delivered() {
			t.Fatalf("delivery to %s: %d %s %s", r.Recipient, r.Code, r.Enhanced, r.Text)
		}
	}
}

// runSwaks runs swaks against the listener with the given extra arguments
// and returns its transcript.
func runSwaks(t testing.TB, addr string, args ...string) string {
	t.Helper()
	testservers.Require(t, "swaks")
	host, port, _ := net.SplitHostPort(addr)
	all := append([]string{"--server", host, "--port", port, "--helo", "client.example.net",
		"--timeout", "30"}, args...)
	out, err := exec.Command("swaks", all...).CombinedOutput()
	if err != nil {
		t.Fatalf("swaks %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The happy path with go-smtp's client: STARTTLS, AUTH PLAIN, a message
// with a dot-stuffed line, delivered by the queue.
func TestGoSMTPClient(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) { s.RunQueue = true })
	plain, err := smtp.Dial(tg.addrs[lnSubmission])
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Hello("client.example.net"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := plain.Extension("AUTH"); ok {
		t.Error("AUTH offered before STARTTLS")
	}
	plain.Close()

	c, err := smtp.DialStartTLS(tg.addrs[lnSubmission], tg.clientTLS)
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer c.Close()
	if ok, mechs := c.Extension("AUTH"); !ok || mechs != "PLAIN LOGIN" {
		t.Errorf("AUTH after STARTTLS = %v %q, want PLAIN LOGIN", ok, mechs)
	}
	err = c.Auth(sasl.NewPlainClient("", aliceLogin, "wrong"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 535 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 8}) {
		t.Errorf("AUTH with a bad password = %v, want 535 5.7.8", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", aliceLogin, alicePass)); err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	body := "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: go-smtp\r\n\r\n.a dot\r\n.\r\nend\r\n"
	if err := c.SendMail(alice, []string{bob, "carol@remote.example"}, strings.NewReader(body)); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	err = c.SendMail(bob, []string{alice}, strings.NewReader(body))
	if !errors.As(err, &se) || se.Code != 553 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
		t.Errorf("SendMail as bob = %v, want 553 5.7.1", err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("QUIT: %v", err)
	}

	m := tg.fake.next(t)
	if !bytes.HasSuffix(m.data, []byte(body)) || !bytes.HasPrefix(m.data, []byte("Received: ")) {
		t.Errorf("delivered:\n%s", m.data)
	}
	if len(m.env.Recipients) != 2 || m.env.Login != aliceLogin {
		t.Errorf("envelope: %+v", m.env)
	}
}

// swaks on the submission port with STARTTLS and AUTH LOGIN; the queue
// relays the message with the real Deliverer to smtp-sink.
func TestSwaksStartTLSLoginToSink(t *testing.T) {
	t.Parallel()
	testservers.Require(t, "swaks", "smtp-sink")
	sink := testservers.StartSink(t)
	var done chan []queue.Result
	tg := startGateway(t, func(s *setup) { done = withRealDelivery(t, s, "smtp://"+sink.Addr) })

	out := runSwaks(t, tg.addrs[lnSubmission], "--tls", "--auth", "LOGIN",
		"--auth-user", aliceLogin, "--auth-password", alicePass,
		"--from", alice, "--to", "carol@remote.example",
		"--header", "Subject: swaks starttls", "--body", "hello from swaks\n.dot line")
	if !strings.Contains(out, "<~  235 ") || !strings.Contains(out, "<~  250 2.0.0 OK queued as ") {
		t.Errorf("swaks transcript lacks 235 or the queue id:\n%s", out)
	}
	awaitDelivered(t, done)

	msgs := sink.Messages(t)
	if len(msgs) != 1 {
		t.Fatalf("sink has %d messages, want 1", len(msgs))
	}
	m, err := testservers.ParseSink(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if m.MailArgs != "<"+alice+">" && !strings.HasPrefix(m.MailArgs, "<"+alice+"> ") {
		t.Errorf("MAIL args %q", m.MailArgs)
	}
	if len(m.RcptArgs) != 1 || !strings.HasPrefix(m.RcptArgs[0], "<carol@remote.example>") {
		t.Errorf("RCPT args %q", m.RcptArgs)
	}
	data := string(m.Data)
	for _, want := range []string{"with ESMTPSA id ", "(using TLSv1.3 with cipher ", "\r\nSubject: swaks starttls\r\n",
		"\r\nhello from swaks\r\n.dot line\r\n", "\r\nMessage-Id: ", "\r\nDate: "} {
		if !strings.Contains(data, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, data)
		}
	}
	checkCRLF(t, m.Data)
}

// swaks with implicit TLS on the submissions port; the queue relays the
// message over LMTP into Dovecot, read back over IMAP.
func TestSwaksImplicitTLSToDovecot(t *testing.T) {
	t.Parallel()
	testservers.Require(t, "swaks", "dovecot")
	dc := testservers.StartDovecot(t, map[string]string{bob: "bob-imap"})
	var done chan []queue.Result
	tg := startGateway(t, func(s *setup) { done = withRealDelivery(t, s, "lmtp://"+dc.LMTPAddr) })

	out := runSwaks(t, tg.addrs[lnSubmissions], "--tlsc", "--auth", "PLAIN",
		"--auth-user", aliceLogin, "--auth-password", alicePass,
		"--from", aliceAlias, "--to", bob, "--header", "From: Alice <a.smith@example.test>",
		"--header", "Subject: swaks implicit", "--body", "over implicit TLS")
	if !strings.Contains(out, "<~  250 2.0.0 OK queued as ") {
		t.Errorf("swaks transcript lacks the queue id:\n%s", out)
	}
	awaitDelivered(t, done)

	msgs := dc.Fetch(t, bob, "bob-imap")
	if len(msgs) != 1 {
		t.Fatalf("bob's INBOX holds %d messages, want 1", len(msgs))
	}
	data := string(msgs[0])
	for _, want := range []string{"by gw.example.test (bridgehead) with ESMTPSA id ", "\r\nSubject: swaks implicit\r\n",
		"\r\nFrom: Alice <a.smith@example.test>\r\n", "\r\nover implicit TLS\r\n"} {
		if !strings.Contains(data, want) {
			t.Errorf("stored message lacks %q:\n%s", want, data)
		}
	}
}

// A sender refused by policy is reported by swaks as such and nothing is
// queued.
func TestSwaksRefusals(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	cmd := func(args ...string) string {
		testservers.Require(t, "swaks")
		host, port, _ := net.SplitHostPort(tg.addrs[lnSubmission])
		out, _ := exec.Command("swaks", append([]string{"--server", host, "--port", port, "--timeout", "30"}, args...)...).CombinedOutput()
		return string(out)
	}
	if out := cmd("--auth", "PLAIN", "--auth-user", aliceLogin, "--auth-password", alicePass,
		"--from", alice, "--to", bob); !strings.Contains(out, "*** Host did not advertise authentication") {
		t.Errorf("AUTH without TLS: swaks found AUTH offered:\n%s", out)
	}
	if out := cmd("--tls", "--auth", "LOGIN", "--auth-user", aliceLogin, "--auth-password", "wrong",
		"--from", alice, "--to", bob); !strings.Contains(out, "<~* 535 5.7.8 ") {
		t.Errorf("bad password: transcript lacks 535 5.7.8:\n%s", out)
	}
	if out := cmd("--tls", "--auth", "LOGIN", "--auth-user", aliceLogin, "--auth-password", alicePass,
		"--from", bob, "--to", bob); !strings.Contains(out, "<~* 553 5.7.1 ") {
		t.Errorf("foreign sender: transcript lacks 553 5.7.1:\n%s", out)
	}
	if out := cmd("--tls", "--auth", "LOGIN", "--auth-user", aliceLogin, "--auth-password", alicePass,
		"--from", alice, "--to", bob, "--header", "From: bob@example.test"); !strings.Contains(out, "<~* 553 5.7.1 ") {
		t.Errorf("foreign From header: transcript lacks 553 5.7.1:\n%s", out)
	}
	tg.assertNothingQueued(t)
}
