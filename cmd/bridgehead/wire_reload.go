package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/gateway/delivery"
	"bridgehead.dev/bridgehead/gateway/queue"
)

// reloadState is what a reload replaces besides the gateway's options:
// the config in force, the certificate and the directory.
type reloadState struct {
	// mu makes reloads one at a time.
	mu  sync.Mutex
	cfg *Config
	// cur is cfg for readers outside mu.
	cur   atomic.Pointer[Config]
	certs *certStore
	dir   *swapDirectory
	// hup takes SIGHUP from newServer on, so that a SIGHUP sent as soon
	// as the listeners answer is a reload, not the end of the process.
	hup chan os.Signal
}

// init puts the directory s opened behind a swapper and starts taking
// SIGHUP.
func (r *reloadState) init(s *server, cfg *Config) {
	r.cfg = cfg
	r.cur.Store(cfg)
	r.certs = &certStore{}
	r.dir = &swapDirectory{cur: &dirGen{d: s.dir, close: s.closeDir}}
	s.dir, s.closeDir = r.dir, r.dir.Close
	r.hup = make(chan os.Signal, 1)
	signal.Notify(r.hup, syscall.SIGHUP)
}

// current returns the config in force.
func (r *reloadState) current() *Config { return r.cur.Load() }

// watchReload reloads the config at each SIGHUP until ctx is done or the
// returned stop is called.
func (s *server) watchReload(ctx context.Context) (stop func()) {
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-s.rl.hup:
				s.log.Info("SIGHUP: reloading", slog.String("config", s.rl.current().Path))
				_ = s.reload(ctx)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		signal.Stop(s.rl.hup)
		close(done)
		<-ended
	}
}

// certStore serves the listeners' certificate through GetCertificate, so
// that a reload replaces it under running listeners.
type certStore struct {
	cert atomic.Pointer[tls.Certificate]
	once sync.Once
	cfg  *tls.Config
}

// load reads cfg's certificate, puts it in force and returns the TLS
// config serving it (nil when cfg has none).
func (c *certStore) load(cfg *Config) (*tls.Config, error) {
	cert, err := readCert(cfg)
	if err != nil || cert == nil {
		return nil, err
	}
	c.cert.Store(cert)
	return c.config(), nil
}

// config returns the TLS config that serves the certificate in force; the
// same one every time.
func (c *certStore) config() *tls.Config {
	c.once.Do(func() {
		c.cfg = &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				if cert := c.cert.Load(); cert != nil {
					return cert, nil
				}
				return nil, fmt.Errorf("no certificate loaded")
			},
		}
	})
	return c.cfg
}

// readCert loads cfg's tls certificate and key; nil without tls.
func readCert(cfg *Config) (*tls.Certificate, error) {
	if cfg.TLS.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &cert, nil
}

// swapDirectory is the directory everything holds; a reload replaces the
// one behind it. The old one is closed once the calls in flight on it have
// returned.
type swapDirectory struct {
	mu  sync.RWMutex
	cur *dirGen
}

// dirGen is one opened directory and the calls in flight on it.
type dirGen struct {
	d      directory.Directory
	close  func() error
	flight sync.WaitGroup
}

var _ directory.Directory = (*swapDirectory)(nil)

// take returns the directory in force, counted in flight until done.
func (s *swapDirectory) take() *dirGen {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.cur
	g.flight.Add(1)
	return g
}

// Authenticate implements directory.Authenticator.
func (s *swapDirectory) Authenticate(ctx context.Context, login, password string) (*directory.User, error) {
	g := s.take()
	defer g.flight.Done()
	return g.d.Authenticate(ctx, login, password)
}

// LookupUser implements directory.Resolver.
func (s *swapDirectory) LookupUser(ctx context.Context, login string) (*directory.User, error) {
	g := s.take()
	defer g.flight.Done()
	return g.d.LookupUser(ctx, login)
}

// LookupRecipient implements directory.Resolver.
func (s *swapDirectory) LookupRecipient(ctx context.Context, address string) (*directory.Recipient, error) {
	g := s.take()
	defer g.flight.Done()
	return g.d.LookupRecipient(ctx, address)
}

// swap puts d in force and closes the old directory in the background
// once its calls in flight have returned.
func (s *swapDirectory) swap(d directory.Directory, closeFn func() error, log *slog.Logger) {
	s.mu.Lock()
	old := s.cur
	s.cur = &dirGen{d: d, close: closeFn}
	s.mu.Unlock()
	go func() {
		old.flight.Wait()
		if err := old.close(); err != nil {
			log.Warn("close the old directory", slog.Any("error", err))
		}
	}()
}

// Close closes the directory in force.
func (s *swapDirectory) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur.close == nil {
		return nil
	}
	err := s.cur.close()
	s.cur.close = nil
	return err
}

// swapDeliverer is the queue's Deliverer; a reload replaces the delivery
// (routes, back ends) behind it. The old one is closed once the
// deliveries in flight on it have returned.
type swapDeliverer struct {
	mu  sync.RWMutex
	cur *deliverGen
	// history records every attempt for the admin API.
	history *attemptLog
}

type deliverGen struct {
	d      *delivery.Deliverer
	flight sync.WaitGroup
}

var _ queue.Deliverer = (*swapDeliverer)(nil)

func newSwapDeliverer(d *delivery.Deliverer) *swapDeliverer {
	return &swapDeliverer{cur: &deliverGen{d: d}, history: newAttemptLog()}
}

// Deliver implements queue.Deliverer with the delivery in force.
func (s *swapDeliverer) Deliver(ctx context.Context, msg *queue.Message, rcpts []*queue.Recipient) []queue.Result {
	s.mu.RLock()
	g := s.cur
	g.flight.Add(1)
	s.mu.RUnlock()
	defer g.flight.Done()
	start := time.Now()
	res := g.d.Deliver(ctx, msg, rcpts)
	s.history.add(msg.Envelope.ID, start, time.Since(start), res)
	return res
}

// swap puts d in force for the next deliveries.
func (s *swapDeliverer) swap(d *delivery.Deliverer) {
	s.mu.Lock()
	old := s.cur
	s.cur = &deliverGen{d: d}
	s.mu.Unlock()
	go func() {
		old.flight.Wait()
		_ = old.d.Close()
	}()
}

// Close closes the delivery in force.
func (s *swapDeliverer) Close() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cur.d.Close()
}
