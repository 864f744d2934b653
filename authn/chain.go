package authn

import (
	"context"
	"errors"
	"fmt"

	"bridgehead.dev/bridgehead/directory"
)

// Method is one named password check of a Chain ("directory", "imap").
type Method struct {
	// Name identifies the method in errors and logs.
	Name string
	// Check checks a login and password.
	Check directory.Authenticator
}

// Chain tries password checks in order, so that a migration can run two
// back ends side by side. It is itself a directory.Authenticator.
//
// The first method that accepts the password wins. A wrong password
// (directory.ErrInvalidCredentials) passes on to the next method; a
// disabled account (directory.ErrDisabled) ends the search; a method that
// cannot answer is skipped, and when no later method accepts the password
// the chain reports directory.ErrUnavailable rather than a wrong password.
type Chain struct {
	methods []Method
}

var _ directory.Authenticator = (*Chain)(nil)

// NewChain returns a Chain of the methods, tried in the order given.
func NewChain(methods ...Method) (*Chain, error) {
	if len(methods) == 0 {
		return nil, errors.New("authn: chain: no methods")
	}
	for i, m := range methods {
		if m.Check == nil {
			return nil, fmt.Errorf("authn: chain: method %d (%q) has no check", i, m.Name)
		}
	}
	return &Chain{methods: append([]Method(nil), methods...)}, nil
}

// Authenticate implements directory.Authenticator.
func (c *Chain) Authenticate(ctx context.Context, login, password string) (*directory.User, error) {
	var down []error
	for _, m := range c.methods {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("authn: %s: %w", m.Name, err)
		}
		user, err := m.Check.Authenticate(ctx, login, password)
		switch {
		case err == nil && user != nil:
			return user, nil
		case err == nil:
			down = append(down, fmt.Errorf("%s: returned no user and no error", m.Name))
		case errors.Is(err, directory.ErrInvalidCredentials):
		case errors.Is(err, directory.ErrDisabled):
			return nil, fmt.Errorf("authn: %s: %w", m.Name, err)
		default:
			down = append(down, fmt.Errorf("%s: %w", m.Name, err))
		}
	}
	if len(down) > 0 {
		err := errors.Join(down...)
		if !errors.Is(err, directory.ErrUnavailable) {
			err = fmt.Errorf("%w: %w", directory.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("authn: chain: %w", err)
	}
	return nil, fmt.Errorf("authn: chain: %w", directory.ErrInvalidCredentials)
}
