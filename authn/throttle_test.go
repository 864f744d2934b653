package authn_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/internal/fakeclock"
	"bridgehead.dev/bridgehead/internal/logtest"
)

// newClock is a settable time for throttle tests.
func newClock() *fakeclock.Clock { return fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) }

func newThrottle(t *testing.T, o authn.ThrottleOptions) *authn.Throttle {
	t.Helper()
	th, err := authn.NewThrottle(o)
	if err != nil {
		t.Fatalf("NewThrottle: %v", err)
	}
	return th
}

var (
	guesser = netip.MustParseAddr("198.51.100.9")
	owner   = netip.MustParseAddr("203.0.113.5")
)

func TestThrottleGrowingDelayThenCutOff(t *testing.T) {
	t.Parallel()
	c := newClock()
	th := newThrottle(t, authn.ThrottleOptions{BaseDelay: time.Second, MaxDelay: 8 * time.Second, CutOff: 6, CoolDown: 10 * time.Minute, LoginSlowAfter: 100, Now: c.Now})
	want := []time.Duration{1, 2, 4, 8, 8}
	for i, w := range want {
		d, cut := th.Failure(guesser, "user"+string(rune('a'+i)))
		if d != w*time.Second || cut {
			t.Errorf("failure %d: delay %v cut %v, want %v false", i+1, d, cut, w*time.Second)
		}
		c.Advance(time.Second)
	}
	if _, cut := th.Failure(guesser, "userz"); !cut {
		t.Fatal("6th failure did not cut the client off")
	}
	if cut, until := th.CutOff(guesser); !cut || !until.Equal(c.Now().Add(10*time.Minute)) {
		t.Errorf("CutOff = %v %v", cut, until)
	}
	// Another client is not affected.
	if cut, _ := th.CutOff(owner); cut {
		t.Error("other client cut off")
	}
	if d, cut := th.Failure(owner, "owner"); d != time.Second || cut {
		t.Errorf("other client's first failure: %v %v", d, cut)
	}
	// A failure of an attempt begun before the cut-off is cut off too.
	if _, cut := th.Failure(guesser, "late"); !cut {
		t.Error("failure during the cool-down not cut off")
	}
	c.Advance(10 * time.Minute)
	if cut, _ := th.CutOff(guesser); cut {
		t.Error("still cut off after the cool-down")
	}
}

func TestThrottleWindowForgets(t *testing.T) {
	t.Parallel()
	c := newClock()
	th := newThrottle(t, authn.ThrottleOptions{Window: time.Minute, BaseDelay: time.Second, CutOff: 3, Now: c.Now})
	th.Failure(guesser, "a")
	th.Failure(guesser, "b")
	c.Advance(time.Minute)
	if d, cut := th.Failure(guesser, "c"); d != time.Second || cut {
		t.Errorf("after the window: delay %v cut %v, want 1s false", d, cut)
	}
}

func TestThrottleIPv6Slash64(t *testing.T) {
	t.Parallel()
	c := newClock()
	th := newThrottle(t, authn.ThrottleOptions{CutOff: 2, Now: c.Now})
	th.Failure(netip.MustParseAddr("2001:db8:1:2::1"), "a")
	if _, cut := th.Failure(netip.MustParseAddr("2001:db8:1:2:ffff::7"), "b"); !cut {
		t.Error("second failure in the same /64 did not cut off")
	}
	if cut, _ := th.CutOff(netip.MustParseAddr("2001:db8:1:2:aaaa::1")); !cut {
		t.Error("/64 not cut off")
	}
	if cut, _ := th.CutOff(netip.MustParseAddr("2001:db8:1:3::1")); cut {
		t.Error("neighbouring /64 cut off")
	}
	if got := authn.ClientBlock(netip.MustParseAddr("::ffff:192.0.2.1")).String(); got != "192.0.2.1/32" {
		t.Errorf("mapped IPv4 block %s", got)
	}
}

