package authn_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/crypto/bcrypt"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/directory/static"
)

// backend is the least a go-smtp Backend needs to offer AUTH through an
// Authenticator.
type backend struct {
	auth *authn.Authenticator
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	ctx, cancel := context.WithCancel(context.Background())
	info := authn.ConnInfo{Listener: "submission"}
	if ap, err := netip.ParseAddrPort(c.Conn().RemoteAddr().String()); err == nil {
		info.RemoteIP = ap.Addr()
	}
	_, info.TLS = c.TLSConnectionState()
	return &session{auth: b.auth, ctx: ctx, cancel: cancel, info: info}, nil
}

// session keeps the authenticated user; go-smtp makes a new one after
// STARTTLS, so authentication starts over there.
type session struct {
	auth   *authn.Authenticator
	ctx    context.Context
	cancel context.CancelFunc
	info   authn.ConnInfo
	user   *directory.User
}

func (s *session) AuthMechanisms() []string { return s.auth.Mechanisms() }

func (s *session) Auth(mech string) (sasl.Server, error) {
	srv, err := s.auth.NewServer(s.ctx, mech, s.info, func(u *directory.User) { s.user = u })
	if err != nil {
		return nil, smtpError(err)
	}
	return replyServer{srv}, nil
}

// replyServer hands go-smtp an *smtp.SMTPError, the only error type it
// turns into its own reply.
type replyServer struct{ sasl.Server }

func (r replyServer) Next(response []byte) ([]byte, bool, error) {
	challenge, done, err := r.Server.Next(response)
	if err != nil {
		return nil, done, smtpError(err)
	}
	return challenge, done, nil
}

// smtpError maps an *authn.Error to its reply; anything else becomes a
// temporary failure without its text.
func smtpError(err error) error {
	var ae *authn.Error
	if !errors.As(err, &ae) {
		ae = &authn.Error{Kind: authn.KindUnavailable}
	}
	code, e, text := ae.Reply()
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{e[0], e[1], e[2]}, Message: text}
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == nil {
		return smtp.ErrAuthRequired
	}
	if !s.user.MaySendAs(from) {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Not your address"}
	}
	return nil
}

func (s *session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *session) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (s *session) Reset() {}
func (s *session) Logout() error {
	s.cancel()
	return nil
}

// startServer serves SMTP on a free loopback port with a static directory
// holding alice (password "alice-pw") and returns its address.
func startServer(opts authn.Options) (addr string, stop func(), err error) {
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	if err != nil {
		return "", nil, err
	}
	dir, err := static.Parse("users.yaml", []byte(fmt.Sprintf(
		"users:\n  - login: alice\n    password: %q\n    addresses: [alice@example.test]\n", hash)))
	if err != nil {
		return "", nil, err
	}
	auth, err := authn.New(dir, opts)
	if err != nil {
		return "", nil, err
	}
	srv := smtp.NewServer(&backend{auth: auth})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // loopback only; real listeners require TLS
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// A go-smtp server offering AUTH PLAIN and LOGIN through an Authenticator,
// and go-smtp's client logging in.
func ExampleAuthenticator_NewServer() {
	addr, stop, err := startServer(authn.Options{
		NoFailureDelay: true,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	c, err := smtp.Dial(addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ok, mechs := c.Extension("AUTH")
	fmt.Println("AUTH offered:", ok, mechs)

	err = c.Auth(sasl.NewPlainClient("", "alice", "wrong"))
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		fmt.Println("wrong password:", se.Code, se.EnhancedCode, se.Message)
	}
	fmt.Println("right password:", c.Auth(sasl.NewLoginClient("alice", "alice-pw")))
	fmt.Println("MAIL FROM:", c.Mail("alice@example.test", nil))
	// Output:
	// AUTH offered: true PLAIN LOGIN
	// wrong password: 535 [5 7 8] Authentication credentials invalid
	// right password: <nil>
	// MAIL FROM: <nil>
}
