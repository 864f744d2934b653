package gateway

import (
	"slices"
	"strings"
	"testing"
)

func hasKeyword(ext []string, kw string) bool {
	return slices.ContainsFunc(ext, func(e string) bool {
		return e == kw || strings.HasPrefix(e, kw+" ")
	})
}

func TestEHLOAdvertisesAuthOnlyAfterTLS(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)

	c := tg.greeted(t, lnSubmission)
	ext := c.ehlo()
	if !hasKeyword(ext, "STARTTLS") {
		t.Errorf("EHLO before TLS = %q, want STARTTLS", ext)
	}
	if hasKeyword(ext, "AUTH") {
		t.Errorf("EHLO before TLS = %q, want no AUTH", ext)
	}
	if !slices.Contains(ext, "SIZE 26214400") {
		t.Errorf("EHLO = %q, want SIZE 26214400", ext)
	}

	c.startTLS(tg.clientTLS)
	ext = c.ehlo()
	if !slices.Contains(ext, "AUTH PLAIN LOGIN") {
		t.Errorf("EHLO after TLS = %q, want AUTH PLAIN LOGIN", ext)
	}
	if hasKeyword(ext, "STARTTLS") {
		t.Errorf("EHLO after TLS = %q, want no STARTTLS", ext)
	}

	// Implicit TLS: AUTH at once, no STARTTLS.
	ext = tg.afterEHLO(t, lnSubmissions).ehlo()
	if !slices.Contains(ext, "AUTH PLAIN LOGIN") || hasKeyword(ext, "STARTTLS") {
		t.Errorf("EHLO on submissions = %q, want AUTH PLAIN LOGIN and no STARTTLS", ext)
	}

	// Inbound: no AUTH, ever.
	c = tg.afterSTARTTLS(t, lnInbound)
	if ext := c.ehlo(); hasKeyword(ext, "AUTH") {
		t.Errorf("EHLO on inbound after TLS = %q, want no AUTH", ext)
	}
}

func TestAuthBeforeTLSRefused(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	c := tg.afterEHLO(t, lnSubmission)
	if r := c.authPlain(aliceLogin, alicePass); !r.is(538, "5.7.11") {
		t.Errorf("AUTH PLAIN before TLS = %v, want 538 5.7.11", r)
	}
	if r := c.cmd("AUTH LOGIN"); !r.is(538, "5.7.11") {
		t.Errorf("AUTH LOGIN before TLS = %v, want 538 5.7.11", r)
	}
	// The right password sent in clear text does not log in either.
	if r := c.cmd("MAIL FROM:<%s>", alice); !r.is(530, "5.7.0") {
		t.Errorf("MAIL after refused AUTH = %v, want 530 5.7.0", r)
	}
}

func TestMailBeforeAuthRefused(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	for _, ln := range []string{lnSubmission, lnSubmissions} {
		c := tg.afterSTARTTLS(t, ln)
		if r := c.cmd("MAIL FROM:<%s>", alice); !r.is(530, "5.7.0") {
			t.Errorf("%s: MAIL before AUTH = %v, want 530 5.7.0", ln, r)
		}
		if r := c.cmd("RCPT TO:<%s>", bob); r.code/100 != 5 {
			t.Errorf("%s: RCPT before AUTH = %v, want 5xx", ln, r)
		}
	}
	tg.assertNothingQueued(t)
}

func TestAuthCredentials(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	tests := []struct {
		name     string
		listener string
		auth     func(c *rawClient) reply
		code     int
		enh      string
	}{
		{"plain ok", lnSubmission, func(c *rawClient) reply { return c.authPlain(aliceLogin, alicePass) }, 235, "2.0.0"},
		{"login ok", lnSubmission, func(c *rawClient) reply { return c.authLogin(aliceLogin, alicePass) }, 235, "2.0.0"},
		{"plain ok implicit TLS", lnSubmissions, func(c *rawClient) reply { return c.authPlain(bobLogin, bobPass) }, 235, "2.0.0"},
		{"login ok implicit TLS", lnSubmissions, func(c *rawClient) reply { return c.authLogin(bobLogin, bobPass) }, 235, "2.0.0"},
		{"plain bad password", lnSubmission, func(c *rawClient) reply { return c.authPlain(aliceLogin, "wrong") }, 535, "5.7.8"},
		{"login bad password", lnSubmission, func(c *rawClient) reply { return c.authLogin(aliceLogin, "wrong") }, 535, "5.7.8"},
		{"plain unknown user", lnSubmissions, func(c *rawClient) reply { return c.authPlain("mallory", alicePass) }, 535, "5.7.8"},
		{"plain other user's password", lnSubmissions, func(c *rawClient) reply { return c.authPlain(bobLogin, alicePass) }, 535, "5.7.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tg.afterSTARTTLS(t, tt.listener)
			if r := tt.auth(c); !r.is(tt.code, tt.enh) {
				t.Fatalf("AUTH = %v, want %d %s", r, tt.code, tt.enh)
			}
			want := 250
			if tt.code != 235 {
				want = 530
			}
			// The outcome holds for what follows.
			from := alice
			if strings.Contains(tt.name, "ok implicit") {
				from = bob
			}
			if r := c.cmd("MAIL FROM:<%s>", from); r.code != want {
				t.Errorf("MAIL after AUTH = %v, want %d", r, want)
			}
		})
	}
}

func TestAuthOnInboundRefused(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	c := tg.afterSTARTTLS(t, lnInbound)
	if r := c.authPlain(aliceLogin, alicePass); r.code/100 != 5 {
		t.Errorf("AUTH on inbound = %v, want 5xx", r)
	}
}

func TestAuthTwiceRefused(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	c := tg.authenticated(t, lnSubmission)
	if r := c.authPlain(bobLogin, bobPass); !r.is(503, "5.5.1") {
		t.Errorf("second AUTH = %v, want 503 5.5.1", r)
	}
	// Still alice: bob's address is not hers.
	if r := c.cmd("MAIL FROM:<%s>", bob); !r.is(553, "5.7.1") {
		t.Errorf("MAIL FROM bob as alice = %v, want 553 5.7.1", r)
	}
}
