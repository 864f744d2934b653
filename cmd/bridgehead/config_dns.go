package main

import "net"

// DNSConfig is dns: the resolver used for MX delivery and the reverse
// lookups of inbound clients.
type DNSConfig struct {
	// Server is host:port of a recursive resolver; "" = the system's
	// (the first nameserver of /etc/resolv.conf).
	Server string `yaml:"server"`
	// Timeout bounds one query (default 5s).
	Timeout Duration `yaml:"timeout"`
}

// validateDNS checks dns.
func (c *Config) validateDNS(add adder) {
	if s := c.DNS.Server; s != "" {
		if err := checkHostPort(s); err != nil {
			add(p("dns", "server"), "dns.server: %v", err)
		} else if host, port, _ := net.SplitHostPort(s); host == "" || port == "0" {
			add(p("dns", "server"), "dns.server: %q: want host:port of a resolver", s)
		}
	}
	if c.DNS.Timeout < 0 {
		add(p("dns", "timeout"), "dns.timeout must not be negative")
	}
}

// validateMXRoute checks what only a route's "to: mx" allows: mx_port,
// and no smart-host login unless a fallback relay follows the mx.
func (c *Config) validateMXRoute(add adder, i int, r RouteConfig) {
	mx := false
	for _, u := range r.To {
		mx = mx || u == "mx"
	}
	switch {
	case r.MXPort < 0 || r.MXPort > 65535:
		add(p("routes", i, "mx_port"), "route %d: mx_port %d: want a port (1-65535)", i+1, r.MXPort)
	case r.MXPort != 0 && !mx:
		add(p("routes", i, "mx_port"), "route %d: mx_port is only used with to: mx", i+1)
	}
	if mx && r.Auth != nil && len(r.To) == 1 {
		add(p("routes", i, "auth"), "route %d: auth is for smart hosts, not for to: mx", i+1)
	}
}
