package gateway

import (
	"testing"
	"time"
)

// At shutdown sessions may finish within ShutdownGrace; those still open
// after it are closed, and Run returns once they are gone. What got a 250
// is in the queue.
func TestShutdown(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) { s.Opts.ShutdownGrace = time.Second })
	busy := tg.authenticated(t, lnSubmission)
	idle := tg.authenticated(t, lnSubmissions)
	idleInbound := tg.greeted(t, lnInbound)
	if r := busy.send1(alice, []string{bob}, message(alice, "before")); r.code != 250 {
		t.Fatalf("DATA = %v", r)
	}

	tg.cancel()
	// A session already open is still served during the grace period.
	if r := busy.send1(alice, []string{bob}, message(alice, "during")); r.code != 250 {
		t.Errorf("DATA during shutdown = %v, want 250", r)
	}
	busy.quit()

	if err := tg.wait(t); err != nil {
		t.Errorf("Run = %v", err)
	}
	// The idle sessions were cut when the grace period ended.
	idle.expectClosed()
	idleInbound.expectClosed()
	if n := tg.q.Len(); n != 2 {
		t.Errorf("queue holds %d messages, want 2", n)
	}
}

// With no session open, Run returns at once.
func TestShutdownIdle(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) { s.Opts.ShutdownGrace = time.Hour })
	c := tg.greeted(t, lnSubmission)
	c.quit()
	c.expectClosed()
	tg.cancel()
	if err := tg.wait(t); err != nil {
		t.Errorf("Run = %v", err)
	}
}
