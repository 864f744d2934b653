package authn

import (
	"github.com/emersion/go-sasl"
)

// The LOGIN mechanism's prompts (draft-murchison-sasl-login), sent as
// challenges; go-smtp base64-encodes them.
const (
	loginUsernamePrompt = "Username:"
	loginPasswordPrompt = "Password:"
)

// loginState is where a LOGIN exchange stands.
type loginState int

const (
	loginStart loginState = iota
	loginWantUsername
	loginWantPassword
	loginFinished
)

// loginServer is the server side of LOGIN.
type loginServer struct {
	check    func(username, password string) error
	state    loginState
	username string
}

// NewLoginServer returns a server for the LOGIN mechanism: it prompts
// "Username:" (unless the client sent the username as its initial
// response), then "Password:", and calls check once with both. check's
// error is returned as it is. A username or password longer than
// MaxCredentialLength, or a response after the exchange ended, is an *Error
// of KindMalformed and check is not called. An empty initial response is
// taken as no initial response.
func NewLoginServer(check func(username, password string) error) sasl.Server {
	return &loginServer{check: check}
}

// Next implements sasl.Server.
func (s *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch s.state {
	case loginStart:
		if len(response) == 0 {
			s.state = loginWantUsername
			return []byte(loginUsernamePrompt), false, nil
		}
		return s.takeUsername(response)
	case loginWantUsername:
		return s.takeUsername(response)
	case loginWantPassword:
		s.state = loginFinished
		if len(response) > MaxCredentialLength {
			return nil, true, malformed("LOGIN password longer than %d bytes", MaxCredentialLength)
		}
		return nil, true, s.check(s.username, string(response))
	}
	return nil, true, malformed("LOGIN response after the exchange ended")
}

// takeUsername keeps the username and prompts for the password.
func (s *loginServer) takeUsername(response []byte) ([]byte, bool, error) {
	if len(response) > MaxCredentialLength {
		s.state = loginFinished
		return nil, true, malformed("LOGIN username longer than %d bytes", MaxCredentialLength)
	}
	s.username = string(response)
	s.state = loginWantPassword
	return []byte(loginPasswordPrompt), false, nil
}
