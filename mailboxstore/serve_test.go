package mailboxstore

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func TestServeStopsWithActiveSessions(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir(), nil)
	srv, err := s.NewIMAPServer(ServerOptions{InsecureAuth: true, Auth: testUsers, Admins: []string{"alice"}})
	must(t, err, "NewIMAPServer")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err, "listen")
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	idler := loginIMAP(t, addr, "alice", "alice-secret", nil)
	_, err = idler.Select("INBOX", nil).Wait()
	must(t, err, "SELECT")
	idle, err := idler.Idle()
	must(t, err, "IDLE")
	defer idle.Close()
	waiting := dialIMAP(t, addr, nil) // greeted, not logged in

	cancel()
	select {
	case err := <-done:
		must(t, err, "Serve")
	case <-time.After(failsafe):
		t.Fatal("Serve did not return after cancel")
	}
	for _, c := range []*imapclient.Client{idler, waiting} {
		select {
		case <-c.Closed():
		case <-time.After(failsafe):
			t.Fatal("a client connection stayed open after Serve returned")
		}
	}
	// Dialing the port could reach another test's listener: ask ln itself.
	if c, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		if c != nil {
			c.Close()
		}
		t.Errorf("listener not closed after Serve returned: Accept = %v", err)
	}
}

func TestServerOptionsValidate(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir(), nil)
	for name, o := range map[string]ServerOptions{
		"no auth":             {InsecureAuth: true, Admins: []string{"alice"}},
		"no tls, no insecure": {Auth: testUsers, Admins: []string{"alice"}},
		"nobody may log in":   {Auth: testUsers, InsecureAuth: true},
		"bad admin":           {Auth: testUsers, InsecureAuth: true, Admins: []string{"../root"}},
	} {
		if _, err := s.NewIMAPServer(o); err == nil {
			t.Errorf("%s: NewIMAPServer accepted %+v", name, o)
		}
	}
}

// TestJanitorExpungeReachesSelectedSession checks that a client with the
// folder open hears of messages the janitor removed.
func TestJanitorExpungeReachesSelectedSession(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	s, err := Open(Options{Dir: t.TempDir(), Retention: time.Hour, Clock: clock.Now, Logger: testLogger(t)})
	must(t, err, "Open")
	mustAppend(t, s, "postmaster", "INBOX", testMessage("old", "x"))
	clock.Advance(2 * time.Hour)
	mustAppend(t, s, "postmaster", "INBOX", testMessage("new", "x"))
	addr := startIMAP(t, s, ServerOptions{InsecureAuth: true, Admins: []string{"postmaster"}})

	expunged := make(chan uint32, 4)
	c := loginIMAP(t, addr, "postmaster", "pm-secret", &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{Expunge: func(seq uint32) { expunged <- seq }},
	})
	sel, err := c.Select("INBOX", nil).Wait()
	must(t, err, "SELECT")
	if sel.NumMessages != 2 {
		t.Fatalf("SELECT: %d messages", sel.NumMessages)
	}
	if n, err := s.RemoveExpired(context.Background()); n != 1 || err != nil {
		t.Fatalf("RemoveExpired = %d, %v", n, err)
	}
	must(t, c.Noop().Wait(), "NOOP")
	select {
	case seq := <-expunged:
		if seq != 1 {
			t.Errorf("EXPUNGE %d, want 1", seq)
		}
	default:
		t.Error("no EXPUNGE before the NOOP completed")
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true}).Collect()
	must(t, err, "FETCH")
	if len(msgs) != 1 || msgs[0].UID != 2 {
		t.Errorf("remaining message: %+v", msgs)
	}
}
