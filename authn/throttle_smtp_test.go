package authn_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/gateway"
	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/gateway/testservers"
	"bridgehead.dev/bridgehead/internal/logtest"
)

// nullDeliverer never gets a message in these tests.
type nullDeliverer struct{}

func (nullDeliverer) Deliver(context.Context, *queue.Message, []*queue.Recipient) []queue.Result {
	return nil
}

// startThrottledGateway runs a gateway with one submissions listener whose
// AUTH goes through a throttled Authenticator; failure delays are recorded,
// not waited.
func startThrottledGateway(t *testing.T, th *authn.Throttle) (addr string, clientTLS *tls.Config, rec *sleeps, log *logtest.Buffer) {
	t.Helper()
	serverTLS, clientTLS := testCert(t)
	rec, log = &sleeps{}, &logtest.Buffer{}
	logger := slog.New(slog.NewTextHandler(log, nil))
	a, err := authn.New(&fakeDir{}, authn.Options{Logger: logger, Sleep: rec.sleep, Throttle: th})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	q, err := queue.Open(ctx, queue.Options{Dir: filepath.Join(t.TempDir(), "queue"), Deliverer: nullDeliverer{}, Logger: logger})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	addr = "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	gw, err := gateway.New(gateway.Options{
		Hostname: "gw.example.test", Domains: []string{"example.test"}, Logger: logger,
		Listeners: []gateway.ListenerOptions{{Name: "submissions", Address: addr, Mode: gateway.ModeSubmissions, TLSConfig: serverTLS}},
	}, gateway.Deps{Auth: a, Directory: tokenUsers{}, Queue: q})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		_ = q.Close()
	})
	select {
	case <-gw.Ready():
	case err := <-done:
		done <- err
		t.Fatalf("gateway ended before ready: %v", err)
	}
	return addr, clientTLS, rec, log
}

// smtpFrom connects over TLS from a loopback source address and says EHLO.
func smtpFrom(t *testing.T, src, addr string, cfg *tls.Config) *textproto.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := textproto.NewConn(conn)
	t.Cleanup(func() { c.Close() })
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cmd("EHLO client.test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadResponse(250); err != nil {
		t.Fatal(err)
	}
	return c
}

// authLine sends AUTH PLAIN and returns the reply line.
func authLine(t *testing.T, c *textproto.Conn, user, pw string) string {
	t.Helper()
	if err := c.PrintfLine("AUTH PLAIN %s", b64("\x00"+user+"\x00"+pw)); err != nil {
		t.Fatal(err)
	}
	line, err := c.ReadLine()
	if err != nil {
		t.Fatalf("reading the AUTH reply: %v", err)
	}
	return line
}

// TestThrottleOverSMTP: a guessing client on one address is slowed, then
// cut off with 421 and disconnected, and refused again when it comes back,
// while the owner on another address logs in between its guesses.
func TestThrottleOverSMTP(t *testing.T) {
	t.Parallel()
	th := newThrottle(t, authn.ThrottleOptions{BaseDelay: time.Second, MaxDelay: time.Minute, CutOff: 4, LoginSlowAfter: 100})
	addr, cfg, rec, log := startThrottledGateway(t, th)
	const guesserIP, ownerIP = "127.0.0.2", "127.0.0.3"

	ownerLogsIn := func(when string) {
		t.Helper()
		c := smtpFrom(t, ownerIP, addr, cfg)
		if got := authLine(t, c, "alice", "alice-pw"); !strings.HasPrefix(got, "235 ") {
			t.Errorf("owner %s: %q, want 235", when, got)
		}
		c.Close()
	}

	g := smtpFrom(t, guesserIP, addr, cfg)
	for i := range 3 {
		if got := authLine(t, g, "alice", "guess"+strconv.Itoa(i)); !strings.HasPrefix(got, "535 5.7.8 ") {
			t.Fatalf("guess %d: %q, want 535 5.7.8", i, got)
		}
		ownerLogsIn("between guesses")
	}
	if got := authLine(t, g, "alice", "guess3"); !strings.HasPrefix(got, "421 4.7.0 ") {
		t.Fatalf("4th guess: %q, want 421 4.7.0", got)
	}
	if _, err := g.ReadLine(); err != io.EOF && !isClosed(err) {
		t.Errorf("after the 421: %v, want the connection closed", err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	if got := rec.all(); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Errorf("delays %v, want %v", got, want)
	}

	// Back on a new connection: refused at AUTH, before any check.
	g2 := smtpFrom(t, guesserIP, addr, cfg)
	if got := authLine(t, g2, "alice", "alice-pw"); !strings.HasPrefix(got, "421 4.7.0 ") {
		t.Errorf("new connection while cut off: %q, want 421 4.7.0", got)
	}
	ownerLogsIn("after the cut-off")

	out := log.String()
	for _, w := range []string{`msg="auth failed" client_ip=127.0.0.2 login=alice`, `msg="auth client cut off" client_ip=127.0.0.2`, `msg="auth ok" client_ip=127.0.0.3 login=alice`} {
		if !strings.Contains(out, w) {
			t.Errorf("log lacks %q", w)
		}
	}
}

// isClosed reports a read error of a connection the server closed.
func isClosed(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "closed") || strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "EOF"))
}
