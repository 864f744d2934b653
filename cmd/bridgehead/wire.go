package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/directory/ldapdir"
	"bridgehead.dev/bridgehead/directory/static"
	"bridgehead.dev/bridgehead/gateway"
	"bridgehead.dev/bridgehead/gateway/bounce"
	"bridgehead.dev/bridgehead/gateway/delivery"
	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/mailboxstore"
	"bridgehead.dev/bridgehead/ndr"
)

// server is everything one bridgehead process runs, built from a Config.
type server struct {
	log      *slog.Logger
	dir      directory.Directory
	closeDir func() error
	store    *mailboxstore.Store
	imap     *mailboxstore.IMAPServer
	imapAddr string
	queue    *queue.Queue
	deliver  *swapDeliverer // routes: replaced at reload
	gw       *gateway.Gateway
	ready    chan struct{}
	admin    *adminRunner
	obs      *observability // metrics and protocol logs (wire_metrics.go)
	rl       reloadState
	autoconf *autoconfigRunner
	pickup   *pickupRunner // pickup directory (wire_pickup.go)
	dns      dnsState      // the resolver (wire_dns.go)
}

// serverOptions are what the dev command changes beyond the config file.
type serverOptions struct {
	// imapUsers lets every directory user read their own mailbox (dev).
	imapUsers bool
}

