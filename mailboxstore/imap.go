package mailboxstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Authenticator checks an IMAP login's password. The wiring adapts the
// project's directory to it. The login it receives is lower-cased. An error
// wrapping ErrAuthUnavailable tells the client to try again later; any other
// error is a refused login.
type Authenticator interface {
	Authenticate(ctx context.Context, login, password string) error
}

// ErrAuthUnavailable marks an Authenticator error as temporary (the
// directory could not be asked), as opposed to wrong credentials.
var ErrAuthUnavailable = errors.New("mailboxstore: authentication unavailable")

// ServerOptions configures the IMAP server.
type ServerOptions struct {
	// TLSConfig enables STARTTLS. LOGIN and AUTHENTICATE are refused before
	// TLS unless InsecureAuth is set. For implicit TLS (port 993) wrap the
	// listener with tls.NewListener instead; logins are then allowed at once.
	TLSConfig *tls.Config
	// InsecureAuth allows logins without TLS (loopback dev mode only).
	InsecureAuth bool
	// Auth checks passwords. Required.
	Auth Authenticator
	// Admins are the logins that also see the postmaster mailbox, as
	// "Postmaster" and "Postmaster/<folder>". Case does not matter.
	Admins []string
	// AllowUsers lets every login that Auth accepts read its own mailbox.
	// When false (production) only Admins may log in; dev mode sets it so
	// that demo users read their own mail.
	AllowUsers bool
}

// Validate reports the first problem with the options.
func (o *ServerOptions) Validate() error {
	if o.Auth == nil {
		return errors.New("mailboxstore: imap: an authenticator is required")
	}
	if o.TLSConfig == nil && !o.InsecureAuth {
		return errors.New("mailboxstore: imap: neither TLS nor insecure auth: no client could log in")
	}
	for _, a := range o.Admins {
		if _, err := normalizeOwner(a); err != nil {
			return fmt.Errorf("mailboxstore: imap: admin %q: %w", a, err)
		}
	}
	if len(o.Admins) == 0 && !o.AllowUsers {
		return errors.New("mailboxstore: imap: no admins and users not allowed: no one could log in")
	}
	return nil
}

// IMAPServer serves a Store over IMAP4rev1 and IMAP4rev2.
type IMAPServer struct {
	store  *Store
	opts   ServerOptions
	admins map[string]bool
	log    *slog.Logger
}

// NewIMAPServer validates opts and returns a server for the store.
func (s *Store) NewIMAPServer(opts ServerOptions) (*IMAPServer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	admins := make(map[string]bool, len(opts.Admins))
	for _, a := range opts.Admins {
		o, _ := normalizeOwner(a)
		admins[o] = true
	}
	return &IMAPServer{
		store:  s,
		opts:   opts,
		admins: admins,
		log:    s.opts.Logger.With(slog.String("component", "mailboxstore.imap")),
	}, nil
}

// capabilities advertised besides what imapserver adds by itself.
func capabilities() imap.CapSet {
	return imap.CapSet{
		imap.CapIMAP4rev1:  {},
		imap.CapIMAP4rev2:  {},
		imap.CapNamespace:  {},
		imap.CapUIDPlus:    {},
		imap.CapMove:       {},
		imap.CapESearch:    {},
		imap.CapSearchRes:  {},
		imap.CapListStatus: {},
		imap.CapStatusSize: {},
	}
}

// Serve accepts IMAP connections on ln until ctx is done; then it closes the
// listener and every connection, waits for the sessions to end and returns
// nil. If accepting fails first, it shuts down the same way and returns the
// error.
func (srv *IMAPServer) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		closed   bool
		sessions sync.WaitGroup
	)
	is := imapserver.New(&imapserver.Options{
		NewSession: func(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			mu.Lock()
			defer mu.Unlock()
			if closed {
				return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server shutting down"}
			}
			sessions.Add(1)
			return srv.newSession(ctx, c, sessions.Done), nil, nil
		},
		Caps:         capabilities(),
		Logger:       printfLogger{srv.log},
		TLSConfig:    srv.opts.TLSConfig,
		InsecureAuth: srv.opts.InsecureAuth,
	})
	srv.log.Info("imap server listening", slog.String("address", ln.Addr().String()),
		slog.Bool("starttls", srv.opts.TLSConfig != nil), slog.Bool("insecure_auth", srv.opts.InsecureAuth))

	errc := make(chan error, 1)
	go func() { errc <- is.Serve(ln) }()
	var serveErr error
	served := false
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		served = true
	}
	mu.Lock()
	closed = true
	mu.Unlock()
	cancel()
	_ = is.Close()
	_ = ln.Close() // in case Close won the race against Serve registering ln
	if !served {
		<-errc
	}
	sessions.Wait()
	srv.log.Info("imap server stopped", slog.String("address", ln.Addr().String()))
	if serveErr != nil {
		return fmt.Errorf("mailboxstore: imap serve: %w", serveErr)
	}
	return nil
}

// printfLogger adapts slog to imapserver's Logger.
type printfLogger struct{ log *slog.Logger }

func (l printfLogger) Printf(format string, args ...any) {
	l.log.Warn("imap: " + strings.TrimSpace(fmt.Sprintf(format, args...)))
}
