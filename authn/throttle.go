package authn

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Throttle defaults, used for the zero fields of ThrottleOptions.
const (
	DefaultThrottleWindow   = 15 * time.Minute
	DefaultThrottleMaxDelay = 16 * time.Second
	DefaultThrottleCutOff   = 10
	DefaultThrottleCoolDown = 15 * time.Minute
	DefaultLoginSlowAfter   = 5
	DefaultThrottleSize     = 65536
)

// ThrottleOptions configure a Throttle. The zero value is ready to use.
type ThrottleOptions struct {
	// Window is how long a failure counts: a client (or login) with no
	// failure for Window starts again from nothing. Zero means
	// DefaultThrottleWindow (15m).
	Window time.Duration
	// BaseDelay is the pause after a client's first failure; it doubles
	// with each further failure up to MaxDelay. Zero means
	// DefaultFailureDelay (1s).
	BaseDelay time.Duration
	// MaxDelay bounds the pause. Zero means DefaultThrottleMaxDelay (16s).
	MaxDelay time.Duration
	// CutOff is the number of failures from one client address (one /64
	// for IPv6) within Window after which its AUTH attempts are refused
	// (421 4.7.0, connection closed) for CoolDown. Zero means
	// DefaultThrottleCutOff (10).
	CutOff int
	// CoolDown is how long a cut-off client stays refused. Zero means
	// DefaultThrottleCoolDown (15m).
	CoolDown time.Duration
	// LoginSlowAfter is the number of failures for one login, from any
	// address, within Window after which each further failure for it
	// waits longer (doubling up to MaxDelay). A login is slowed, never
	// locked out. Zero means DefaultLoginSlowAfter (5).
	LoginSlowAfter int
	// Size bounds how many addresses and logins are tracked (the least
	// recently failed are forgotten first). Zero means DefaultThrottleSize.
	Size int
	// Now returns the current time. Nil means time.Now; tests inject a
	// clock.
	Now func() time.Time
}

// Validate reports out-of-range options.
func (o *ThrottleOptions) Validate() error {
	if o.Window < 0 || o.BaseDelay < 0 || o.MaxDelay < 0 || o.CoolDown < 0 {
		return fmt.Errorf("authn: throttle: negative duration")
	}
	if o.CutOff < 0 || o.LoginSlowAfter < 0 || o.Size < 0 {
		return fmt.Errorf("authn: throttle: negative count")
	}
	if o.BaseDelay > 0 && o.MaxDelay > 0 && o.BaseDelay > o.MaxDelay {
		return fmt.Errorf("authn: throttle: base delay %v above max delay %v", o.BaseDelay, o.MaxDelay)
	}
	return nil
}

// withDefaults returns the options with zero fields set.
func (o ThrottleOptions) withDefaults() ThrottleOptions {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&o.Window, DefaultThrottleWindow)
	set(&o.BaseDelay, DefaultFailureDelay)
	set(&o.MaxDelay, DefaultThrottleMaxDelay)
	set(&o.CoolDown, DefaultThrottleCoolDown)
	if o.MaxDelay < o.BaseDelay {
		o.MaxDelay = o.BaseDelay
	}
	if o.CutOff == 0 {
		o.CutOff = DefaultThrottleCutOff
	}
	if o.LoginSlowAfter == 0 {
		o.LoginSlowAfter = DefaultLoginSlowAfter
	}
	if o.Size == 0 {
		o.Size = DefaultThrottleSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Throttle counts failed attempts per client address (per /64 for IPv6)
// and per login, and says how long to wait before answering a failure and
// when a client is cut off. It is safe for concurrent use.
type Throttle struct {
	o      ThrottleOptions
	mu     sync.Mutex
	ips    *lru.Cache[netip.Prefix, *failures]
	logins *lru.Cache[string, *failures]
}

// failures is the count for one address block or login.
type failures struct {
	n     int
	last  time.Time
	until time.Time // end of the cool-down, for address blocks
}

// NewThrottle returns a Throttle.
func NewThrottle(opts ThrottleOptions) (*Throttle, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	ips, err := lru.New[netip.Prefix, *failures](o.Size)
	if err != nil {
		return nil, fmt.Errorf("authn: throttle: %w", err)
	}
	logins, err := lru.New[string, *failures](o.Size)
	if err != nil {
		return nil, fmt.Errorf("authn: throttle: %w", err)
	}
	return &Throttle{o: o, ips: ips, logins: logins}, nil
}

// ClientBlock returns the block an address is counted in: the address
// itself for IPv4 (and IPv4-mapped IPv6), its /64 for IPv6.
func ClientBlock(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := ip.BitLen()
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// CutOff reports whether the client is in a cool-down, and until when.
func (t *Throttle) CutOff(ip netip.Addr) (bool, time.Time) {
	if !ip.IsValid() {
		return false, time.Time{}
	}
	now := t.o.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.ips.Peek(ClientBlock(ip))
	if !ok || !now.Before(f.until) {
		return false, time.Time{}
	}
	return true, f.until
}

// Failure records a failed attempt by the client for login and returns
// how long to wait before answering it, and whether this failure cut the
// client off (it reached CutOff).
func (t *Throttle) Failure(ip netip.Addr, login string) (delay time.Duration, cutOff bool) {
	now := t.o.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if ip.IsValid() {
		block := ClientBlock(ip)
		f := count(t, t.ips.Get, t.ips.Add, block, now)
		delay = t.backoff(f.n)
		switch {
		case now.Before(f.until):
			// Still cooling down (an attempt that began before the cut-off).
			cutOff = true
		case f.n >= t.o.CutOff:
			f.until = now.Add(t.o.CoolDown)
			// The first failure after the cool-down starts a fresh count.
			f.n = 0
			cutOff = true
		}
	}
	if login != "" {
		f := count(t, t.logins.Get, t.logins.Add, login, now)
		if over := f.n - t.o.LoginSlowAfter; over > 0 {
			delay = max(delay, t.backoff(over+1))
		}
	}
	return delay, cutOff
}

// Success forgets the login's failures. The client's count stays: a
// guesser's own account must not reset it.
func (t *Throttle) Success(login string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.logins.Remove(login)
}

// count adds one failure to key's counter, starting over when the last
// one is older than Window.
func count[K comparable](t *Throttle, get func(K) (*failures, bool), add func(K, *failures) bool, key K, now time.Time) *failures {
	f, ok := get(key)
	if !ok {
		f = &failures{}
		add(key, f)
	}
	if !f.last.IsZero() && now.Sub(f.last) >= t.o.Window {
		f.n = 0
	}
	f.n++
	f.last = now
	return f
}

// backoff is BaseDelay doubled for each failure after the first, at most
// MaxDelay.
func (t *Throttle) backoff(n int) time.Duration {
	d := t.o.BaseDelay
	for i := 1; i < n && d < t.o.MaxDelay; i++ {
		d *= 2
	}
	return min(d, t.o.MaxDelay)
}
