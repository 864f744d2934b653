package main

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/gateway"
	"bridgehead.dev/bridgehead/gateway/admin"
)

// reload re-reads the config file and the files it names and applies it:
// certificate, directory (with a new auth cache), routes and back ends,
// listeners (options for new sessions; added, removed and moved ones). It
// builds everything first: a config that does not validate, a file that
// cannot be read, a directory that cannot be opened or an address that
// cannot be bound leaves everything as it was, and is logged and returned.
// Settings the running process cannot change (state_dir, queue, ndr,
// mailboxstore, admin) are logged as needing a restart.
func (s *server) reload(ctx context.Context) error {
	r := &s.rl
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	path := r.cfg.Path
	err := s.applyConfig(ctx, path)
	if err != nil {
		s.log.Error("reload failed, nothing changed", slog.String("config", path), slog.Any("error", err))
		return err
	}
	s.log.Info("reloaded", slog.String("config", path), slog.Int("listeners", len(r.cfg.Listeners)),
		slog.Int("routes", len(r.cfg.Routes)), slog.Duration("took", time.Since(start)))
	return nil
}

// applyConfig is reload under s.rl.mu.
func (s *server) applyConfig(ctx context.Context, path string) error {
	r := &s.rl
	cfg, err := LoadConfig(path)
	if err == nil {
		err = cfg.CheckFiles()
	}
	if err != nil {
		return badConfig{err}
	}
	cert, err := readCert(cfg)
	if err != nil {
		return badConfig{err}
	}
	for _, key := range restartNeeded(r.cfg, cfg) {
		s.log.Warn("reload: setting changed, takes effect at the next restart", slog.String("key", key))
	}

	// The new parts are built against the swapper s.dir, which serves the
	// new directory once swapped in below.
	newDir, closeNewDir, err := s.openFreshDirectory(ctx, cfg)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	d, err := s.newDeliverer(cfg)
	if err != nil {
		_ = closeNewDir()
		return err
	}
	discard := func() {
		_ = d.Close()
		_ = closeNewDir()
	}
	auth, err := newAuthenticator(ctx, cfg, s.dir, s.log)
	if err != nil {
		discard()
		return fmt.Errorf("auth: %w", err)
	}
	var tlsCfg = r.certs.config()
	if cert == nil {
		tlsCfg = nil
	}
	gopts, err := s.gatewayOptions(cfg, tlsCfg)
	if err != nil {
		discard()
		return err
	}
	var oldCert = r.certs.cert.Load()
	if cert != nil {
		r.certs.cert.Store(cert)
	}
	if err := s.gw.Update(ctx, gopts, gateway.Deps{Auth: auth, Directory: s.dir, Queue: s.queue}); err != nil {
		r.certs.cert.Store(oldCert)
		discard()
		return err
	}
	r.dir.swap(newDir, closeNewDir, s.log)
	s.deliver.swap(d)
	s.admin.reloaded(cfg, s.log)
	r.cfg = cfg
	r.cur.Store(cfg)
	return nil
}

// openFreshDirectory opens cfg's directory as newServer does (same
// hooks), leaving s.dir, the swapper, as it is. s.rl.mu is held: nothing
// else reads s.dir after newServer.
func (s *server) openFreshDirectory(ctx context.Context, cfg *Config) (directory.Directory, func() error, error) {
	dir, closeDir := s.dir, s.closeDir
	defer func() { s.dir, s.closeDir = dir, closeDir }()
	if err := s.openDirectory(ctx, cfg); err != nil {
		return nil, nil, err
	}
	return s.dir, s.closeDir, nil
}

// badConfig marks a reload refused for the config itself (the admin API
// answers 400 with its FILE:LINE message).
type badConfig struct{ err error }

func (e badConfig) Error() string { return e.err.Error() }
func (e badConfig) Unwrap() error { return e.err }

// Is makes a badConfig match admin.ErrBadConfig.
func (e badConfig) Is(target error) bool { return target == admin.ErrBadConfig }

// restartNeeded names the top-level settings that differ between old and
// cfg and that only a restart applies.
func restartNeeded(old, cfg *Config) []string {
	var keys []string
	check := func(key string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			keys = append(keys, key)
		}
	}
	check("state_dir", old.StateDir, cfg.StateDir)
	check("queue", old.Queue, cfg.Queue)
	check("ndr", old.NDR, cfg.NDR)
	check("mailboxstore", old.Mailboxstore, cfg.Mailboxstore)
	check("admin.address", old.Admin.Address, cfg.Admin.Address)
	check("admin.cert_file", old.Admin.CertFile, cfg.Admin.CertFile)
	check("admin.key_file", old.Admin.KeyFile, cfg.Admin.KeyFile)
	return keys
}
