package authn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/emersion/go-sasl"

	"bridgehead.dev/bridgehead/directory"
)

// MechXOAuth2 is Google's and Microsoft's XOAUTH2 SASL mechanism, which
// go-sasl does not have.
const MechXOAuth2 = "XOAUTH2"

// MaxTokenResponseLength is the longest OAUTHBEARER or XOAUTH2 response
// accepted, in bytes; a longer one is KindMalformed.
const MaxTokenResponseLength = 16 * 1024

// TokenVerifier checks an OAuth2 bearer token and returns its user.
type TokenVerifier interface {
	// VerifyToken returns the token's user. A refused token wraps
	// directory.ErrInvalidCredentials (a *TokenError says why); a
	// provider or directory that cannot answer wraps
	// directory.ErrUnavailable.
	VerifyToken(ctx context.Context, token string) (*directory.User, error)
}

// bearerState is where a token exchange stands.
type bearerState int

const (
	bearerStart bearerState = iota
	bearerAsked
	bearerFailed // error challenge sent, waiting for the client's dummy response
	bearerDone
)

// bearerServer is the server side of OAUTHBEARER (RFC 7628) and XOAUTH2.
// A refused token is answered with a JSON error challenge first; the
// client's next response (%x01 or empty) then ends the exchange with the
// error.
type bearerServer struct {
	xoauth2 bool
	check   func(username, token string) error
	state   bearerState
	failErr error
}

var _ sasl.Server = (*bearerServer)(nil)

func newBearerServer(xoauth2 bool, check func(username, token string) error) *bearerServer {
	return &bearerServer{xoauth2: xoauth2, check: check}
}

// Next implements sasl.Server.
func (s *bearerServer) Next(response []byte) ([]byte, bool, error) {
	switch s.state {
	case bearerStart, bearerAsked:
		if len(response) == 0 {
			if s.state == bearerAsked {
				s.state = bearerDone
				return nil, true, malformed("empty token response")
			}
			s.state = bearerAsked
			return []byte{}, false, nil
		}
		var user, token string
		var err error
		if s.xoauth2 {
			user, token, err = parseXOAuth2(response)
		} else {
			user, token, err = parseOAuthBearer(response)
		}
		if err != nil {
			s.state = bearerDone
			return nil, true, err
		}
		err = s.check(user, token)
		var e *Error
		if err != nil && errors.As(err, &e) && e.Kind == KindInvalidCredentials {
			s.state, s.failErr = bearerFailed, err
			return s.errorChallenge(), false, nil
		}
		s.state = bearerDone
		return nil, true, err
	case bearerFailed:
		s.state = bearerDone
		return nil, true, s.failErr
	}
	return nil, true, malformed("token response after the exchange ended")
}

// errorChallenge is the JSON the client gets for a refused token.
func (s *bearerServer) errorChallenge() []byte {
	status := "invalid_token"
	if s.xoauth2 {
		status = "401"
	}
	b, _ := json.Marshal(struct {
		Status  string `json:"status"`
		Schemes string `json:"schemes"`
		Scope   string `json:"scope"`
	}{status, "bearer", "openid email"})
	return b
}

// parseOAuthBearer splits an OAUTHBEARER initial response (RFC 7628
// section 3.1): gs2-header, then key=value pairs each ended by %x01, then
// a final %x01.
func parseOAuthBearer(r []byte) (authzid, token string, err error) {
	parts := bytes.SplitN(r, []byte{','}, 3)
	if len(parts) != 3 {
		return "", "", malformed("OAUTHBEARER response without a GS2 header")
	}
	if f := string(parts[0]); f != "n" && f != "y" {
		return "", "", malformed("OAUTHBEARER channel binding flag %q not supported", logSafe(f))
	}
	if a := parts[1]; len(a) > 0 {
		if !bytes.HasPrefix(a, []byte("a=")) {
			return "", "", malformed("OAUTHBEARER authorization identity without a=")
		}
		authzid = strings.NewReplacer("=2C", ",", "=3D", "=").Replace(string(a[2:]))
	}
	token, err = bearerAuth(parts[2], "OAUTHBEARER", nil)
	return authzid, token, err
}

// parseXOAuth2 splits an XOAUTH2 response: "user=" user %x01 "auth=Bearer "
// token %x01 %x01.
func parseXOAuth2(r []byte) (user, token string, err error) {
	token, err = bearerAuth(append([]byte{1}, r...), MechXOAuth2, &user)
	if err == nil && user == "" {
		err = malformed("XOAUTH2 response without user")
	}
	return user, token, err
}

// bearerAuth reads %x01-led key=value pairs ending in %x01%x01 and returns
// the bearer token of "auth"; "user" goes to user when that is not nil.
// Other keys (host, port, extensions) are ignored.
func bearerAuth(kv []byte, mech string, user *string) (string, error) {
	if !bytes.HasPrefix(kv, []byte{1}) || !bytes.HasSuffix(kv, []byte{1, 1}) || len(kv) < 3 {
		return "", malformed("%s response not framed by ^A", mech)
	}
	var token string
	seen := false
	for _, p := range bytes.Split(kv[1:len(kv)-2], []byte{1}) {
		k, v, ok := bytes.Cut(p, []byte{'='})
		if !ok {
			return "", malformed("%s response pair without '='", mech)
		}
		switch string(k) {
		case "auth":
			scheme, tok, ok := strings.Cut(string(v), " ")
			if !ok || !strings.EqualFold(scheme, "bearer") {
				return "", malformed("%s auth is not a bearer token", mech)
			}
			token, seen = strings.TrimSpace(tok), true
		case "user":
			if user != nil {
				*user = string(v)
			}
		}
	}
	if !seen {
		return "", malformed("%s response without auth", mech)
	}
	return token, nil
}