// newServer builds the process from a validated config.
func newServer(ctx context.Context, cfg *Config, log *slog.Logger, so serverOptions) (*server, error) {
	s := &server{log: log, ready: make(chan struct{}), obs: newObservability(log)}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()

	if err := s.openDirectory(ctx, cfg); err != nil {
		return nil, err
	}
	s.rl.init(s, cfg)
	tlsCfg, err := s.rl.certs.load(cfg)
	if err != nil {
		return nil, err
	}

	s.store, err = mailboxstore.Open(mailboxstore.Options{
		Dir:       filepath.Join(cfg.StateDir, "mailboxes"),
		Retention: cfg.Mailboxstore.Retention.D(),
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("mailbox store: %w", err)
	}
	if cfg.Mailboxstore.IMAPAddress != "" {
		s.imapAddr = cfg.Mailboxstore.IMAPAddress
		s.imap, err = s.store.NewIMAPServer(mailboxstore.ServerOptions{
			TLSConfig:    tlsCfg,
			InsecureAuth: isLoopback(cfg.Mailboxstore.IMAPAddress),
			Auth:         imapAuth{s.dir},
			Admins:       cfg.Mailboxstore.Admins,
			AllowUsers:   so.imapUsers,
		})
		if err != nil {
			return nil, fmt.Errorf("mailbox store IMAP: %w", err)
		}
	}

	d, err := s.newDeliverer(cfg)
	if err != nil {
		return nil, err
	}
	s.deliver = newSwapDeliverer(d)

	templates := ndr.DefaultTemplates()
	if cfg.NDR.TemplatesDir != "" {
		if templates, err = ndr.LoadTemplates(cfg.NDR.TemplatesDir); err != nil {
			return nil, fmt.Errorf("ndr templates: %w", err)
		}
	}
	reporter, err := bounce.New(bounce.Options{
		Hostname: cfg.Hostname, Postmaster: cfg.NDR.Postmaster, CopyToPostmaster: cfg.NDR.CopyToPostmaster,
		Language: cfg.NDR.Language, DomainLanguage: cfg.NDR.Languages, Templates: templates,
		Expire: cfg.Queue.Expire.D(), Store: s.store, Logger: log,
		OnReport: s.obs.reportHook(),
	})
	if err != nil {
		return nil, fmt.Errorf("ndr: %w", err)
	}
	qopts := queue.Options{
		Dir:         filepath.Join(cfg.StateDir, "queue"),
		Expire:      cfg.Queue.Expire.D(),
		DelayNotice: cfg.Queue.DelayNotice.D(),
		// 0 keeps the queue's default.
		SpillThreshold: int64(cfg.Queue.JournalMessageSize),
		Deliverer:      s.deliver,
		Logger:         log,
		OnFailure:      reporter.OnFailure,
		OnDelay:        reporter.OnDelay,
		OnSuccess:      reporter.OnSuccess,
	}
	for _, d := range cfg.Queue.Retry {
		qopts.Retry = append(qopts.Retry, d.D())
	}
	s.queue, err = queue.Open(ctx, qopts)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	reporter.SetQueue(s.queue)
	s.obs.watchQueue(s.queue)

	auth, err := newAuthenticator(ctx, cfg, s.dir, log)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	gopts, err := s.gatewayOptions(cfg, tlsCfg)
	if err != nil {
		return nil, err
	}
	s.gw, err = gateway.New(gopts, gateway.Deps{Auth: auth, Directory: s.dir, Queue: s.queue})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s.admin = newAdminRunner(cfg)
	if s.autoconf, err = newAutoconfigRunner(cfg, tlsCfg, log); err != nil {
		return nil, err
	}
	if s.pickup, err = newPickupRunner(cfg, s.queue, log); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// newDeliverer builds delivery to the back ends from cfg's routes; reload
// calls it again.
func (s *server) newDeliverer(cfg *Config) (*delivery.Deliverer, error) {
	r, err := s.resolver(cfg)
	if err != nil {
		return nil, err
	}
	dopts := delivery.Options{
		Hostname:    cfg.Hostname,
		Backends:    cfg.Backends,
		Mailbox:     mailboxTarget{dir: s.dir, store: s.store},
		Resolver:    r,
		ListenAddrs: listenAddrs(cfg),
		Logger:      s.log,
	}
	for _, r := range cfg.Routes {
		auth, err := routeAuth(r.Auth)
		if err != nil {
			return nil, err
		}
		dopts.Routes = append(dopts.Routes, delivery.Route{Domains: r.Domains, Targets: r.To, Senders: lowerAll(r.Senders), TLS: delivery.TLSPolicy(r.TLS), CAFile: r.CAFile, Auth: auth, MXPort: r.MXPort})
	}
	s.obs.deliveryOptions(&dopts)
	d, err := delivery.New(dopts)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	return d, nil
}

// gatewayOptions maps cfg onto the gateway's options; reload calls it
// again.
func (s *server) gatewayOptions(cfg *Config, tlsCfg *tls.Config) (gateway.Options, error) {
	r, err := s.resolver(cfg)
	if err != nil {
		return gateway.Options{}, err
	}
	gopts := gateway.Options{Hostname: cfg.Hostname, Domains: cfg.Domains, Resolver: r, Logger: s.log}
	for _, l := range cfg.Listeners {
		chain, err := buildFilters(cfg, l.Filters)
		if err != nil {
			return gopts, fmt.Errorf("listener %s: filters: %w", l.Name, err)
		}
		gopts.Listeners = append(gopts.Listeners, gateway.ListenerOptions{
			Name:         l.Name,
			Address:      l.Address,
			Mode:         gateway.Mode(l.Mode),
			TLSConfig:    tlsCfg,
			Filters:      chain,
			Access:       l.accessRules(),
			ProxyTrusted: l.ProxyProtocol.prefixes(),
			Limits: gateway.Limits{
				MaxConnections:           l.Limits.MaxConnections,
				MaxConnectionsPerIP:      l.Limits.MaxConnectionsPerIP,
				MaxMessageSize:           int64(l.Limits.MaxMessageSize),
				MaxRecipients:            l.Limits.MaxRecipients,
				MaxMessagesPerConnection: l.Limits.MaxMessagesPerConnection,
				IdleTimeout:              l.Limits.IdleTimeout.D(),
				WriteTimeout:             l.Limits.WriteTimeout.D(),
				DataTimeout:              l.Limits.DataTimeout.D(),
				MaxLineLength:            l.Limits.MaxLineLength,
				ConnectionRatePerIP:      l.Limits.ConnectionRatePerIP,
				MessageRatePerIP:         l.Limits.MessageRatePerIP,
			},
		})
	}
	s.obs.gatewayOptions(&gopts, cfg)
	return gopts, nil
}

// openDirectory opens the configured directory.
func (s *server) openDirectory(ctx context.Context, cfg *Config) error {
	switch {
	case cfg.Directory.Static != nil:
		d, err := static.Load(cfg.Directory.Static.File)
		if err != nil {
			return err
		}
		s.dir, s.closeDir = d, func() error { return nil }
	case cfg.Directory.LDAP != nil:
		opts := cfg.Directory.LDAP.options()
		opts.Logger = s.log
		s.obs.ldapOptions(&opts)
		d, err := ldapdir.New(ctx, opts)
		if err != nil {
			return fmt.Errorf("ldap directory: %w", err)
		}
		s.dir, s.closeDir = d, d.Close
	default:
		return errors.New("no directory configured")
	}
	return nil
}

// run serves until ctx is done, then shuts down in reverse start order:
// listeners first (sessions drain), then the queue, then the IMAP store.
func (s *server) run(ctx context.Context) error {
	defer s.close()
	stopAdmin, err := s.admin.start(ctx, s)
	if err != nil {
		return err
	}
	defer stopAdmin()
	stopAutoconfig, err := s.autoconf.start(ctx)
	if err != nil {
		return err
	}
	defer stopAutoconfig()
	storeCtx, stopStore := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStore()
	queueCtx, stopQueue := context.WithCancel(context.WithoutCancel(ctx))
	defer stopQueue()

	var wg sync.WaitGroup
	errc := make(chan error, 4)
	if s.imap != nil {
		ln, err := net.Listen("tcp", s.imapAddr)
		if err != nil {
			return fmt.Errorf("mailbox store IMAP: listen %s: %w", s.imapAddr, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.imap.Serve(storeCtx, ln); err != nil {
				errc <- fmt.Errorf("mailbox store IMAP: %w", err)
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := s.store.RunJanitor(storeCtx); err != nil {
			errc <- fmt.Errorf("mailbox store janitor: %w", err)
		}
	}()
	queueDone := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(queueDone)
		if err := s.queue.Run(queueCtx); err != nil {
			errc <- fmt.Errorf("queue: %w", err)
		}
	}()

	gwCtx, stopGW := context.WithCancel(ctx)
	defer stopGW()
	gwDone := make(chan error, 1)
	go func() { gwDone <- s.gw.Run(gwCtx) }()
	defer s.watchReload(ctx)()
	defer s.pickup.start(ctx)()
	go func() {
		select {
		case <-s.gw.Ready():
			s.log.Info("ready")
			close(s.ready)
		case <-gwCtx.Done():
		}
	}()

	var runErr error
	select {
	case runErr = <-gwDone:
	case runErr = <-errc:
		stopGW()
		<-gwDone
	case <-ctx.Done():
		runErr = <-gwDone
	}
	s.log.Info("shutting down")
	stopQueue()
	<-queueDone
	stopStore()
	wg.Wait()
	s.log.Info("stopped")
	return runErr
}

// close releases what newServer opened; safe on a half-built server.
func (s *server) close() {
	defer s.obs.close()
	if s.deliver != nil {
		s.deliver.Close()
	}
	if s.queue != nil {
		s.queue.Close()
	}
	if s.closeDir != nil {
		s.closeDir()
		s.closeDir = nil
	}
}

// isLoopback reports whether a listen address is on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// mailboxTarget delivers "mailbox:" routes into the built-in store: the
// recipient's login owns the mailbox.
type mailboxTarget struct {
	dir   directory.Resolver
	store *mailboxstore.Store
}

func (m mailboxTarget) DeliverMailbox(ctx context.Context, rcpt string, msg io.Reader) error {
	r, err := m.dir.LookupRecipient(ctx, rcpt)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return &delivery.PermanentError{Err: fmt.Errorf("no mailbox for %s", rcpt)}
	case err != nil:
		return err
	case r.Login == "":
		return &delivery.PermanentError{Err: fmt.Errorf("%s is not a user's mailbox", rcpt)}
	}
	_, err = m.store.Append(ctx, r.Login, mailboxstore.Inbox, msg)
	return err
}

// imapAuth checks mailbox store logins against the directory.
type imapAuth struct{ dir directory.Authenticator }

func (a imapAuth) Authenticate(ctx context.Context, login, password string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := a.dir.Authenticate(ctx, login, password)
	if errors.Is(err, directory.ErrUnavailable) {
		return fmt.Errorf("%w: %w", mailboxstore.ErrAuthUnavailable, err)
	}
	return err
}
