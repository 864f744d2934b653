package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/gateway/queue"
)

// Deps are what sessions hand work to.
type Deps struct {
	// Auth checks SMTP AUTH attempts.
	Auth *authn.Authenticator
	// Directory answers whether a local recipient exists.
	Directory directory.Resolver
	// Queue takes accepted messages.
	Queue *queue.Queue
}

// Gateway runs the SMTP listeners.
type Gateway struct {
	opts    Options
	deps    Deps
	log     *slog.Logger
	domains map[string]bool

	// sessionsCtx is the parent of every session's context; cutSessions
	// cancels it when the shutdown grace period is over.
	sessionsCtx context.Context
	cutSessions context.CancelFunc

	mu        sync.Mutex
	servers   []*smtp.Server
	listeners []*limitListener
	ready     chan struct{}
}

// New makes a gateway; opts are validated.
func New(opts Options, deps Deps) (*Gateway, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if deps.Auth == nil || deps.Directory == nil || deps.Queue == nil {
		return nil, errors.New("gateway: auth, directory and queue are required")
	}
	g := &Gateway{opts: opts, deps: deps, log: opts.Logger, domains: map[string]bool{}, ready: make(chan struct{})}
	g.sessionsCtx, g.cutSessions = context.WithCancel(context.Background())
	for _, d := range opts.Domains {
		g.domains[d] = true
	}
	return g, nil
}

// Ready is closed once every listener accepts connections.
func (g *Gateway) Ready() <-chan struct{} { return g.ready }

// Run listens on every configured address and serves until ctx is done,
// then stops accepting and gives sessions ShutdownGrace to finish before
// closing them. It returns after every session has ended.
func (g *Gateway) Run(ctx context.Context) error {
	var lc net.ListenConfig
	var lns []net.Listener
	for i := range g.opts.Listeners {
		lo := &g.opts.Listeners[i]
		ln, err := lc.Listen(ctx, "tcp", lo.Address)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("gateway: listen %s on %s: %w", lo.Name, lo.Address, err)
		}
		lns = append(lns, ln)
	}
	errc := make(chan error, len(lns))
	for i, ln := range lns {
		lo := &g.opts.Listeners[i]
		srv := g.newServer(lo)
		ll := newLimitListener(ln, lo, g.log)
		var l net.Listener = ll
		if lo.Mode == ModeSubmissions {
			l = newTLSListener(l, lo.TLSConfig)
		}
		g.mu.Lock()
		g.servers = append(g.servers, srv)
		g.listeners = append(g.listeners, ll)
		g.mu.Unlock()
		g.log.Info("listening", slog.String("listener", lo.Name), slog.String("address", ln.Addr().String()), slog.String("mode", string(lo.Mode)))
		go func() { errc <- srv.Serve(l) }()
	}
	close(g.ready)

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("gateway: serve: %w", err)
	}
	g.shutdown()
	return err
}

// shutdown stops accepting, waits up to ShutdownGrace for sessions to end,
// then closes the rest and waits for them to be gone.
//
// go-smtp's Close cannot do the closing: after Shutdown it only answers
// ErrServerClosed and leaves the connections open. The listeners' own
// connection lists do it instead.
func (g *Gateway) shutdown() {
	g.mu.Lock()
	servers, listeners := g.servers, g.listeners
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), g.opts.ShutdownGrace)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				g.log.Warn("shutdown", slog.String("error", err.Error()))
			}
		}()
	}
	wg.Wait()
	if ctx.Err() == nil {
		return
	}
	g.cutSessions()
	for _, l := range listeners {
		if n := l.closeAll(); n > 0 {
			g.log.Warn("sessions cut at shutdown", slog.String("listener", l.name), slog.Int("sessions", n))
		}
	}
	for _, l := range listeners {
		l.waitIdle()
	}
}

// newServer builds the go-smtp server for one listener.
func (g *Gateway) newServer(lo *ListenerOptions) *smtp.Server {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return g.newSession(c, lo), nil
	}))
	srv.Domain = g.opts.Hostname
	srv.MaxMessageBytes = lo.Limits.MaxMessageSize
	// Command lines may be as long as an AUTH line with an OAuth2 token
	// (RFC 4954 4: 12288 octets); message lines keep the listener's limit,
	// which the session enforces itself.
	srv.MaxLineLength = max(lo.Limits.MaxLineLength, maxAuthLine)
	srv.ReadTimeout = lo.Limits.IdleTimeout
	srv.WriteTimeout = lo.Limits.WriteTimeout
	srv.EnableDSN = true
	srv.EnableSMTPUTF8 = true
	// go-smtp would answer AUTH without TLS with 523; the session refuses
	// it itself with 538 5.7.11 (RFC 4954) and offers no mechanism before TLS.
	srv.AllowInsecureAuth = true
	if lo.Mode != ModeSubmissions {
		srv.TLSConfig = lo.TLSConfig
	}
	srv.ErrorLog = slogPrinter{g.log.With(slog.String("listener", lo.Name))}
	return srv
}

// maxAuthLine is the longest command line accepted, for SASL responses
// carrying bearer tokens.
const maxAuthLine = 12288

// slogPrinter gives go-smtp's error log to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) { p.log.Debug(fmt.Sprintf(format, v...)) }
func (p slogPrinter) Println(v ...any)               { p.log.Debug(fmt.Sprint(v...)) }
