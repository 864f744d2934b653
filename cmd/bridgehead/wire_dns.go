package main

import (
	"fmt"

	"bridgehead.dev/bridgehead/dnsresolver"
)

// dnsState is the one resolver of the process: MX delivery and the reverse
// lookups of inbound clients share it and its cache. A reload keeps it
// unless dns: changed.
type dnsState struct {
	cfg DNSConfig
	r   *dnsresolver.Resolver
}

// resolver returns the resolver for cfg's dns:, building it on first use
// or when the settings changed.
func (s *server) resolver(cfg *Config) (*dnsresolver.Resolver, error) {
	if s.dns.r != nil && s.dns.cfg == cfg.DNS {
		return s.dns.r, nil
	}
	r, err := dnsresolver.New(dnsresolver.Options{Server: cfg.DNS.Server, Timeout: cfg.DNS.Timeout.D(), Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	s.dns = dnsState{cfg: cfg.DNS, r: r}
	return r, nil
}

// listenAddrs are the addresses we receive mail on, so that delivery
// recognises an exchanger that is ourselves as a loop.
func listenAddrs(cfg *Config) []string {
	addrs := make([]string, 0, len(cfg.Listeners))
	for _, l := range cfg.Listeners {
		addrs = append(addrs, l.Address)
	}
	return addrs
}
