package gateway

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSizeLimit(t *testing.T) {
	t.Parallel()
	const limit = 4096
	tg := startGateway(t, func(s *setup) { s.Limits.MaxMessageSize = limit })
	c := tg.authenticated(t, lnSubmission)
	if ext := c.ehlo(); !slices.Contains(ext, fmt.Sprint("SIZE ", limit)) {
		t.Errorf("EHLO = %q, want SIZE %d", ext, limit)
	}
	if r := c.cmd("MAIL FROM:<%s> SIZE=%d", alice, limit+1); !r.is(552, "5.3.4") {
		t.Errorf("MAIL SIZE=limit+1 = %v, want 552 5.3.4", r)
	}
	if r := c.cmd("MAIL FROM:<%s> SIZE=%d", alice, limit); r.code != 250 {
		t.Fatalf("MAIL SIZE=limit = %v, want 250", r)
	}
	c.cmd("RCPT TO:<%s>", bob)
	// A client that declared less than it sends.
	big := strings.Repeat(strings.Repeat("x", 98)+"\r\n", limit/100+1)
	if r := c.data("From: alice@example.test\r\n\r\n" + big + ".\r\n"); !r.is(552, "5.3.4") {
		t.Errorf("DATA over the limit = %v, want 552 5.3.4", r)
	}
	tg.assertNothingQueued(t)
	// The session goes on.
	if r := c.send1(alice, []string{bob}, message(alice, "small", "hello")); r.code != 250 {
		t.Errorf("next message = %v, want 250", r)
	}
	// Without SIZE as well; body with headers just under the limit fits.
	if r := c.send1(alice, []string{bob}, "From: alice@example.test\r\n\r\n"+big+".\r\n"); !r.is(552, "5.3.4") {
		t.Errorf("DATA over the limit without SIZE = %v, want 552 5.3.4", r)
	}
	if n := tg.q.Len(); n != 1 {
		t.Errorf("queue holds %d messages, want 1", n)
	}
}

func TestRecipientLimit(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) { s.Limits.MaxRecipients = 3 })
	c := tg.authenticated(t, lnSubmissions)
	c.cmd("MAIL FROM:<%s>", alice)
	for i := range 3 {
		if r := c.cmd("RCPT TO:<r%d@remote.example>", i); r.code != 250 {
			t.Fatalf("RCPT %d = %v, want 250", i, r)
		}
	}
	if r := c.cmd("RCPT TO:<r3@remote.example>"); !r.is(452, "4.5.3") {
		t.Errorf("4th RCPT = %v, want 452 4.5.3", r)
	}
	if r := c.data(message(alice, "three")); r.code != 250 {
		t.Fatalf("DATA = %v, want 250", r)
	}
	if m := tg.onlyQueued(t); len(m.env.Recipients) != 3 {
		t.Errorf("queued with %d recipients, want 3", len(m.env.Recipients))
	}
	// The limit is per message.
	c.cmd("MAIL FROM:<%s>", alice)
	for i := range 3 {
		if r := c.cmd("RCPT TO:<s%d@remote.example>", i); r.code != 250 {
			t.Errorf("RCPT %d of the next message = %v, want 250", i, r)
		}
	}
}

func TestMessagesPerConnectionLimit(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) { s.Limits.MaxMessagesPerConnection = 2 })
	for _, ln := range []string{lnSubmission, lnSubmissions, lnInbound} {
		var c *rawClient
		if ln == lnInbound {
			c = tg.afterEHLO(t, ln)
		} else {
			c = tg.authenticated(t, ln)
		}
		for i := range 2 {
			if r := c.send1(alice, []string{alice}, message(alice, fmt.Sprint(ln, i))); r.code != 250 {
				t.Fatalf("%s: message %d = %v, want 250", ln, i, r)
			}
		}
		if r := c.cmd("MAIL FROM:<%s>", alice); r.code != 421 {
			t.Errorf("%s: third MAIL = %v, want 421", ln, r)
		}
		c.expectClosed()
	}
	if n := tg.q.Len(); n != 6 {
		t.Errorf("queue holds %d messages, want 6", n)
	}
}

func TestConnectionsPerIPLimit(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) { s.Limits.MaxConnectionsPerIP = 2 })
	for _, ln := range []string{lnSubmission, lnSubmissions} {
		a := tg.authenticated(t, ln)
		b := tg.greeted(t, ln)
		extra := tg.connected(t, ln)
		if r := extra.read(); !r.is(421, "4.7.0") {
			t.Errorf("%s: third connection got %v, want 421 4.7.0", ln, r)
		}
		extra.expectClosed()
		// The others keep working.
		if r := a.send1(alice, []string{bob}, message(alice, "still here")); r.code != 250 {
			t.Errorf("%s: first connection after the refusal: %v", ln, r)
		}
		b.ehlo()
		a.quit()
		a.expectClosed()
		// A slot is free again once a session has ended: one more may come
		// in. (Over TLS the client may see close_notify a moment before the
		// slot is given back, so the check uses b, still plain TCP on the
		// submission listener.)
		b.quit()
		b.expectClosed()
		if ln == lnSubmission {
			tg.greeted(t, ln).quit()
		}
	}
	// Other listeners count on their own.
	tg.greeted(t, lnInbound)
}

func TestConnectionsLimit(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) { s.Limits.MaxConnections = 1 })
	a := tg.greeted(t, lnInbound)
	extra := tg.connected(t, lnInbound)
	if r := extra.read(); !r.is(421, "4.7.0") {
		t.Errorf("second connection got %v, want 421 4.7.0", r)
	}
	a.ehlo()
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) { s.Limits.IdleTimeout = 300 * time.Millisecond })
	for _, ln := range []string{lnSubmission, lnSubmissions} {
		c := tg.authenticated(t, ln)
		// Say nothing; the server gives up.
		if r := c.read(); !r.is(421, "4.4.2") {
			t.Errorf("%s: after idling = %v, want 421 4.4.2", ln, r)
		}
		c.expectClosed()
	}
	// Before EHLO as well.
	c := tg.greeted(t, lnInbound)
	if r := c.read(); r.code != 421 {
		t.Errorf("idle before EHLO = %v, want 421", r)
	}
	c.expectClosed()
}
