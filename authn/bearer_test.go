package authn_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
)

// fakeTokens accepts the token "good" for alice and refuses every other.
type fakeTokens struct {
	t     testing.TB
	calls int
}

func (f *fakeTokens) VerifyToken(_ context.Context, token string) (*directory.User, error) {
	f.calls++
	if token == "" || len(token) > authn.MaxTokenResponseLength {
		f.t.Fatalf("asked to verify a token of %d bytes", len(token))
	}
	if token == "good" {
		return &directory.User{Login: "alice", Addresses: []string{"alice@example.test"}}, nil
	}
	if token == "down" {
		return nil, directory.ErrUnavailable
	}
	return nil, &authn.TokenError{Reason: "expired", Err: directory.ErrInvalidCredentials}
}

func tokenAuth(t testing.TB) (*authn.Authenticator, *fakeTokens) {
	ft := &fakeTokens{t: t}
	a, err := authn.New(&fakeDir{}, authn.Options{NoFailureDelay: true, Logger: slog.New(slog.DiscardHandler), Tokens: ft})
	if err != nil {
		t.Fatal(err)
	}
	return a, ft
}

// tokenExchange runs a SASL exchange with the responses in turn and returns the
// challenges and the final error.
func tokenExchange(t *testing.T, a *authn.Authenticator, mech string, responses ...[]byte) ([]string, error) {
	t.Helper()
	srv, err := a.NewServer(context.Background(), mech, testConn, nil)
	if err != nil {
		return nil, err
	}
	var challenges []string
	for i, r := range responses {
		ch, done, err := srv.Next(r)
		if err != nil || done {
			if i != len(responses)-1 {
				t.Fatalf("exchange ended after response %d of %d: %v", i+1, len(responses), err)
			}
			return challenges, err
		}
		challenges = append(challenges, string(ch))
	}
	t.Fatalf("exchange not done after %d responses", len(responses))
	return nil, nil
}

func TestBearerExchanges(t *testing.T) {
	t.Parallel()
	xo := func(user, tok string) []byte { return []byte("user=" + user + "\x01auth=Bearer " + tok + "\x01\x01") }
	ob := func(authz, tok string) []byte { return []byte("n," + authz + ",\x01auth=Bearer " + tok + "\x01\x01") }
	tests := []struct {
		name      string
		mech      string
		responses [][]byte
		kind      authn.Kind // 0 = success
		status    string     // of the error challenge
	}{
		{"XOAUTH2 ok", authn.MechXOAuth2, [][]byte{xo("alice@example.test", "good")}, 0, ""},
		{"XOAUTH2 prompted", authn.MechXOAuth2, [][]byte{nil, xo("alice", "good")}, 0, ""},
		{"XOAUTH2 refused", authn.MechXOAuth2, [][]byte{xo("alice", "bad"), {}}, authn.KindInvalidCredentials, "401"},
		{"XOAUTH2 foreign user", authn.MechXOAuth2, [][]byte{xo("bob@example.test", "good"), {}}, authn.KindInvalidCredentials, "401"},
		{"XOAUTH2 no user", authn.MechXOAuth2, [][]byte{[]byte("auth=Bearer good\x01\x01")}, authn.KindMalformed, ""},
		{"XOAUTH2 unframed", authn.MechXOAuth2, [][]byte{[]byte("user=alice\x01auth=Bearer good")}, authn.KindMalformed, ""},
		{"XOAUTH2 provider down", authn.MechXOAuth2, [][]byte{xo("alice", "down")}, authn.KindUnavailable, ""},
		{"OAUTHBEARER ok", sasl.OAuthBearer, [][]byte{ob("", "good")}, 0, ""},
		{"OAUTHBEARER escaped authzid", sasl.OAuthBearer, [][]byte{ob("a=alice@example.test", "good")}, 0, ""},
		{"OAUTHBEARER refused", sasl.OAuthBearer, [][]byte{ob("", "bad"), {1}}, authn.KindInvalidCredentials, "invalid_token"},
		{"OAUTHBEARER basic scheme", sasl.OAuthBearer, [][]byte{[]byte("n,,\x01auth=Basic abc\x01\x01")}, authn.KindMalformed, ""},
		{"OAUTHBEARER channel binding", sasl.OAuthBearer, [][]byte{[]byte("p=tls-unique,,\x01auth=Bearer good\x01\x01")}, authn.KindMalformed, ""},
		{"OAUTHBEARER no header", sasl.OAuthBearer, [][]byte{[]byte("\x01auth=Bearer good\x01\x01")}, authn.KindMalformed, ""},
		{"OAUTHBEARER empty token", sasl.OAuthBearer, [][]byte{ob("", ""), {1}}, authn.KindInvalidCredentials, "invalid_token"},
		{"OAUTHBEARER twice empty", sasl.OAuthBearer, [][]byte{nil, {}}, authn.KindMalformed, ""},
		{"too long", sasl.OAuthBearer, [][]byte{ob("", strings.Repeat("x", authn.MaxTokenResponseLength))}, authn.KindMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, _ := tokenAuth(t)
			challenges, err := tokenExchange(t, a, tt.mech, tt.responses...)
			if got := kindOf(err); got != tt.kind || (tt.kind == 0 && err != nil) {
				t.Fatalf("err %v (kind %v), want kind %v", err, got, tt.kind)
			}
			if tt.status != "" {
				var c struct{ Status, Schemes string }
				if len(challenges) == 0 || json.Unmarshal([]byte(challenges[len(challenges)-1]), &c) != nil || c.Status != tt.status || c.Schemes != "bearer" {
					t.Errorf("error challenge %q, want status %s", challenges, tt.status)
				}
			}
		})
	}
}

func TestBearerOfferedOnlyWithTokens(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	if m := r.auth.Mechanisms(); len(m) != 2 {
		t.Errorf("without tokens: %v", m)
	}
	if _, err := r.auth.NewServer(context.Background(), "XOAUTH2", testConn, nil); kindOf(err) != authn.KindUnsupported {
		t.Errorf("XOAUTH2 without tokens: %v", err)
	}
	a, _ := tokenAuth(t)
	if m := strings.Join(a.Mechanisms(), " "); m != "PLAIN LOGIN OAUTHBEARER XOAUTH2" {
		t.Errorf("with tokens: %s", m)
	}
}

// FuzzBearerServers: no response panics, every error is an *authn.Error,
// and the verifier never sees an empty or oversized token.
func FuzzBearerServers(f *testing.F) {
	f.Add([]byte("n,a=alice,\x01host=x\x01port=25\x01auth=Bearer good\x01\x01"), []byte{1}, false)
	f.Add([]byte("user=alice\x01auth=Bearer bad\x01\x01"), []byte{}, true)
	f.Add([]byte("n,,\x01\x01"), []byte(nil), false)
	f.Add([]byte(","), []byte("x"), true)
	f.Fuzz(func(t *testing.T, first, second []byte, xoauth2 bool) {
		a, _ := tokenAuth(t)
		mech := sasl.OAuthBearer
		if xoauth2 {
			mech = authn.MechXOAuth2
		}
		srv, err := a.NewServer(context.Background(), mech, testConn, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range [][]byte{first, second, second} {
			_, done, err := srv.Next(r)
			checkErr(t, err)
			if done {
				return
			}
		}
	})
}
