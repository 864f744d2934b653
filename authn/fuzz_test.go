package authn_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"unicode/utf8"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
)

// strictDir fails the fuzz run when the directory is asked something the
// SASL layer should have refused.
type strictDir struct {
	t *testing.T
}

func (d strictDir) Authenticate(_ context.Context, login, password string) (*directory.User, error) {
	if login == "" || len(login) > authn.MaxCredentialLength || !utf8.ValidString(login) {
		d.t.Fatalf("directory asked about login %q", login)
	}
	if password == "" || len(password) > authn.MaxCredentialLength {
		d.t.Fatalf("directory asked with a password of %d bytes", len(password))
	}
	if login == "alice" && password == "alice-pw" {
		return &directory.User{Login: "alice"}, nil
	}
	return nil, directory.ErrInvalidCredentials
}

func fuzzAuthenticator(t *testing.T) *authn.Authenticator {
	a, err := authn.New(strictDir{t}, authn.Options{NoFailureDelay: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// checkErr fails unless err is nil or an *authn.Error of a known kind.
func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *authn.Error
	if !errors.As(err, &ae) {
		t.Fatalf("raw error %T %v", err, err)
	}
	switch ae.Kind {
	case authn.KindInvalidCredentials, authn.KindMalformed, authn.KindUnavailable:
	default:
		t.Fatalf("unexpected kind %v", ae.Kind)
	}
}

func FuzzPlainServer(f *testing.F) {
	f.Add([]byte("\x00alice\x00alice-pw"), false)
	f.Fuzz(func(t *testing.T, response []byte, prompted bool) {
		a := fuzzAuthenticator(t)
		succeeded := false
		srv, err := a.NewServer(context.Background(), "PLAIN", testConn, func(*directory.User) { succeeded = true })
		if err != nil {
			t.Fatal(err)
		}
		if prompted {
			if c, done, err := srv.Next(nil); len(c) != 0 || done || err != nil {
				t.Fatalf("Next(nil) = %q, %v, %v", c, done, err)
			}
		}
		_, done, err := srv.Next(response)
		checkErr(t, err)
		if !done {
			t.Fatal("PLAIN not done after the response")
		}
		s := string(response)
		valid := s == "\x00alice\x00alice-pw" || s == "alice\x00alice\x00alice-pw"
		if (err == nil) != valid || succeeded != valid {
			t.Fatalf("response %q: err = %v, onSuccess = %v", response, err, succeeded)
		}
		if _, _, err := srv.Next(response); err == nil {
			t.Fatal("a second response was accepted")
		}
	})
}

func FuzzLoginServer(f *testing.F) {
	f.Add([]byte(""), []byte("alice"), []byte("alice-pw"))
	f.Fuzz(func(t *testing.T, initial, username, password []byte) {
		a := fuzzAuthenticator(t)
		succeeded := false
		srv, err := a.NewServer(context.Background(), "LOGIN", testConn, func(*directory.User) { succeeded = true })
		if err != nil {
			t.Fatal(err)
		}
		var first []byte
		if len(initial) > 0 {
			first = initial
		}
		challenge, done, err := srv.Next(first)
		checkErr(t, err)
		user := initial
		if err == nil && string(challenge) == "Username:" {
			user = username
			challenge, done, err = srv.Next(username)
			checkErr(t, err)
		}
		if err == nil {
			if done || string(challenge) != "Password:" {
				t.Fatalf("want the password prompt, got %q, %v", challenge, done)
			}
			_, done, err = srv.Next(password)
			checkErr(t, err)
			if !done {
				t.Fatal("LOGIN not done after the password")
			}
		}
		valid := string(user) == "alice" && string(password) == "alice-pw"
		if (err == nil) != valid || succeeded != valid {
			t.Fatalf("user %q password %q: err = %v, onSuccess = %v", user, password, err, succeeded)
		}
	})
}
