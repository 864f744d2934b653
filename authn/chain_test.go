package authn_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/emersion/go-sasl"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
)

// oneUser accepts one login and password, or fails with err when set.
type oneUser struct {
	login, password string
	err             error
	calls           int
}

func (o *oneUser) Authenticate(_ context.Context, login, password string) (*directory.User, error) {
	o.calls++
	if o.err != nil {
		return nil, o.err
	}
	if login == o.login && password == o.password {
		return &directory.User{Login: login, Addresses: []string{login + "@example.test"}}, nil
	}
	return nil, directory.ErrInvalidCredentials
}

func TestChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name          string
		first, second *oneUser
		login, pw     string
		wantErr       error
		wantCalls     [2]int
	}{
		{"first wins", &oneUser{login: "a", password: "p"}, &oneUser{login: "a", password: "q"}, "a", "p", nil, [2]int{1, 0}},
		{"second after a wrong password", &oneUser{login: "a", password: "p"}, &oneUser{login: "a", password: "q"}, "a", "q", nil, [2]int{1, 1}},
		{"wrong everywhere", &oneUser{login: "a", password: "p"}, &oneUser{login: "a", password: "q"}, "a", "x", directory.ErrInvalidCredentials, [2]int{1, 1}},
		{"disabled ends the search", &oneUser{err: directory.ErrDisabled}, &oneUser{login: "a", password: "p"}, "a", "p", directory.ErrDisabled, [2]int{1, 0}},
		{"down then accepted", &oneUser{err: directory.ErrUnavailable}, &oneUser{login: "a", password: "p"}, "a", "p", nil, [2]int{1, 1}},
		{"down then wrong is down", &oneUser{err: directory.ErrUnavailable}, &oneUser{login: "a", password: "p"}, "a", "x", directory.ErrUnavailable, [2]int{1, 1}},
		{"other error counts as down", &oneUser{err: errors.New("boom")}, &oneUser{login: "a", password: "p"}, "a", "x", directory.ErrUnavailable, [2]int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := authn.NewChain(authn.Method{Name: "directory", Check: tt.first}, authn.Method{Name: "imap", Check: tt.second})
			if err != nil {
				t.Fatal(err)
			}
			u, err := c.Authenticate(ctx, tt.login, tt.pw)
			switch {
			case tt.wantErr == nil && (err != nil || u == nil):
				t.Errorf("err %v, want a user", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("err %v, want %v", err, tt.wantErr)
			}
			if got := [2]int{tt.first.calls, tt.second.calls}; got != tt.wantCalls {
				t.Errorf("calls %v, want %v", got, tt.wantCalls)
			}
		})
	}
}

func TestNewChainRefusesEmpty(t *testing.T) {
	t.Parallel()
	if _, err := authn.NewChain(); err == nil {
		t.Error("empty chain accepted")
	}
	if _, err := authn.NewChain(authn.Method{Name: "imap"}); err == nil {
		t.Error("method without a check accepted")
	}
}

// TestListenerMethods: a listener with its own password check uses it, the
// others the default.
func TestListenerMethods(t *testing.T) {
	t.Parallel()
	def := &oneUser{login: "a", password: "dir-pw"}
	legacy := &oneUser{login: "a", password: "imap-pw"}
	a, err := authn.New(def, authn.Options{
		NoFailureDelay: true,
		Logger:         slog.New(slog.DiscardHandler),
		Listeners:      map[string]directory.Authenticator{"legacy": legacy},
	})
	if err != nil {
		t.Fatal(err)
	}
	try := func(listener, pw string) error {
		info := authn.ConnInfo{RemoteIP: netip.MustParseAddr("192.0.2.1"), Listener: listener, TLS: true}
		srv, err := a.NewServer(context.Background(), sasl.Plain, info, nil)
		if err != nil {
			return err
		}
		_, _, err = srv.Next([]byte("\x00a\x00" + pw))
		return err
	}
	if err := try("legacy", "imap-pw"); err != nil {
		t.Errorf("legacy listener, its password: %v", err)
	}
	if err := try("legacy", "dir-pw"); kindOf(err) != authn.KindInvalidCredentials {
		t.Errorf("legacy listener, the directory's password: %v", err)
	}
	if err := try("submission", "dir-pw"); err != nil {
		t.Errorf("submission: %v", err)
	}
	if _, err := authn.New(def, authn.Options{Listeners: map[string]directory.Authenticator{"x": nil}}); err == nil {
		t.Error("nil listener check accepted")
	}
}
