package main

import (
	"log/slog"
	"net/netip"
	"slices"
	"testing"
)

func TestConfigProxyProtocolAndRates(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig("c.yaml", []byte(`hostname: gw.example.test
state_dir: /var/lib/bridgehead
listeners:
  - name: inbound
    address: 0.0.0.0:25
    mode: inbound
    proxy_protocol:
      trusted: [10.0.0.0/24, 192.0.2.10, "::ffff:192.0.2.11", "2001:db8::/64"]
    limits:
      connection_rate_per_ip: 30
      message_rate_per_ip: 60
  - name: direct
    address: 0.0.0.0:2525
    mode: inbound
domains: [example.test]
directory:
  static: {file: users.yaml}
`))
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Listeners[0].Limits; l.ConnectionRatePerIP != 30 || l.MessageRatePerIP != 60 {
		t.Errorf("rates = %d, %d, want 30, 60", l.ConnectionRatePerIP, l.MessageRatePerIP)
	}
	log := slog.New(slog.DiscardHandler)
	s := &server{log: log, obs: newObservability(log)}
	opts, err := s.gatewayOptions(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/24"),
		netip.MustParsePrefix("192.0.2.10/32"),
		netip.MustParsePrefix("192.0.2.11/32"),
		netip.MustParsePrefix("2001:db8::/64"),
	}
	if got := opts.Listeners[0].ProxyTrusted; !slices.Equal(got, want) {
		t.Errorf("trusted = %v, want %v", got, want)
	}
	if got := opts.Listeners[1].ProxyTrusted; got != nil {
		t.Errorf("listener without proxy_protocol: trusted = %v, want none", got)
	}
}