func TestThrottleLoginSlowedNeverLocked(t *testing.T) {
	t.Parallel()
	c := newClock()
	th := newThrottle(t, authn.ThrottleOptions{BaseDelay: time.Second, MaxDelay: 4 * time.Second, CutOff: 1000, LoginSlowAfter: 2, Now: c.Now})
	// Failures for one login from many addresses.
	var delays []time.Duration
	for i := range 5 {
		ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
		d, cut := th.Failure(ip, "alice")
		if cut {
			t.Fatalf("failure %d cut off", i+1)
		}
		delays = append(delays, d)
	}
	want := []time.Duration{time.Second, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Errorf("delays %v, want %v", delays, want)
			break
		}
	}
	// The owner is never refused outright, and a success clears the login.
	if cut, _ := th.CutOff(owner); cut {
		t.Error("owner cut off")
	}
	th.Success("alice")
	if d, _ := th.Failure(owner, "alice"); d != time.Second {
		t.Errorf("after success: %v", d)
	}
}

func TestThrottleOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, o := range []authn.ThrottleOptions{
		{Window: -1}, {CutOff: -1}, {BaseDelay: time.Minute, MaxDelay: time.Second}, {Size: -2},
	} {
		if _, err := authn.NewThrottle(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// TestAuthenticatorThrottles drives PLAIN exchanges through an
// Authenticator with a throttle: growing delays, the cut-off as
// KindThrottled, nothing reaching the directory afterwards, and another
// client logging in meanwhile.
func TestAuthenticatorThrottles(t *testing.T) {
	t.Parallel()
	c := newClock()
	th := newThrottle(t, authn.ThrottleOptions{BaseDelay: time.Second, MaxDelay: time.Minute, CutOff: 4, LoginSlowAfter: 100, Now: c.Now})
	r := &rig{dir: &fakeDir{}, log: &logtest.Buffer{}, sleeps: &sleeps{}}
	a, err := authn.New(r.dir, authn.Options{
		Logger:   slog.New(slog.NewTextHandler(r.log, nil)),
		Sleep:    r.sleeps.sleep,
		Throttle: th,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bad := authn.ConnInfo{RemoteIP: guesser, Listener: "submission", TLS: true}
	good := authn.ConnInfo{RemoteIP: owner, Listener: "submission", TLS: true}
	plain := func(info authn.ConnInfo, user, pw string) error {
		srv, err := a.NewServer(ctx, sasl.Plain, info, nil)
		if err != nil {
			return err
		}
		_, _, err = srv.Next([]byte("\x00" + user + "\x00" + pw))
		return err
	}
	var kinds []authn.Kind
	for i := range 4 {
		err := plain(bad, "alice", "guess"+string(rune('0'+i)))
		var e *authn.Error
		if !errors.As(err, &e) {
			t.Fatalf("guess %d: %v", i, err)
		}
		kinds = append(kinds, e.Kind)
		// The real owner logs in between guesses.
		if err := plain(good, "alice", "alice-pw"); err != nil {
			t.Fatalf("owner during guessing: %v", err)
		}
	}
	wantKinds := []authn.Kind{authn.KindInvalidCredentials, authn.KindInvalidCredentials, authn.KindInvalidCredentials, authn.KindThrottled}
	for i := range wantKinds {
		if kinds[i] != wantKinds[i] {
			t.Fatalf("kinds %v, want %v", kinds, wantKinds)
		}
	}
	if got, want := r.sleeps.all(), []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}; len(got) != len(want) || got[0] != want[0] || got[3] != want[3] {
		t.Errorf("delays %v, want %v", got, want)
	}
	calls := r.dir.callCount()
	// Cut off: refused at once, before the exchange, without the directory.
	_, err = a.NewServer(ctx, sasl.Plain, bad, nil)
	var e *authn.Error
	if !errors.As(err, &e) || e.Kind != authn.KindThrottled {
		t.Fatalf("NewServer while cut off: %v", err)
	}
	if r.dir.callCount() != calls {
		t.Error("a cut-off client reached the directory")
	}
	if err := plain(good, "alice", "alice-pw"); err != nil {
		t.Errorf("owner after the cut-off: %v", err)
	}
	log := r.log.String()
	for _, want := range []string{`msg="auth client cut off" client_ip=198.51.100.9`, `msg="auth failed" client_ip=198.51.100.9 login=alice`, "kind=throttled"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	c.Advance(authn.DefaultThrottleCoolDown)
	if err := plain(bad, "alice", "alice-pw"); err != nil {
		t.Errorf("after the cool-down: %v", err)
	}
}
