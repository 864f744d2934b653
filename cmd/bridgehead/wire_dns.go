package main

import (
	"fmt"
	"log/slog"

	"bridgehead.dev/bridgehead/dnsresolver"
	"bridgehead.dev/bridgehead/gateway/delivery"
)

// newResolver builds the DNS resolver of dns: (MX delivery; usable for
// reverse lookups too).
func newResolver(cfg *Config, log *slog.Logger) (*dnsresolver.Resolver, error) {
	r, err := dnsresolver.New(dnsresolver.Options{Server: cfg.DNS.Server, Timeout: cfg.DNS.Timeout.D(), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	return r, nil
}

// withDNS gives delivery what "to: mx" needs: the resolver, and the
// addresses we receive mail on so that an exchanger that is ourselves is
// recognised as a loop.
func (s *server) withDNS(cfg *Config, dopts *delivery.Options) error {
	r, err := newResolver(cfg, s.log)
	if err != nil {
		return err
	}
	dopts.Resolver = r
	for _, l := range cfg.Listeners {
		dopts.ListenAddrs = append(dopts.ListenAddrs, l.Address)
	}
	return nil
}
