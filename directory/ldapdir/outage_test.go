package ldapdir_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/directory/ldapdir"
	"bridgehead.dev/bridgehead/directory/ldapdir/slapdtest"
)

func TestFailover(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	ctx := t.Context()

	for name, first := range map[string]string{
		"refused": slapdtest.DeadURL(t),
		"silent":  slapdtest.SilentURL(t), // accepts, never answers: times out
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := baseOptions(t, s, ldapdir.SchemaOpenLDAP)
			opts.URLs = []string{first, s.URL}
			opts.Timeout = 300 * time.Millisecond
			d := newDir(t, opts)
			if _, err := d.Authenticate(ctx, "alice", alicePW); err != nil {
				t.Fatalf("authenticate: %v", err)
			}
			if _, err := d.LookupRecipient(ctx, "bob@example.test"); err != nil {
				t.Fatalf("recipient: %v", err)
			}
		})
	}

	t.Run("all down", func(t *testing.T) {
		t.Parallel()
		opts := baseOptions(t, s, ldapdir.SchemaOpenLDAP)
		opts.URLs = []string{slapdtest.DeadURL(t), slapdtest.SilentURL(t)}
		opts.Timeout = 300 * time.Millisecond
		d := newDir(t, opts)
		if _, err := d.Authenticate(ctx, "alice", alicePW); !errors.Is(err, directory.ErrUnavailable) {
			t.Errorf("authenticate: %v", err)
		}
		if _, err := d.LookupRecipient(ctx, "bob@example.test"); !errors.Is(err, directory.ErrUnavailable) {
			t.Errorf("recipient: %v", err)
		}
		if _, err := d.LookupUser(ctx, "alice"); !errors.Is(err, directory.ErrUnavailable) {
			t.Errorf("user: %v", err)
		}
		if d.Stats().Errors == 0 {
			t.Error("no errors counted")
		}
	})
}

func TestServerRestart(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	opts := baseOptions(t, s, ldapdir.SchemaOpenLDAP)
	opts.Cache.Disabled = true
	d := newDir(t, opts)
	ctx := t.Context()

	if _, err := d.LookupRecipient(ctx, "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	s.Stop(t)
	if _, err := d.LookupRecipient(ctx, "bob@example.test"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("recipient while down: %v", err)
	}
	if _, err := d.Authenticate(ctx, "alice", alicePW); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("authenticate while down: %v", err)
	}
	if _, err := d.Authenticate(ctx, "alice", "wrong"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("wrong password while down: %v (must not look like bad credentials)", err)
	}
	s.Start(t)
	if _, err := d.LookupRecipient(ctx, "bob@example.test"); err != nil {
		t.Errorf("recipient after restart: %v", err)
	}
	if _, err := d.Authenticate(ctx, "alice", alicePW); err != nil {
		t.Errorf("authenticate after restart: %v", err)
	}
	// Every pooled connection died with the server; all are replaced.
	for range 8 {
		if _, err := d.LookupUser(ctx, "alice"); err != nil {
			t.Fatalf("lookup after restart: %v", err)
		}
	}
}

func TestStaleWhileDown(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	clock := newClock()
	opts := baseOptions(t, s, ldapdir.SchemaOpenLDAP)
	opts.Now = clock.Now
	opts.Cache = ldapdir.CacheOptions{TTL: time.Minute, StaleFor: 10 * time.Minute}
	d := newDir(t, opts)
	ctx := t.Context()

	if _, err := d.LookupRecipient(ctx, "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.LookupRecipient(ctx, "ghost@example.test"); !errors.Is(err, directory.ErrNotFound) {
		t.Fatal(err)
	}
	s.Stop(t)
	clock.Advance(2 * time.Minute)
	r, err := d.LookupRecipient(ctx, "bob@example.test")
	if err != nil || r.Backend != "mailstore2" {
		t.Fatalf("stale answer while down: %+v, %v", r, err)
	}
	if st := d.Stats(); st.StaleHits != 1 {
		t.Errorf("stats = %+v", st)
	}
	if _, err := d.LookupRecipient(ctx, "ghost@example.test"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("not-found answers are not served stale: %v", err)
	}
	clock.Advance(10 * time.Minute) // past TTL+StaleFor
	if _, err := d.LookupRecipient(ctx, "bob@example.test"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("too stale: %v", err)
	}
	s.Start(t)
	if _, err := d.LookupRecipient(ctx, "bob@example.test"); err != nil {
		t.Errorf("after restart: %v", err)
	}
}

func TestContextEnds(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	opts := baseOptions(t, s, ldapdir.SchemaOpenLDAP)
	opts.URLs = []string{slapdtest.SilentURL(t)}
	opts.Timeout = time.Minute
	d := newDir(t, opts)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Authenticate(ctx, "alice", alicePW); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("authenticate, cancelled: %v", err)
	}
	if _, err := d.LookupRecipient(ctx, "bob@example.test"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("recipient, cancelled: %v", err)
	}
	// A deadline stops a request the server never answers.
	ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := d.Authenticate(ctx, "alice", alicePW); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("authenticate, deadline: %v", err)
	}
}

func TestPasswordFileRotation(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := baseOptions(t, s, ldapdir.SchemaOpenLDAP)
	opts.BindPasswordFile = pwFile
	opts.Cache.Disabled = true
	d := newDir(t, opts)
	if _, err := d.LookupUser(t.Context(), "alice"); !errors.Is(err, directory.ErrUnavailable) {
		t.Fatalf("bad service password: %v", err)
	}
	if err := os.WriteFile(pwFile, []byte(slapdtest.ServicePassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.LookupUser(t.Context(), "alice"); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}
