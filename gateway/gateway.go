package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

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
//
// A Gateway value holds one generation of settings (options and
// dependencies), read without locks by the sessions made under it. Update
// makes a new generation for new sessions; sessions in progress keep the
// one they started with. The listeners' run-time state is shared by all
// generations in ctl.
type Gateway struct {
	opts    Options
	deps    Deps
	log     *slog.Logger
	domains map[string]bool

	// sessionsCtx is the parent of every session's context; ctl.cutSessions
	// cancels it when the shutdown grace period is over.
	sessionsCtx context.Context

	ctl *control
}

// control is the state every generation of a Gateway shares.
type control struct {
	cutSessions context.CancelFunc
	current     atomic.Pointer[Gateway]
	ready       chan struct{}
	// errc takes a listener's fatal accept error; Run returns it.
	errc chan error

	mu sync.Mutex
	// running is set while Run serves (between binding and shutdown).
	running bool
	// vs are the configured listeners, in configuration order.
	vs []*vserver
	// drains are the stacks still serving sessions after their listener
	// was stopped, removed or given new options.
	drains map[*stack]struct{}
	// wg counts goroutines that drain stacks.
	wg sync.WaitGroup

	// readers are DATA read buffers for reuse (datareader.go).
	readers sync.Pool
}

// New makes a gateway; opts are validated.
func New(opts Options, deps Deps) (*Gateway, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if deps.Auth == nil || deps.Directory == nil || deps.Queue == nil {
		return nil, errors.New("gateway: auth, directory and queue are required")
	}
	ctl := &control{ready: make(chan struct{}), errc: make(chan error, 1), drains: map[*stack]struct{}{}}
	sctx, cut := context.WithCancel(context.Background())
	ctl.cutSessions = cut
	g := newGeneration(opts, deps, sctx, ctl)
	ctl.current.Store(g)
	for i := range opts.Listeners {
		ctl.vs = append(ctl.vs, newVServer(&opts.Listeners[i]))
	}
	return g, nil
}

// newGeneration makes the Gateway value sessions read their settings from.
func newGeneration(opts Options, deps Deps, sctx context.Context, ctl *control) *Gateway {
	g := &Gateway{opts: opts, deps: deps, log: opts.Logger, domains: map[string]bool{}, sessionsCtx: sctx, ctl: ctl}
	for _, d := range opts.Domains {
		g.domains[d] = true
	}
	return g
}

// current returns the generation new sessions get.
func (g *Gateway) current() *Gateway { return g.ctl.current.Load() }

// Ready is closed once every listener accepts connections.
func (g *Gateway) Ready() <-chan struct{} { return g.ctl.ready }

// Run listens on every configured address and serves until ctx is done,
// then stops accepting and gives sessions ShutdownGrace to finish before
// closing them. It returns after every session has ended. Listeners may be
// stopped, started, added and removed while it runs.
func (g *Gateway) Run(ctx context.Context) error {
	ctl := g.ctl
	ctl.mu.Lock()
	if ctl.running {
		ctl.mu.Unlock()
		return errors.New("gateway: already running")
	}
	bound := make([]net.Listener, len(ctl.vs))
	for i, v := range ctl.vs {
		if v.stopped {
			continue
		}
		ln, err := listen(ctx, v.opts)
		if err != nil {
			closeAll(bound)
			ctl.mu.Unlock()
			return err
		}
		bound[i] = ln
	}
	ctl.running = true
	for i, v := range ctl.vs {
		if bound[i] != nil {
			g.startLocked(v, bound[i])
		}
	}
	ctl.mu.Unlock()
	close(ctl.ready)

	var err error
	select {
	case <-ctx.Done():
	case err = <-ctl.errc:
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
	ctl := g.ctl
	ctl.mu.Lock()
	ctl.running = false
	var stacks []*stack
	for _, v := range ctl.vs {
		if v.run != nil {
			v.run.close()
			stacks = append(stacks, v.run.cur.Load())
			v.run = nil
		}
	}
	for st := range ctl.drains {
		stacks = append(stacks, st)
	}
	ctl.mu.Unlock()
	grace := g.current().opts.ShutdownGrace
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	// Past the grace period, sessions' own work (directory lookups,
	// filters) is cancelled as their connections are closed.
	stopCut := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			ctl.cutSessions()
		}
	})
	defer stopCut()
	var wg sync.WaitGroup
	for _, st := range stacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.drain(ctx, g.log)
		}()
	}
	wg.Wait()
	ctl.wg.Wait()
}

// newServer builds the go-smtp server for one stack of a listener: its
// sessions take lo and the generation current when they start.
func (g *Gateway) newServer(lo *ListenerOptions) *smtp.Server {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return g.current().newSession(c, lo), nil
	}))
	cur := g.current()
	srv.Domain = cur.opts.Hostname
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
	srv.ErrorLog = slogPrinter{cur.log.With(slog.String("listener", lo.Name))}
	return srv
}

// maxAuthLine is the longest command line accepted, for SASL responses
// carrying bearer tokens.
const maxAuthLine = 12288

// slogPrinter gives go-smtp's error log to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) { p.log.Debug(fmt.Sprintf(format, v...)) }
func (p slogPrinter) Println(v ...any)               { p.log.Debug(fmt.Sprint(v...)) }
