// Package static is a directory read from a YAML file: for small sites and
// for development. Every user has a bcrypt password hash, one or more
// addresses (the first is the primary) and optional extra send-as
// addresses:
//
//	users:
//	  - login: alice
//	    password: "$2b$12$..."      # bcrypt hash only
//	    addresses: [alice@example.test, a.smith@example.test]
//	    send_as: [sales@example.test]   # optional
//	    disabled: false                 # optional
//
// Logins and addresses are matched without regard to case. A Directory is
// read-only once built and safe for concurrent use.
package static

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"bridgehead.dev/bridgehead/directory"
)

var _ directory.Directory = (*Directory)(nil)

// Directory is the set of users read from a static file.
type Directory struct {
	// byLogin maps the case-folded login to its entry.
	byLogin map[string]*entry
	// byAddress maps the case-folded address to the entry owning it and the
	// address as the file spells it.
	byAddress map[string]addressOwner
	// dummyHash is compared against when the login is unknown, so an unknown
	// login takes as long as a wrong password.
	dummyHash []byte
}

// entry is one user of the file.
type entry struct {
	user     directory.User
	hash     []byte
	disabled bool
}

// addressOwner is what an address resolves to.
type addressOwner struct {
	address string
	owner   *entry
}

// Load reads and checks the file at path. Every error names the file and
// the line: "PATH:LINE: what".
func Load(path string) (*Directory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("static directory: %w", err)
	}
	return Parse(path, data)
}

// Parse checks data, the contents of a file called name (used in error
// messages only), and builds a Directory from it.
func Parse(name string, data []byte) (*Directory, error) {
	users, err := parseFile(name, data)
	if err != nil {
		return nil, err
	}
	return build(users)
}

// build makes the lookup tables and the dummy hash. The users are already
// checked: unique logins and addresses, valid hashes.
func build(users []parsedUser) (*Directory, error) {
	d := &Directory{
		byLogin:   make(map[string]*entry, len(users)),
		byAddress: make(map[string]addressOwner, len(users)),
	}
	for _, u := range users {
		e := &entry{
			user: directory.User{
				Login:     u.login,
				Addresses: u.addresses,
				SendAs:    u.sendAs,
			},
			hash:     u.hash,
			disabled: u.disabled,
		}
		d.byLogin[fold(u.login)] = e
		for _, a := range u.addresses {
			d.byAddress[fold(a)] = addressOwner{address: a, owner: e}
		}
	}
	dummy, err := dummyHash(users)
	if err != nil {
		return nil, fmt.Errorf("static directory: make dummy hash: %w", err)
	}
	d.dummyHash = dummy
	return d, nil
}

// dummyHash returns a hash of a random password at the cost most users'
// hashes have (the higher one on a tie), so that checking a password
// against it takes as long as checking a real one.
func dummyHash(users []parsedUser) ([]byte, error) {
	count := map[int]int{}
	cost, best := bcrypt.DefaultCost, 0
	for _, u := range users {
		count[u.cost]++
		if n := count[u.cost]; n > best || (n == best && u.cost > cost) {
			cost, best = u.cost, n
		}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	return bcrypt.GenerateFromPassword(secret, cost)
}

// Authenticate returns a copy of the user when the password matches its
// hash. An unknown login, a wrong password and an empty password all return
// directory.ErrInvalidCredentials and all take one bcrypt comparison. A
// disabled account with the right password returns directory.ErrDisabled.
func (d *Directory) Authenticate(ctx context.Context, login, password string) (*directory.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("static directory: authenticate %q: %w", login, err)
	}
	e, known := d.byLogin[fold(login)]
	hash := d.dummyHash
	if known {
		hash = e.hash
	}
	// Always compare, even for an unknown login or an empty password, so
	// every refusal costs the same.
	mismatch := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if !known || password == "" || mismatch != nil {
		return nil, fmt.Errorf("static directory: authenticate %q: %w", login, directory.ErrInvalidCredentials)
	}
	if e.disabled {
		return nil, fmt.Errorf("static directory: authenticate %q: %w", login, directory.ErrDisabled)
	}
	return e.copyUser(), nil
}

// LookupUser returns a copy of the user with the login, compared without
// regard to case. It returns directory.ErrNotFound for an unknown login and
// directory.ErrDisabled for a disabled account, which may not act as a
// sender however it authenticated.
func (d *Directory) LookupUser(ctx context.Context, login string) (*directory.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("static directory: lookup user %q: %w", login, err)
	}
	e, ok := d.byLogin[fold(login)]
	if !ok {
		return nil, fmt.Errorf("static directory: lookup user %q: %w", login, directory.ErrNotFound)
	}
	if e.disabled {
		return nil, fmt.Errorf("static directory: lookup user %q: %w", login, directory.ErrDisabled)
	}
	return e.copyUser(), nil
}

// LookupRecipient returns the user owning the address, compared without
// regard to case, as a directory.KindUser recipient. Send-as addresses are
// not recipients. A disabled account still receives mail.
func (d *Directory) LookupRecipient(ctx context.Context, address string) (*directory.Recipient, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("static directory: lookup recipient %q: %w", address, err)
	}
	o, ok := d.byAddress[fold(address)]
	if !ok {
		return nil, fmt.Errorf("static directory: lookup recipient %q: %w", address, directory.ErrNotFound)
	}
	return &directory.Recipient{
		Address: o.address,
		Kind:    directory.KindUser,
		Login:   o.owner.user.Login,
		Backend: o.owner.user.Backend,
	}, nil
}

// copyUser returns a copy the caller may change freely.
func (e *entry) copyUser() *directory.User {
	u := e.user
	u.Addresses = append([]string(nil), e.user.Addresses...)
	u.SendAs = append([]string(nil), e.user.SendAs...)
	return &u
}

// fold is the key logins and addresses are compared by.
func fold(s string) string {
	return strings.ToLower(s)
}
