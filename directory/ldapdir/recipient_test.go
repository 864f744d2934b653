package ldapdir_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/directory/ldapdir"
	"bridgehead.dev/bridgehead/directory/ldapdir/slapdtest"
	"bridgehead.dev/bridgehead/internal/fakeclock"
)

// newClock is a settable clock for cache freshness.
func newClock() *fakeclock.Clock { return fakeclock.New(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)) }

func TestOpenLDAPRecipients(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	d := newDir(t, baseOptions(t, s, ldapdir.SchemaOpenLDAP))
	ctx := t.Context()

	for _, tc := range []struct {
		addr string
		want directory.Recipient
	}{
		{"alice@example.test", directory.Recipient{Address: "alice@example.test", Kind: directory.KindUser, Login: "alice", Backend: "mailstore1"}},
		{"A.Smith@EXAMPLE.test", directory.Recipient{Address: "a.smith@example.test", Kind: directory.KindUser, Login: "alice", Backend: "mailstore1"}},
		{"bob@example.test", directory.Recipient{Address: "bob@example.test", Kind: directory.KindUser, Login: "bob", Backend: "mailstore2"}},
		{"locked@example.test", directory.Recipient{Address: "locked@example.test", Kind: directory.KindUser, Login: "locked"}},
		{"sales@example.test", directory.Recipient{Address: "sales@example.test", Kind: directory.KindGroup, Backend: "mailstore1"}},
		{"carol@example.test", directory.Recipient{Address: "carol@example.test", Kind: directory.KindContact}},
	} {
		r, err := d.LookupRecipient(ctx, tc.addr)
		if err != nil || *r != tc.want {
			t.Errorf("LookupRecipient(%s) = %+v, %v; want %+v", tc.addr, r, err, tc.want)
		}
	}
	for _, addr := range []string{"nobody@example.test", "*", "*@example.test", "alice@example.test)(mail=*", "alice@example.test\x00", `\`, "", "("} {
		if r, err := d.LookupRecipient(ctx, addr); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("LookupRecipient(%q) = %+v, %v; want not found", addr, r, err)
		}
	}
	// An address on two entries is the directory's mistake: a temporary
	// failure, not a bounce.
	if r, err := d.LookupRecipient(ctx, "dup@example.test"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("dup = %+v, %v; want unavailable", r, err)
	}
}

func TestRoutingOverride(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	opts := baseOptions(t, s, ldapdir.SchemaOpenLDAP)
	opts.RoutingAttribute = "sn"
	opts.UserFilter = "(&(objectClass=inetOrgPerson)(mail=%s))"
	d := newDir(t, opts)
	r, err := d.LookupRecipient(t.Context(), "bob@example.test")
	if err != nil || r.Backend != "Jones" {
		t.Fatalf("routed by sn: %+v, %v", r, err)
	}
	u, err := d.Authenticate(t.Context(), "alice@example.test", alicePW)
	if err != nil || u.Login != "alice" {
		t.Fatalf("login by mail: %+v, %v", u, err)
	}
}

func TestCacheAvoidsQuery(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	d := newDir(t, baseOptions(t, s, ldapdir.SchemaOpenLDAP))
	ctx := t.Context()

	// Counted at the server: the monitor backend's completed searches.
	// Each SearchCount call is one more search, counted from the next call.
	c0 := s.SearchCount(t)
	for range 5 {
		if _, err := d.LookupRecipient(ctx, "bob@example.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.LookupRecipient(ctx, "ghost@example.test"); !errors.Is(err, directory.ErrNotFound) {
			t.Fatal(err)
		}
	}
	c1 := s.SearchCount(t)
	if got := c1 - c0 - 1; got != 2 {
		t.Errorf("server saw %d searches for 5 lookups each of a found and a missing address, want 2", got)
	}
	st := d.Stats()
	if st.Hits != 8 || st.Misses != 2 || st.Queries != 2 || st.Errors != 0 {
		t.Errorf("stats = %+v", st)
	}

	// Concurrent lookups of one key share one query.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := d.LookupUser(ctx, "alice"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := s.SearchCount(t) - c1 - 1; got != 2 { // the user and its groups
		t.Errorf("50 concurrent lookups made %d searches, want 2", got)
	}

	// Password checks are never answered from the cache.
	if _, err := d.Authenticate(ctx, "alice", alicePW); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Authenticate(ctx, "alice", "wrong"); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Fatalf("wrong password after a good one: %v", err)
	}
}

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	clock := newClock()
	opts := baseOptions(t, s, ldapdir.SchemaOpenLDAP)
	opts.Now = clock.Now
	opts.Cache = ldapdir.CacheOptions{TTL: time.Minute, NegativeTTL: 10 * time.Second}
	d := newDir(t, opts)
	ctx := t.Context()

	look := func(addr string) {
		t.Helper()
		_, _ = d.LookupRecipient(ctx, addr)
	}
	look("bob@example.test")
	look("ghost@example.test")
	clock.Advance(30 * time.Second) // negative expired, positive not
	look("bob@example.test")
	look("ghost@example.test")
	if q := d.Stats().Queries; q != 3 {
		t.Errorf("after 30s: %d queries, want 3", q)
	}
	clock.Advance(31 * time.Second) // positive expired
	look("bob@example.test")
	if q := d.Stats().Queries; q != 4 {
		t.Errorf("after 61s: %d queries, want 4", q)
	}
}
