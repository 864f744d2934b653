package gateway

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// statusOf returns the status of listener name.
func statusOf(t *testing.T, g *Gateway, name string) ListenerStatus {
	t.Helper()
	for _, s := range g.Listeners() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("listener %s not listed in %+v", name, g.Listeners())
	return ListenerStatus{}
}

// refused reports whether a TCP connection to addr is refused.
func refused(addr string) bool {
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// Stop closes the port while a session in progress completes; Start
// listens again; the paused state survives both.
func TestStopStart(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	open := tg.authenticated(t, lnSubmission)
	if err := tg.gw.Pause(lnSubmission); err != nil {
		t.Fatal(err)
	}
	if err := tg.gw.Stop(lnSubmission); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !refused(tg.addrs[lnSubmission]) {
		t.Error("connection to a stopped listener not refused")
	}
	if s := statusOf(t, tg.gw, lnSubmission); s.State != StateStopped || s.Connections != 1 || !s.Paused {
		t.Errorf("status after stop: %+v", s)
	}
	if r := open.send1(alice, []string{bob}, message(alice, "across a stop")); r.code != 250 {
		t.Errorf("DATA in a session opened before the stop = %v, want 250", r)
	}
	open.quit()
	if err := tg.gw.Stop(lnSubmission); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := tg.gw.Start(t.Context(), lnSubmission); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if r := tg.connected(t, lnSubmission).read(); !r.is(421, "4.3.2") {
		t.Errorf("started while paused: greeting %v, want 421 4.3.2", r)
	}
	if err := tg.gw.Resume(lnSubmission); err != nil {
		t.Fatal(err)
	}
	tg.greeted(t, lnSubmission).quit()
	if s := statusOf(t, tg.gw, lnSubmission); s.State != StateRunning {
		t.Errorf("status after start: %+v", s)
	}
	if err := tg.gw.Stop("nosuch"); !errors.Is(err, ErrNoListener) {
		t.Errorf("Stop(nosuch) = %v", err)
	}
}

// Update gives new sessions the new options while a session opened
// before keeps its own; adds and removes listeners; keeps paused states.
func TestUpdate(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, nil)
	old := tg.afterEHLO(t, lnSubmission)
	if err := tg.gw.Pause(lnSubmissions); err != nil {
		t.Fatal(err)
	}

	cur := tg.gw.current()
	opts := cur.opts
	opts.Hostname = "new.example.test"
	opts.Listeners = nil
	for _, lo := range cur.opts.Listeners {
		if lo.Name == lnSubmission {
			lo.Limits.MaxMessageSize = 1 << 20
		}
		if lo.Name != lnInbound {
			opts.Listeners = append(opts.Listeners, lo)
		}
	}
	extra := cur.opts.Listeners[2] // inbound, under a new name and port
	extra.Name = "extra"
	extra.Address = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(testservers.FreePort(t))).String()
	opts.Listeners = append(opts.Listeners, extra)

	// An address that cannot be bound changes nothing.
	bad := opts
	bad.Listeners = append([]ListenerOptions{}, opts.Listeners...)
	bad.Listeners[2].Address = tg.addrs[lnSubmission]
	if err := tg.gw.Update(t.Context(), bad, cur.deps); err == nil {
		t.Fatal("Update onto a busy address succeeded")
	}
	if refused(tg.addrs[lnInbound]) || tg.gw.current() != cur {
		t.Fatal("a failed Update changed the gateway")
	}

	if err := tg.gw.Update(t.Context(), opts, cur.deps); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if r := tg.connected(t, lnSubmission).read(); r.code != 220 || !strings.Contains(r.text, "new.example.test") {
		t.Errorf("greeting after Update: %v", r)
	}
	if lines := old.ehlo(); !slices.Contains(lines, "SIZE 26214400") {
		t.Errorf("EHLO in a session opened before Update: %q, want the old SIZE", lines)
	}
	if lines := tg.afterEHLO(t, lnSubmission).ehlo(); !slices.Contains(lines, "SIZE 1048576") {
		t.Errorf("EHLO in a session opened after Update: %q, want the new SIZE", lines)
	}
	old.quit()
	if r := tg.connected(t, lnSubmissions).read(); !r.is(421, "4.3.2") {
		t.Errorf("paused listener after Update: %v", r)
	}
	if !refused(tg.addrs[lnInbound]) {
		t.Error("removed listener still accepts")
	}
	tg.addrs["extra"] = extra.Address
	if r := tg.connected(t, "extra").read(); r.code != 220 {
		t.Errorf("added listener: %v", r)
	}
	var names []string
	for _, s := range tg.gw.Listeners() {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "submission,submissions,extra" {
		t.Errorf("listeners after Update: %v", names)
	}
}
