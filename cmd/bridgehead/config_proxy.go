package main

import (
	"net/netip"
)

// ProxyProtocolConfig is a listener's proxy_protocol.
type ProxyProtocolConfig struct {
	// Trusted are the load balancers' addresses or CIDR blocks allowed to
	// send a PROXY header; empty = PROXY protocol off.
	Trusted []string `yaml:"trusted"`
}

// prefixes are the trusted load balancers for the gateway; entries that
// don't parse (refused by validateInbound) are left out.
func (c ProxyProtocolConfig) prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.Trusted {
		if pr, err := parseAccessPrefix(s); err == nil {
			out = append(out, pr)
		}
	}
	return out
}

// validateInbound checks listener i's PROXY protocol load balancers and
// per-IP rates.
func validateInbound(add adder, i int, name string, l ListenerConfig) {
	for j, s := range l.ProxyProtocol.Trusted {
		if _, err := parseAccessPrefix(s); err != nil {
			add(p("listeners", i, "proxy_protocol", "trusted", j), "listener %q: proxy_protocol.trusted entry %d: %v", name, j+1, err)
		}
	}
	for key, v := range map[string]int{
		"connection_rate_per_ip": l.Limits.ConnectionRatePerIP,
		"message_rate_per_ip":    l.Limits.MessageRatePerIP,
	} {
		if v < 0 {
			add(p("listeners", i, "limits", key), "listener %q: limits.%s must not be negative", name, key)
		}
	}
}
