package delivery

import (
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// authServer is a go-smtp smart host that takes mail only after AUTH.
type authServer struct {
	addr  string
	mechs []string
	mu    sync.Mutex
	users []string // who delivered a message
}

type authSession struct {
	s    *authServer
	user string
}

func (s *authServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &authSession{s: s}, nil }

func (a *authSession) AuthMechanisms() []string { return a.s.mechs }

func (a *authSession) Auth(mech string) (sasl.Server, error) {
	check := func(u, p string) error {
		if u != "relayuser" || p != "s3cret" {
			return errors.New("bad credentials")
		}
		a.user = u
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(_, u, p string) error { return check(u, p) }), nil
}

func (a *authSession) Mail(string, *smtp.MailOptions) error {
	if a.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "auth first"}
	}
	return nil
}
func (a *authSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (a *authSession) Data(r io.Reader) error {
	_, _ = io.Copy(io.Discard, r)
	a.s.mu.Lock()
	a.s.users = append(a.s.users, a.user)
	a.s.mu.Unlock()
	return nil
}
func (a *authSession) Reset()        {}
func (a *authSession) Logout() error { return nil }

// loginServer is the server side of LOGIN (go-sasl has only the client).
type loginServer struct {
	check func(u, p string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if resp != nil {
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(resp))
}

func startAuthServer(t *testing.T, mechs ...string) *authServer {
	t.Helper()
	srvTLS, _ := testCA(t)
	a := &authServer{mechs: mechs}
	srv := smtp.NewServer(a)
	srv.Domain = "smarthost.test"
	srv.TLSConfig = srvTLS
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a.addr = l.Addr().String()
	done := make(chan struct{})
	go func() { _ = srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return a
}

func TestAuthSmartHost(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{sasl.Plain, sasl.Login} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			s := startAuthServer(t, mech)
			d := newDeliverer(t, Options{Routes: []Route{{Domains: []string{"*"}, To: "smtp://" + s.addr,
				TLS: PolicyRequired, Auth: &Auth{Username: "relayuser", Password: "s3cret"}}}})
			if r := deliver(t, d, newMessage("a1", testBody), rcpts("bob@remote.test"))["bob@remote.test"]; !r.Delivered() {
				t.Fatalf("not delivered: %+v", r)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.users) != 1 || s.users[0] != "relayuser" {
				t.Fatalf("smart host saw %q, want one message from relayuser", s.users)
			}
		})
	}
}

func TestAuthWrongPasswordDefers(t *testing.T) {
	t.Parallel()
	s := startAuthServer(t, sasl.Plain)
	d := newDeliverer(t, Options{Routes: []Route{{Domains: []string{"*"}, To: "smtp://" + s.addr,
		TLS: PolicyRequired, Auth: &Auth{Username: "relayuser", Password: "wrong"}}}})
	r := deliver(t, d, newMessage("a2", testBody), rcpts("bob@remote.test"))["bob@remote.test"]
	if r.Delivered() || r.Permanent {
		t.Fatalf("want a deferral: %+v", r)
	}
}

func TestAuthNeedsTLS(t *testing.T) {
	t.Parallel()
	for _, p := range []TLSPolicy{PolicyNone, PolicyOpportunistic} {
		o := Options{Routes: []Route{{Domains: []string{"*"}, To: "smtp://x", TLS: p, Auth: &Auth{Username: "u"}}}}
		if err := o.Validate(); err == nil {
			t.Errorf("auth with tls %q accepted", p)
		}
	}
}
