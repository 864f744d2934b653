package ldapdir_test

import (
	"errors"
	"slices"
	"testing"

	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/directory/ldapdir"
	"bridgehead.dev/bridgehead/directory/ldapdir/slapdtest"
)

func TestOpenLDAPAuthenticate(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	d := newDir(t, baseOptions(t, s, ldapdir.SchemaOpenLDAP))
	ctx := t.Context()

	u, err := d.Authenticate(ctx, "alice", alicePW)
	if err != nil {
		t.Fatalf("alice: %v", err)
	}
	if u.Login != "alice" || !slices.Equal(u.Addresses, []string{"alice@example.test", "a.smith@example.test"}) ||
		!slices.Equal(u.SendAs, []string{"sales@example.test"}) || u.Backend != "mailstore1" {
		t.Errorf("alice = %+v", u)
	}
	if u, err := d.Authenticate(ctx, "ALICE", alicePW); err != nil || u.Login != "alice" {
		t.Errorf("ALICE: %+v, %v", u, err)
	}
	if u, err := d.Authenticate(ctx, `weird(1)\*`, weirdPW); err != nil || u.Login != `weird(1)\*` {
		t.Errorf("login with metacharacters: %+v, %v", u, err)
	}

	for _, tc := range []struct {
		name, login, pw string
		want            error
	}{
		{"bad password", "alice", "wrong", directory.ErrInvalidCredentials},
		{"unknown login", "nobody", alicePW, directory.ErrInvalidCredentials},
		{"locked by ppolicy", "locked", lockedPW, directory.ErrDisabled},
		{"locked, bad password", "locked", "wrong", directory.ErrDisabled},
		{"empty login", "", alicePW, directory.ErrInvalidCredentials},
		{"star", "*", alicePW, directory.ErrInvalidCredentials},
		{"prefix star", "al*", alicePW, directory.ErrInvalidCredentials},
		{"open paren", "(", alicePW, directory.ErrInvalidCredentials},
		{"close paren", ")", alicePW, directory.ErrInvalidCredentials},
		{"backslash", `\`, alicePW, directory.ErrInvalidCredentials},
		{"NUL", "alice\x00", alicePW, directory.ErrInvalidCredentials},
		{"injection", "alice)(uid=*", alicePW, directory.ErrInvalidCredentials},
		{"injection or", "*)(|(uid=*", alicePW, directory.ErrInvalidCredentials},
		{"weird prefix", `weird(1)`, weirdPW, directory.ErrInvalidCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := d.Authenticate(ctx, tc.login, tc.pw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Authenticate(%q) = %+v, %v; want %v", tc.login, u, err, tc.want)
			}
		})
	}

	t.Run("empty password refused before any LDAP operation", func(t *testing.T) {
		before := d.Stats().Queries
		_, err := d.Authenticate(ctx, "alice", "")
		if !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Fatalf("empty password: %v", err)
		}
		if q := d.Stats().Queries; q != before {
			t.Fatalf("empty password sent %d queries", q-before)
		}
	})

	// The directory still answers after all of that.
	if _, err := d.Authenticate(ctx, "bob", alicePW); err != nil {
		t.Fatalf("bob afterwards: %v", err)
	}
}

func TestOpenLDAPSendAs(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: openldapSeed()})
	ctx := t.Context()

	d := newDir(t, baseOptions(t, s, ldapdir.SchemaOpenLDAP))
	u, err := d.LookupUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"alice@example.test": true, "A.Smith@Example.Test": true, // own
		"sales@example.test":   true,  // group member
		"support@example.test": false, // group of another user
		"bob@example.test":     false, // another user
		"carol@example.test":   false,
	} {
		if got := u.MaySendAs(addr); got != want {
			t.Errorf("alice MaySendAs(%s) = %v, want %v", addr, got, want)
		}
	}
	if _, err := d.LookupUser(ctx, "locked"); !errors.Is(err, directory.ErrDisabled) {
		t.Errorf("locked: %v", err)
	}
	if _, err := d.LookupUser(ctx, "nobody"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("nobody: %v", err)
	}
	if _, err := d.LookupUser(ctx, "*"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("*: %v", err)
	}

	opts := baseOptions(t, s, ldapdir.SchemaOpenLDAP)
	opts.SendAsGroups = false
	d2 := newDir(t, opts)
	u, err = d2.LookupUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.MaySendAs("sales@example.test") || len(u.SendAs) != 0 {
		t.Errorf("without send-as groups: %+v", u)
	}
}

func TestActiveDirectoryPreset(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: adSeed(), ADSchema: true})
	d := newDir(t, baseOptions(t, s, ldapdir.SchemaActiveDirectory))
	ctx := t.Context()

	for _, login := range []string{"asmith", "ASmith", "asmith@corp.example.test"} {
		u, err := d.Authenticate(ctx, login, alicePW)
		if err != nil {
			t.Fatalf("%s: %v", login, err)
		}
		if u.Login != "asmith" || u.Backend != "MAIL1" ||
			!slices.Equal(u.Addresses, []string{"alice@example.test", "a.smith@example.test"}) ||
			!slices.Equal(u.SendAs, []string{"shared@example.test", "info@example.test"}) {
			t.Errorf("%s = %+v", login, u)
		}
		if u.MaySendAs("vendor@example.test") || u.MaySendAs("dis@example.test") {
			t.Errorf("%s may send as others: %+v", login, u)
		}
	}
	for _, tc := range []struct {
		name, login, pw string
		want            error
	}{
		{"bad password", "asmith", "wrong", directory.ErrInvalidCredentials},
		{"disabled 514", "dis", lockedPW, directory.ErrDisabled},
		{"disabled by UPN", "dis@corp.example.test", lockedPW, directory.ErrDisabled},
		{"computer account", "ws01$", alicePW, directory.ErrInvalidCredentials},
		{"star", "*", alicePW, directory.ErrInvalidCredentials},
		{"injection", "asmith)(sAMAccountName=*", alicePW, directory.ErrInvalidCredentials},
		{"NUL", "asmith\x00", alicePW, directory.ErrInvalidCredentials},
		{"empty password", "asmith", "", directory.ErrInvalidCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if u, err := d.Authenticate(ctx, tc.login, tc.pw); !errors.Is(err, tc.want) {
				t.Fatalf("Authenticate(%q) = %+v, %v; want %v", tc.login, u, err, tc.want)
			}
		})
	}

	if _, err := d.LookupUser(ctx, "dis"); !errors.Is(err, directory.ErrDisabled) {
		t.Errorf("LookupUser(dis): %v", err)
	}
	for _, tc := range []struct {
		addr string
		want directory.Recipient
	}{
		{"alice@example.test", directory.Recipient{Address: "alice@example.test", Kind: directory.KindUser, Login: "asmith", Backend: "MAIL1"}},
		{"A.SMITH@example.test", directory.Recipient{Address: "a.smith@example.test", Kind: directory.KindUser, Login: "asmith", Backend: "MAIL1"}},
		{"info@example.test", directory.Recipient{Address: "info@example.test", Kind: directory.KindGroup}},
		{"vendor@example.test", directory.Recipient{Address: "vendor@example.test", Kind: directory.KindContact}},
	} {
		r, err := d.LookupRecipient(ctx, tc.addr)
		if err != nil || *r != tc.want {
			t.Errorf("LookupRecipient(%s) = %+v, %v; want %+v", tc.addr, r, err, tc.want)
		}
	}
	for _, addr := range []string{"nobody@example.test", "X500:/o=Corp/ou=Exchange/cn=Recipients/cn=asmith", "*@example.test"} {
		if r, err := d.LookupRecipient(ctx, addr); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("LookupRecipient(%s) = %+v, %v; want not found", addr, r, err)
		}
	}
}
