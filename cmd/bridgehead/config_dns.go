package main

// DNSConfig is dns: the resolver used for MX delivery and the reverse
// lookups of inbound clients.
type DNSConfig struct {
	// Server is host:port of a recursive resolver; "" = the system's
	// (/etc/resolv.conf).
	Server string `yaml:"server"`
}
