package gateway

import (
	"errors"
	"testing"
)

// A paused listener answers new connections 421 4.3.2 and closes them,
// inside TLS on the implicit-TLS port; a session already open completes;
// after Resume connections are served again.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	open := tg.authenticated(t, lnSubmission)

	for _, ln := range []string{lnSubmission, lnSubmissions} {
		if err := tg.gw.Pause(ln); err != nil {
			t.Fatalf("Pause(%s): %v", ln, err)
		}
	}
	for _, ln := range []string{lnSubmission, lnSubmissions} {
		c := tg.connected(t, ln)
		if r := c.read(); !r.is(421, "4.3.2") {
			t.Errorf("%s paused: greeting %v, want 421 4.3.2", ln, r)
		}
		c.expectClosed()
	}
	// Another listener is not affected.
	tg.greeted(t, lnInbound).quit()

	st := map[string]ListenerStatus{}
	for _, s := range tg.gw.Listeners() {
		st[s.Name] = s
	}
	if s := st[lnSubmission]; !s.Paused || s.Connections != 1 || s.Mode != ModeSubmission || s.Address != tg.addrs[lnSubmission] {
		t.Errorf("submission status %+v", s)
	}
	if st[lnInbound].Paused {
		t.Error("inbound listed as paused")
	}

	if r := open.send1(alice, []string{bob}, message(alice, "while paused")); r.code != 250 {
		t.Errorf("DATA in a session opened before the pause = %v, want 250", r)
	}
	open.quit()

	if err := tg.gw.Resume(lnSubmission); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	tg.authenticated(t, lnSubmission).quit()
	if err := tg.gw.Pause("nosuch"); !errors.Is(err, ErrNoListener) {
		t.Errorf("Pause(nosuch) = %v, want ErrNoListener", err)
	}
}
