package static

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"bridgehead.dev/bridgehead/directory"
)

// Hashes at bcrypt.MinCost keep the tests fast.
const (
	aliceHash = "$2a$04$i7vJVzqzRHoPPkoZ/vYCce9lc0/yzbyPQLWcL02FcutlBSBpZrXYy" // alice-secret
	bobHash   = "$2a$04$5vJYVAVCgjT.udXYC72YaObSLbeepwGZ2UjOoW5PYn84pzFJnaxbe" // bob-secret
)

const goodFile = `users:
  - login: alice
    password: "` + aliceHash + `"
    addresses: [alice@example.test, A.Smith@Example.test]
    send_as: [sales@example.test]
  - login: Bob
    password: '` + bobHash + `'
    addresses:
      - bob@example.test
    disabled: true
`

func mustParse(t testing.TB, data string) *Directory {
	t.Helper()
	d, err := Parse("users.yaml", []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	user := func(login string, extra string) string {
		return fmt.Sprintf("  - login: %s\n    password: %q\n    addresses: [%s@example.test]\n%s", login, aliceHash, login, extra)
	}
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty file", "", "users.yaml:1: no users: the file is empty"},
		{"not a mapping", "- a\n- b\n", "users.yaml:1: the file must be a mapping with a users key"},
		{"no users key", "people: []\n", "users.yaml:1: no users key"},
		{"users not a list", "users:\n  alice: x\n", "users.yaml:2: users must be a list"},
		{"no users", "users: []\n", "users.yaml:1: no users"},
		{"user not a mapping", "users:\n  - alice\n", "users.yaml:2: each user must be a mapping (login, password, addresses, ...)"},
		{"syntax error", "users:\n\t- login: a\n", "users.yaml:2: found character that cannot start any token"},
		{"unknown top-level key", "users:\n" + user("alice", "") + "domains: [x]\n", `users.yaml:5: unknown key "domains"`},
		{"unknown user key", "users:\n" + user("alice", "    pasword: x\n"), `users.yaml:5: unknown key "pasword"`},
		{"repeated key", "users:\n" + user("alice", "    login: again\n"), `users.yaml:5: key "login" repeated (first at line 2)`},
		{"two documents", "users:\n" + user("alice", "") + "---\nusers: []\n", "users.yaml:5: only one YAML document is allowed"},
		{"no login", "users:\n  - password: x\n", "users.yaml:2: user has no login"},
		{"empty login", "users:\n  - login: ''\n", `users.yaml:2: bad login "": empty`},
		{"login not a string", "users:\n  - login: [a]\n", "users.yaml:2: login must be a string"},
		{"login with space", "users:\n  - login: 'a b'\n", `users.yaml:2: bad login "a b": contains spaces or control characters`},
		{"duplicate login", "users:\n" + user("alice", "") + user("ALICE", ""), `users.yaml:5: duplicate login "ALICE" (first at line 2)`},
		{"no password", "users:\n  - login: alice\n    addresses: [a@b.test]\n", `users.yaml:2: user "alice" has no password`},
		{"plain-text password", "users:\n  - login: alice\n    password: hunter2\n", `users.yaml:3: password of "alice" is not a bcrypt hash (7 characters, want 60)`},
		{"password not a string", "users:\n  - login: alice\n    password: 12345\n", `users.yaml:3: password of "alice" is not a bcrypt hash`},
		{"other hash scheme", "users:\n  - login: alice\n    password: '$5$" + strings.Repeat("a", 57) + "'\n", `users.yaml:3: password of "alice" is not a bcrypt hash (does not start with $2a$, $2b$ or $2y$)`},
		{"bcrypt cost too high", "users:\n  - login: alice\n    password: '$2a$40$" + aliceHash[7:] + "'\n", `users.yaml:3: password of "alice" is not a bcrypt hash (cost 40 is outside allowed inclusive range 4..31)`},
		{"bcrypt bad characters", "users:\n  - login: alice\n    password: '" + aliceHash[:59] + "!'\n", `users.yaml:3: password of "alice" is not a bcrypt hash (bad characters)`},
		{"no addresses key", "users:\n  - login: alice\n    password: '" + aliceHash + "'\n", `users.yaml:2: user "alice" has no addresses`},
		{"empty addresses", "users:\n  - login: alice\n    password: '" + aliceHash + "'\n    addresses: []\n", `users.yaml:4: user "alice" has no addresses`},
		{"addresses not a list", "users:\n  - login: alice\n    password: '" + aliceHash + "'\n    addresses: a@b.test\n", "users.yaml:4: addresses must be a list of addresses"},
		{"address not a string", "users:\n  - login: alice\n    password: '" + aliceHash + "'\n    addresses:\n      - [a]\n", "users.yaml:5: addresses entry must be a string"},
		{"bad address syntax", "users:\n  - login: alice\n    password: '" + aliceHash + "'\n    addresses:\n      - ok@b.test\n      - not-an-address\n", `users.yaml:6: bad address "not-an-address": missing '@' or angle-addr`},
		{"address with name", "users:\n  - login: alice\n    password: '" + aliceHash + "'\n    addresses: ['Alice <a@b.test>']\n", `users.yaml:4: bad address "Alice <a@b.test>": not a bare address (local@domain)`},
		{"duplicate address", "users:\n" + user("alice", "") + "  - login: bob\n    password: '" + bobHash + "'\n    addresses: [bob@example.test, Alice@Example.TEST]\n",
			`users.yaml:7: duplicate address "Alice@Example.TEST" (already "alice"'s at line 4)`},
		{"bad send_as", "users:\n" + user("alice", "    send_as: [x]\n"), `users.yaml:5: bad address "x": missing '@' or angle-addr`},
		{"send_as not a list", "users:\n" + user("alice", "    send_as: x@y.test\n"), "users.yaml:5: send_as must be a list of addresses"},
		{"disabled not a bool", "users:\n" + user("alice", "    disabled: yes\n"), "users.yaml:5: disabled must be true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := Parse("users.yaml", []byte(tt.data))
			if err == nil {
				t.Fatalf("Parse succeeded (%d users), want error %q", len(d.byLogin), tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseErrorNeverShowsPassword(t *testing.T) {
	t.Parallel()
	_, err := Parse("u.yaml", []byte("users:\n  - login: alice\n    password: correct-horse-battery\n"))
	if err == nil || strings.Contains(err.Error(), "correct-horse") {
		t.Fatalf("error = %v, want one that does not repeat the value", err)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(path, []byte(goodFile), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if _, err := d.LookupUser(context.Background(), "alice"); err != nil {
		t.Errorf("LookupUser(alice): %v", err)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("users:\n  - login: a\n    colour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || err.Error() != bad+`:3: unknown key "colour"` {
		t.Errorf("Load(bad) = %v, want %s:3: unknown key", err, bad)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	d := mustParse(t, goodFile)
	ctx := context.Background()
	tests := []struct {
		name, login, password string
		wantErr               error
	}{
		{"good", "alice", "alice-secret", nil},
		{"login ignores case", "ALICE", "alice-secret", nil},
		{"wrong password", "alice", "alice-secreT", directory.ErrInvalidCredentials},
		{"empty password", "alice", "", directory.ErrInvalidCredentials},
		{"unknown user", "carol", "alice-secret", directory.ErrInvalidCredentials},
		{"unknown user empty password", "carol", "", directory.ErrInvalidCredentials},
		{"disabled, right password", "bob", "bob-secret", directory.ErrDisabled},
		{"disabled, wrong password", "bob", "guess", directory.ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := d.Authenticate(ctx, tt.login, tt.password)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || u != nil {
					t.Fatalf("Authenticate = %v, %v; want nil, %v", u, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), tt.password) && tt.password != "" {
					t.Errorf("error %q repeats the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if u.Login != "alice" || len(u.Addresses) != 2 || u.Addresses[0] != "alice@example.test" || len(u.SendAs) != 1 {
				t.Errorf("user = %+v", u)
			}
		})
	}
}

func TestAuthenticateCancelled(t *testing.T) {
	t.Parallel()
	d := mustParse(t, goodFile)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Authenticate(ctx, "alice", "alice-secret"); !errors.Is(err, context.Canceled) {
		t.Errorf("Authenticate with a done context = %v, want context.Canceled", err)
	}
}

func TestDummyHashHasUsersCost(t *testing.T) {
	t.Parallel()
	d := mustParse(t, goodFile)
	cost, err := bcrypt.Cost(d.dummyHash)
	if err != nil || cost != bcrypt.MinCost {
		t.Errorf("dummy hash cost = %d, %v; want %d like the users'", cost, err, bcrypt.MinCost)
	}
	other := mustParse(t, goodFile)
	if string(other.dummyHash) == string(d.dummyHash) {
		t.Error("two directories share one dummy hash")
	}
}

func TestReturnedUsersAreCopies(t *testing.T) {
	t.Parallel()
	d := mustParse(t, goodFile)
	ctx := context.Background()
	u, err := d.Authenticate(ctx, "alice", "alice-secret")
	if err != nil {
		t.Fatal(err)
	}
	u.Login = "mallory"
	u.Addresses[0] = "mallory@example.test"
	u.SendAs[0] = "ceo@example.test"
	again, err := d.LookupUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	again.Addresses = append(again.Addresses, "x@example.test")
	third, err := d.LookupUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []*directory.User{again, third} {
		if got.Login != "alice" || got.Addresses[0] != "alice@example.test" || got.SendAs[0] != "sales@example.test" {
			t.Fatalf("directory changed through a returned user: %+v", got)
		}
	}
	if len(third.Addresses) != 2 {
		t.Errorf("addresses = %v, want 2", third.Addresses)
	}
}

func TestLookupUser(t *testing.T) {
	t.Parallel()
	d := mustParse(t, goodFile)
	ctx := context.Background()
	u, err := d.LookupUser(ctx, "Alice")
	if err != nil || u.Login != "alice" {
		t.Fatalf("LookupUser(Alice) = %+v, %v", u, err)
	}
	if !u.MaySendAs("SALES@example.test") || !u.MaySendAs("a.smith@example.test") || u.MaySendAs("bob@example.test") {
		t.Errorf("send-as of %+v wrong", u)
	}
	if _, err := d.LookupUser(ctx, "carol"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("LookupUser(carol) = %v, want ErrNotFound", err)
	}
	if _, err := d.LookupUser(ctx, "bob"); !errors.Is(err, directory.ErrDisabled) {
		t.Errorf("LookupUser(bob) = %v, want ErrDisabled", err)
	}
}

func TestLookupRecipient(t *testing.T) {
	t.Parallel()
	d := mustParse(t, goodFile)
	ctx := context.Background()
	tests := []struct {
		address   string
		wantAddr  string
		wantLogin string
	}{
		{"alice@example.test", "alice@example.test", "alice"},
		{"ALICE@EXAMPLE.TEST", "alice@example.test", "alice"},
		{"a.smith@example.test", "A.Smith@Example.test", "alice"},
		{"bob@example.test", "bob@example.test", "Bob"}, // disabled users still receive mail
	}
	for _, tt := range tests {
		r, err := d.LookupRecipient(ctx, tt.address)
		if err != nil {
			t.Errorf("LookupRecipient(%s): %v", tt.address, err)
			continue
		}
		want := directory.Recipient{Address: tt.wantAddr, Kind: directory.KindUser, Login: tt.wantLogin}
		if *r != want {
			t.Errorf("LookupRecipient(%s) = %+v, want %+v", tt.address, *r, want)
		}
	}
	for _, a := range []string{"sales@example.test", "carol@example.test", ""} {
		if _, err := d.LookupRecipient(ctx, a); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("LookupRecipient(%q) = %v, want ErrNotFound", a, err)
		}
	}
}

func BenchmarkLookupRecipient(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("users:\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "  - login: u%d\n    password: '%s'\n    addresses: [u%d@example.test, alias%d@example.test]\n", i, aliceHash, i, i)
	}
	d := mustParse(b, sb.String())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.LookupRecipient(ctx, "Alias500@Example.TEST"); err != nil {
			b.Fatal(err)
		}
	}
}
