package authn_test

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/internal/logtest"
)

// fakeDir is a directory.Authenticator with two users (alice/alice-pw and,
// disabled, bob/bob-pw) that fails on cue and records its calls.
type fakeDir struct {
	mu    sync.Mutex
	err   error // returned by every call when set
	calls []string
}

func (d *fakeDir) Authenticate(ctx context.Context, login, password string) (*directory.User, error) {
	d.mu.Lock()
	d.calls = append(d.calls, login)
	forced := d.err
	d.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if forced != nil {
		return nil, forced
	}
	switch {
	case login == "alice" && password == "alice-pw":
		return &directory.User{Login: "alice", Addresses: []string{"alice@example.test"}}, nil
	case login == "bob" && password == "bob-pw":
		return nil, directory.ErrDisabled
	}
	return nil, directory.ErrInvalidCredentials
}

func (d *fakeDir) callCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

// sleeps records the failure delays asked for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// rig is an Authenticator over a fakeDir with its log and delays captured.
type rig struct {
	auth   *authn.Authenticator
	dir    *fakeDir
	log    *logtest.Buffer
	sleeps *sleeps
}

var testConn = authn.ConnInfo{
	RemoteIP: netip.MustParseAddr("192.0.2.7"),
	Listener: "submission",
	TLS:      true,
}

func newRig(t testing.TB) *rig {
	t.Helper()
	r := &rig{dir: &fakeDir{}, log: &logtest.Buffer{}, sleeps: &sleeps{}}
	a, err := authn.New(r.dir, authn.Options{
		Logger: slog.New(slog.NewTextHandler(r.log, nil)),
		Sleep:  r.sleeps.sleep,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r.auth = a
	return r
}
