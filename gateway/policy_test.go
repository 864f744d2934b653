package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"bridgehead.dev/bridgehead/directory"
)

func TestSenderMustBeOwned(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	c := tg.authenticated(t, lnSubmission)
	for _, from := range []string{bob, "ceo@example.test", "alice@elsewhere.example", "ALICE@example.net"} {
		if r := c.cmd("MAIL FROM:<%s>", from); !r.is(553, "5.7.1") {
			t.Errorf("MAIL FROM:<%s> as alice = %v, want 553 5.7.1", from, r)
		}
	}
	// Her own addresses, in any case.
	for _, from := range []string{alice, aliceAlias, "Alice@Example.TEST"} {
		if r := c.cmd("MAIL FROM:<%s>", from); !r.is(250, "2.0.0") {
			t.Errorf("MAIL FROM:<%s> as alice = %v, want 250", from, r)
		}
		c.cmd("RSET")
	}
	tg.assertNothingQueued(t)
}

func TestFromHeaderMustBeOwned(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	c := tg.authenticated(t, lnSubmissions)
	tests := []struct {
		name string
		hdr  string
		code int
		enh  string
	}{
		{"other user", "From: Bob <bob@example.test>\r\n", 553, "5.7.1"},
		{"one of two not owned", "From: alice@example.test, bob@example.test\r\n", 553, "5.7.1"},
		{"missing", "", 550, "5.6.0"},
		{"unparsable", "From: not an address\r\n", 550, "5.6.0"},
		{"twice", "From: alice@example.test\r\nFrom: alice@example.test\r\n", 550, "5.6.0"},
	}
	for _, tt := range tests {
		payload := tt.hdr + "To: bob@example.test\r\nSubject: " + tt.name + "\r\n\r\nbody\r\n.\r\n"
		if r := c.send1(alice, []string{bob}, payload); !r.is(tt.code, tt.enh) {
			t.Errorf("%s: DATA = %v, want %d %s", tt.name, r, tt.code, tt.enh)
		}
	}
	tg.assertNothingQueued(t)

	// Owned From fields are accepted, the envelope sender may differ from
	// the header one as long as both are hers.
	for _, from := range []string{
		"Alice Smith <alice@example.test>",
		"a.smith@example.test",
		"\"Smith, Alice\" <A.Smith@example.test>",
		"Alice\r\n <alice@example.test>", // folded
		"=?utf-8?q?Alice_Sm=C3=AFth?= <alice@example.test>",
		"=?windows-1252?q?Alice_Sm=EFth?= <alice@example.test>",
	} {
		payload := "From: " + from + "\r\nSubject: owned\r\n\r\nbody\r\n.\r\n"
		if r := c.send1(aliceAlias, []string{bob}, payload); r.code != 250 {
			t.Errorf("From: %q: DATA = %v, want 250", from, r)
		}
	}
}

func TestRecipients(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	c := tg.authenticated(t, lnSubmission)
	if r := c.cmd("MAIL FROM:<%s>", alice); r.code != 250 {
		t.Fatalf("MAIL = %v", r)
	}
	if r := c.cmd("RCPT TO:<nobody@example.test>"); !r.is(550, "5.1.1") {
		t.Errorf("RCPT to unknown local user = %v, want 550 5.1.1", r)
	}
	if r := c.cmd("RCPT TO:<NoBody@EXAMPLE.test>"); !r.is(550, "5.1.1") {
		t.Errorf("RCPT to unknown local user, mixed case = %v, want 550 5.1.1", r)
	}
	for _, to := range []string{bob, "Bob@Example.Test", "carol@remote.example", "dave@[192.0.2.1]"} {
		if r := c.cmd("RCPT TO:<%s>", to); !r.is(250, "2.0.0") {
			t.Errorf("RCPT TO:<%s> after AUTH = %v, want 250", to, r)
		}
	}
	if r := c.cmd("RCPT TO:<no-at-sign>"); r.code/100 != 5 {
		t.Errorf("RCPT without domain = %v, want 5xx", r)
	}
	r := c.data(message(alice, "relayed"))
	if r.code != 250 {
		t.Fatalf("DATA = %v, want 250", r)
	}
	m := tg.onlyQueued(t)
	var got []string
	for _, rc := range m.env.Recipients {
		got = append(got, rc.Address)
	}
	// bob twice (case differs) is one recipient.
	want := "bob@example.test carol@remote.example dave@[192.0.2.1]"
	if strings.Join(got, " ") != want {
		t.Errorf("queued recipients = %q, want %q", got, want)
	}
	if m.env.From != alice || m.env.Login != aliceLogin || m.env.Listener != lnSubmission || m.env.ClientIP != "127.0.0.1" {
		t.Errorf("envelope = from %q login %q listener %q ip %q", m.env.From, m.env.Login, m.env.Listener, m.env.ClientIP)
	}
}

