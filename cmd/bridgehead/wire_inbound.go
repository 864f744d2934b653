package main

import "bridgehead.dev/bridgehead/gateway"

// wireInbound gives each gateway listener its trusted PROXY protocol load
// balancers; opts.Listeners are in the order of cfg.Listeners.
func wireInbound(opts *gateway.Options, cfg *Config) {
	for i, l := range cfg.Listeners {
		if i < len(opts.Listeners) && opts.Listeners[i].Name == l.Name {
			opts.Listeners[i].ProxyTrusted = l.ProxyProtocol.prefixes()
		}
	}
}
