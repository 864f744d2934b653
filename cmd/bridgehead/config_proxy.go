package main

// ProxyProtocolConfig is a listener's proxy_protocol.
type ProxyProtocolConfig struct {
	// Trusted are the load balancers' addresses or CIDR blocks allowed to
	// send a PROXY header; empty = PROXY protocol off.
	Trusted []string `yaml:"trusted"`
}
