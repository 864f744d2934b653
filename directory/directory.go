// Package directory answers who is who: which logins exist and what their
// passwords are, which addresses a login may send as, and whether a recipient
// address exists and which back end holds its mailbox.
//
// Implementations (a static file, LDAP) live in sub-packages and satisfy
// Directory. The package imports nothing else of the project.
package directory

import (
	"context"
	"errors"
	"strings"
)

// Errors returned by every Directory implementation, wrapped with %w and the
// operation. Callers test them with errors.Is. ErrUnavailable is the only
// temporary one: a caller answers it with a 4xx, never a 5xx.
var (
	// ErrInvalidCredentials means the login is unknown or the password wrong;
	// the two are deliberately not told apart.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrDisabled means the account exists but may not log in.
	ErrDisabled = errors.New("account disabled")
	// ErrNotFound means no user, group or contact has the address or login.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable means the directory could not answer (server down,
	// timeout); the question may be asked again later.
	ErrUnavailable = errors.New("directory unavailable")
)

// User is a login and the addresses it owns.
type User struct {
	// Login is the name the user authenticates with.
	Login string
	// Addresses are the user's own addresses, the primary first.
	Addresses []string
	// SendAs are further addresses the user may use as sender (shared
	// mailboxes, groups), beyond Addresses.
	SendAs []string
	// Backend names the back end holding the user's mailbox ("" = routed by
	// domain).
	Backend string
}

// MaySendAs reports whether addr is one of the user's own or send-as
// addresses. The comparison ignores case.
func (u *User) MaySendAs(addr string) bool {
	for _, list := range [][]string{u.Addresses, u.SendAs} {
		for _, a := range list {
			if strings.EqualFold(a, addr) {
				return true
			}
		}
	}
	return false
}

// RecipientKind says what kind of entry an address resolved to.
type RecipientKind string

// Recipient kinds.
const (
	KindUser    RecipientKind = "user"
	KindGroup   RecipientKind = "group"
	KindContact RecipientKind = "contact"
)

// Recipient is an address in an accepted domain that exists.
type Recipient struct {
	// Address is the address as the directory spells it.
	Address string
	// Kind is what the address belongs to.
	Kind RecipientKind
	// Login is the owning user's login when Kind is KindUser.
	Login string
	// Backend names the back end holding the mailbox ("" = routed by domain).
	Backend string
}

// Authenticator checks a login and password.
type Authenticator interface {
	// Authenticate returns the user when the password is right. It returns
	// ErrInvalidCredentials, ErrDisabled or ErrUnavailable otherwise.
	Authenticate(ctx context.Context, login, password string) (*User, error)
}

// Resolver looks up users and recipients without a password.
type Resolver interface {
	// LookupUser returns the user with the login, or ErrNotFound.
	LookupUser(ctx context.Context, login string) (*User, error)
	// LookupRecipient returns the entry owning the address, or ErrNotFound.
	LookupRecipient(ctx context.Context, address string) (*Recipient, error)
}

// Directory is what the gateway needs of a directory.
type Directory interface {
	Authenticator
	Resolver
}