func TestInboundListener(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	c := tg.afterEHLO(t, lnInbound)
	// Anyone may send to a known local user, without AUTH, as anyone.
	if r := c.cmd("MAIL FROM:<someone@sender.example>"); !r.is(250, "2.0.0") {
		t.Fatalf("MAIL on inbound = %v, want 250", r)
	}
	if r := c.cmd("RCPT TO:<carol@remote.example>"); !r.is(554, "5.7.1") {
		t.Errorf("remote RCPT on inbound = %v, want 554 5.7.1", r)
	}
	if r := c.cmd("RCPT TO:<alice@example.test>"); !r.is(250, "2.0.0") {
		t.Errorf("local RCPT on inbound = %v, want 250", r)
	}
	if r := c.cmd("RCPT TO:<nobody@example.test>"); !r.is(550, "5.1.1") {
		t.Errorf("unknown local RCPT on inbound = %v, want 550 5.1.1", r)
	}
	// The From header is not the gateway's business here.
	r := c.data("From: Someone <someone@sender.example>\r\nSubject: hi\r\n\r\nhello\r\n.\r\n")
	if r.code != 250 {
		t.Fatalf("DATA on inbound = %v, want 250", r)
	}
	m := tg.onlyQueued(t)
	if len(m.env.Recipients) != 1 || m.env.Recipients[0].Address != alice || m.env.Login != "" {
		t.Errorf("queued envelope = %+v", m.env)
	}
	if !strings.Contains(string(m.data), " with ESMTP id ") {
		t.Errorf("inbound Received header without ESMTP:\n%s", m.data)
	}

	// The null sender is fine inbound (bounces).
	if r := c.cmd("MAIL FROM:<>"); r.code != 250 {
		t.Errorf("MAIL FROM:<> on inbound = %v, want 250", r)
	}
	if r := c.cmd("RCPT TO:<postmaster@remote.example>"); !r.is(554, "5.7.1") {
		t.Errorf("remote RCPT on inbound, null sender = %v, want 554 5.7.1", r)
	}
}

// Nothing is relayed for an unauthenticated session, whatever the listener
// and whatever the client tries.
func TestNoUnauthenticatedRelay(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	remote := []string{
		"carol@remote.example",
		"carol@remote.example.",
		"\"carol@remote.example\"@remote.example",
		"carol%remote.example@remote.example",
		"@example.test:carol@remote.example",
		"carol@[127.0.0.1]",
		"carol@example.test.remote.example",
	}
	for _, ln := range []string{lnSubmission, lnSubmissions, lnInbound} {
		c := tg.afterSTARTTLS(t, ln)
		c.cmd("MAIL FROM:<%s>", alice)
		for _, to := range remote {
			if r := c.cmd("RCPT TO:<%s>", to); r.code/100 == 2 {
				t.Errorf("%s: unauthenticated RCPT TO:<%s> = %v, want refused", ln, to, r)
			}
		}
		if r := c.cmd("DATA"); r.code == 354 {
			t.Errorf("%s: DATA without accepted recipients = %v", ln, r)
			c.writeRaw(message(alice, "relay") + "QUIT\r\n")
		}
	}
	// A bad password is no way in either.
	c := tg.afterSTARTTLS(t, lnSubmission)
	c.authPlain(aliceLogin, "wrong")
	c.cmd("MAIL FROM:<%s>", alice)
	if r := c.cmd("RCPT TO:<carol@remote.example>"); r.code/100 == 2 {
		t.Errorf("RCPT after failed AUTH = %v, want refused", r)
	}
	tg.assertNothingQueued(t)
}

// A transaction begun before STARTTLS does not survive it (RFC 3207
// section 4.2).
func TestStartTLSResetsTransaction(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	c := tg.afterEHLO(t, lnInbound)
	if r := c.cmd("MAIL FROM:<x@sender.example>"); r.code != 250 {
		t.Fatalf("MAIL = %v", r)
	}
	c.startTLS(tg.clientTLS)
	c.ehlo()
	if r := c.cmd("RCPT TO:<%s>", alice); r.code/100 != 5 {
		t.Errorf("RCPT after STARTTLS without a new MAIL = %v, want 5xx", r)
	}
	if r := c.cmd("STARTTLS"); r.code/100 != 5 {
		t.Errorf("second STARTTLS = %v, want 5xx", r)
	}
}

// downResolver is a directory whose recipient lookups fail as if its
// server were down.
type downResolver struct{ directory.Resolver }

func (downResolver) LookupRecipient(ctx context.Context, addr string) (*directory.Recipient, error) {
	return nil, fmt.Errorf("lookup %s: %w", addr, directory.ErrUnavailable)
}

// A directory that cannot answer gets a temporary refusal, never a 5xx,
// and no internal detail.
func TestDirectoryDown(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) {
		s.Resolver = func(r directory.Resolver) directory.Resolver { return downResolver{r} }
	})
	c := tg.afterEHLO(t, lnInbound)
	c.cmd("MAIL FROM:<x@sender.example>")
	r := c.cmd("RCPT TO:<%s>", alice)
	if !r.is(451, "4.4.3") || strings.Contains(r.text, alice) {
		t.Errorf("RCPT with the directory down = %v, want 451 4.4.3", r)
	}
	// Remote recipients of an authenticated session need no lookup.
	c = tg.authenticated(t, lnSubmission)
	c.cmd("MAIL FROM:<%s>", alice)
	if r := c.cmd("RCPT TO:<carol@remote.example>"); r.code != 250 {
		t.Errorf("remote RCPT with the directory down = %v, want 250", r)
	}
}
