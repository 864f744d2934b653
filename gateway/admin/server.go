// Package admin serves bridgehead's admin HTTP API: health and readiness
// probes and JSON endpoints to look into and manage the queue, to pause,
// resume, stop and start the SMTP listeners and to reload the config.
//
// On loopback the API may run without authentication. Anywhere else Serve
// requires a bearer token and TLS: every request but the probes must carry
// "Authorization: Bearer TOKEN".
package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"bridgehead.dev/bridgehead/gateway/queue"
)

// DefaultAddress is where the admin API listens unless configured.
const DefaultAddress = "127.0.0.1:8025"

// ErrNotLoopback means an address outside loopback was given; the admin
// API serves there only with a token and TLS.
var ErrNotLoopback = errors.New("admin: address is not on loopback")

// ErrBadConfig marks a Reload error caused by the config itself; POST
// /reload answers it 400, other errors 500.
var ErrBadConfig = errors.New("admin: bad config")

// Queue is what the admin API needs of the queue; *queue.Queue has it.
type Queue interface {
	List() []*queue.Envelope
	Get(id string) (*queue.Envelope, error)
	OpenBody(id string) (io.ReadCloser, error)
	RetryNow(id string) error
	RetryAll() int
	Hold(id string) error
	Release(id string) error
	Delete(id string) error
	Bounce(ctx context.Context, id string) error
}

var _ Queue = (*queue.Queue)(nil)

// Options configure a Server.
type Options struct {
	// Queue is the queue to administer. Required.
	Queue Queue
	// QueueDir is the queue's directory; /readyz fails while a file cannot
	// be written there. Empty: not checked.
	QueueDir string
	// Listeners, if set, lets the API list, pause and resume the SMTP
	// listeners.
	Listeners Listeners
	// Token, when set, is required as "Authorization: Bearer TOKEN" on
	// every request but /healthz and /readyz. Required off loopback;
	// SetToken replaces it.
	Token string
	// TLSConfig, when set, makes Serve speak HTTPS. Required off loopback.
	TLSConfig *tls.Config
	// Reload, if set, serves POST /reload: it re-reads and applies the
	// config; an error wrapping ErrBadConfig is the config's fault.
	Reload func(ctx context.Context) error
	// RouteOf, if set, names the route a recipient of a message takes; the
	// queue listing shows it and retry can select by it.
	RouteOf func(env *queue.Envelope, r *queue.Recipient) string
	// History, if set, returns the delivery attempts recorded for a
	// message, oldest first; GET /api/queue/{id} shows them.
	History func(id string) []Attempt
	// Logger receives the admin log. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Server is the admin API. It starts not ready: call SetReady once the
// gateway serves, and Drain when shutdown begins.
type Server struct {
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	ready    atomic.Bool
	draining atomic.Bool
	token    atomic.Pointer[string]
}

// New builds a Server.
func New(opts Options) (*Server, error) {
	if opts.Queue == nil {
		return nil, errors.New("admin: no queue")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	s.SetToken(opts.Token)
	s.routes()
	return s, nil
}

// SetReady sets whether the process is ready for traffic (/readyz).
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Drain marks the process as shutting down: /readyz fails from now on.
func (s *Server) Drain() { s.draining.Store(true) }

// SetToken replaces the bearer token ("" : none required).
func (s *Server) SetToken(token string) { s.token.Store(&token) }

// Handler returns the API's HTTP handler, token check included.
func (s *Server) Handler() http.Handler { return s.authorize(s.mux) }

// HandleFunc adds an endpoint to the API, behind its token check (e.g.
// /metrics).
func (s *Server) HandleFunc(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }

// CheckAddress returns an error wrapping ErrNotLoopback unless addr
// (host:port) is on loopback.
func CheckAddress(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("admin address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("admin address %q: %w", addr, ErrNotLoopback)
}

// Listen listens on addr.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen %s: %w", addr, err)
	}
	return ln, nil
}

// Serve answers on ln until ctx is done, then shuts down (requests in
// progress get a few seconds) and returns nil. It closes ln. Off loopback
// it refuses to serve without a token and TLS.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := CheckAddress(ln.Addr().String()); err != nil && (*s.token.Load() == "" || s.opts.TLSConfig == nil) {
		_ = ln.Close()
		return fmt.Errorf("%w: a token and TLS are required", err)
	}
	if s.opts.TLSConfig != nil {
		ln = tls.NewListener(ln, s.opts.TLSConfig)
	}
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			_ = hs.Close()
		}
	}()
	s.log.Info("admin API listening", slog.String("address", ln.Addr().String()),
		slog.Bool("tls", s.opts.TLSConfig != nil), slog.Bool("token", *s.token.Load() != ""))
	err := hs.Serve(ln)
	close(done)
	<-stopped
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("admin: serve: %w", err)
}

// queueWritable checks that a file can be written in the queue directory.
func (s *Server) queueWritable() error {
	if s.opts.QueueDir == "" {
		return nil
	}
	f, err := os.CreateTemp(s.opts.QueueDir, ".readyz-*")
	if err != nil {
		return fmt.Errorf("queue directory not writable: %w", err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok\n"))
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return fmt.Errorf("queue directory not writable: %w", err)
	}
	return nil
}
