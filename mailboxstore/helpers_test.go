package mailboxstore

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/internal/fakeclock"
)

// newTestClock is an adjustable clock.
func newTestClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
}

// testLogger writes to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func openTestStore(t testing.TB, dir string, clock *fakeclock.Clock) *Store {
	t.Helper()
	opts := Options{Dir: dir, Logger: testLogger(t)}
	if clock != nil {
		opts.Clock = clock.Now
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// testMessage is a small message with a subject that identifies it.
func testMessage(subject, body string) string {
	return "From: Mail Delivery System <postmaster@example.test>\r\n" +
		"To: alice@example.test\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Sat, 01 Mar 2025 12:00:00 +0000\r\n" +
		"Message-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@example.test>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		body + "\r\n"
}

func mustAppend(t testing.TB, s *Store, owner, folder, msg string) uint32 {
	t.Helper()
	uid, err := s.Append(context.Background(), owner, folder, strings.NewReader(msg))
	if err != nil {
		t.Fatalf("Append(%s, %s): %v", owner, folder, err)
	}
	return uid
}

// fakeAuth accepts the passwords in its map (a fake is fine: the IMAP side
// under test is real).
type fakeAuth map[string]string

func (a fakeAuth) Authenticate(_ context.Context, login, password string) error {
	want, ok := a[login]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(password)) != 1 {
		return errors.New("invalid credentials")
	}
	return nil
}

var testUsers = fakeAuth{"alice": "alice-secret", "bob": "bob-secret", "postmaster": "pm-secret"}

// startIMAP serves s on a random loopback port until the test ends.
func startIMAP(t testing.TB, s *Store, opts ServerOptions) string {
	t.Helper()
	if opts.Auth == nil {
		opts.Auth = testUsers
	}
	srv, err := s.NewIMAPServer(opts)
	if err != nil {
		t.Fatalf("NewIMAPServer: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func must(t testing.TB, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
