package authn_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
)

func newCache(t *testing.T, dir directory.Authenticator) *authn.Cache {
	t.Helper()
	c, err := authn.NewCache(dir, authn.CacheOptions{})
	if err != nil {
		t.Fatalf("NewCache: %v", err)
	}
	return c
}

func TestCacheSecondLoginDoesNotReachDirectory(t *testing.T) {
	t.Parallel()
	dir := &fakeDir{}
	c := newCache(t, dir)
	ctx := context.Background()
	for i := range 3 {
		u, err := c.Authenticate(ctx, "alice", "alice-pw")
		if err != nil || u.Login != "alice" {
			t.Fatalf("login %d: %v, %v", i, u, err)
		}
	}
	if n := dir.callCount(); n != 1 {
		t.Errorf("directory asked %d times, want 1", n)
	}
	if hits, misses := c.Stats(); hits != 2 || misses != 1 {
		t.Errorf("stats: %d hits, %d misses; want 2, 1", hits, misses)
	}
}

func TestCacheWrongPasswordNeverMatches(t *testing.T) {
	t.Parallel()
	dir := &fakeDir{}
	c := newCache(t, dir)
	ctx := context.Background()
	if _, err := c.Authenticate(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"alice-pW", "alice-pw ", "", "alice"} {
		if _, err := c.Authenticate(ctx, "alice", pw); !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Errorf("password %q: err %v, want invalid credentials", pw, err)
		}
	}
	// Every wrong password went to the directory, and evicted the entry.
	if _, err := c.Authenticate(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	if n := dir.callCount(); n != 6 {
		t.Errorf("directory asked %d times, want 6 (1 + 4 wrong + 1 after eviction)", n)
	}
}

func TestCacheLoginsApartAndFailuresNotRemembered(t *testing.T) {
	t.Parallel()
	dir := &fakeDir{}
	c := newCache(t, dir)
	ctx := context.Background()
	if _, err := c.Authenticate(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	// Another login with alice's password is not alice.
	if _, err := c.Authenticate(ctx, "alicE", "alice-pw"); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Errorf("other login: %v", err)
	}
	for range 2 {
		if _, err := c.Authenticate(ctx, "bob", "bob-pw"); !errors.Is(err, directory.ErrDisabled) {
			t.Errorf("disabled: %v", err)
		}
	}
	if n := dir.callCount(); n != 4 {
		t.Errorf("directory asked %d times, want 4", n)
	}
}

func TestCacheDirectoryDownEvicts(t *testing.T) {
	t.Parallel()
	dir := &fakeDir{}
	c := newCache(t, dir)
	ctx := context.Background()
	if _, err := c.Authenticate(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	c.Forget("alice")
	dir.mu.Lock()
	dir.err = directory.ErrUnavailable
	dir.mu.Unlock()
	if _, err := c.Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("after Forget with the directory down: %v", err)
	}
}

func TestCacheCopiesUsers(t *testing.T) {
	t.Parallel()
	c := newCache(t, &fakeDir{})
	ctx := context.Background()
	u, _ := c.Authenticate(ctx, "alice", "alice-pw")
	u.Addresses[0] = "mallory@example.test"
	u2, _ := c.Authenticate(ctx, "alice", "alice-pw")
	if u2.Addresses[0] != "alice@example.test" {
		t.Errorf("cached user changed through a returned copy: %v", u2.Addresses)
	}
}

func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	c := newCache(t, &fakeDir{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			pw := "alice-pw"
			if i%2 == 1 {
				pw = "wrong"
			}
			for range 50 {
				_, _ = c.Authenticate(context.Background(), "alice", pw)
			}
		})
	}
	wg.Wait()
}

func TestNewCacheRefusesBadOptions(t *testing.T) {
	t.Parallel()
	if _, err := authn.NewCache(nil, authn.CacheOptions{}); err == nil {
		t.Error("nil authenticator accepted")
	}
	if _, err := authn.NewCache(&fakeDir{}, authn.CacheOptions{TTL: -1}); err == nil {
		t.Error("negative TTL accepted")
	}
}

// blockingDir is a directory whose checks wait for release, counting them.
type blockingDir struct {
	release chan struct{}
	mu      sync.Mutex
	calls   int
}

func (d *blockingDir) Authenticate(ctx context.Context, login, password string) (*directory.User, error) {
	d.mu.Lock()
	d.calls++
	d.mu.Unlock()
	<-d.release
	return &directory.User{Login: login, Addresses: []string{login + "@example.test"}}, nil
}

func TestCacheSimultaneousLoginsShareOneCheck(t *testing.T) {
	t.Parallel()
	const clients = 16
	dir := &blockingDir{release: make(chan struct{})}
	c := newCache(t, dir)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			u, err := c.Authenticate(context.Background(), "alice", "alice-pw")
			if err == nil && u.Login != "alice" {
				err = errors.New("wrong user " + u.Login)
			}
			errs <- err
		})
	}
	// Every client has missed the cache and is waiting on a check.
	for {
		if _, misses := c.Stats(); misses == clients {
			break
		}
		runtime.Gosched()
	}
	close(dir.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	dir.mu.Lock()
	defer dir.mu.Unlock()
	// Without sharing, each of the clients blocked in a check of its own.
	if dir.calls >= clients {
		t.Errorf("%d directory checks for %d simultaneous logins, want them shared", dir.calls, clients)
	}
}
