package main

import (
	"fmt"
	"os"
	"strings"

	"bridgehead.dev/bridgehead/gateway/delivery"
)

// RouteAuthConfig are a route's smart-host credentials.
type RouteAuthConfig struct {
	// Username is sent with PLAIN or LOGIN.
	Username string `yaml:"username"`
	// PasswordFile holds the password (trailing newline ignored).
	PasswordFile string `yaml:"password_file"`
}

// validateRouteAuth checks route i's auth: both keys, and a TLS policy
// that never sends the password in clear.
func (c *Config) validateRouteAuth(add adder, i int, r RouteConfig) {
	a := r.Auth
	if a == nil {
		return
	}
	if a.Username == "" {
		add(p("routes", i, "auth"), "route %d: auth: username is required", i+1)
	}
	if a.PasswordFile == "" {
		add(p("routes", i, "auth"), "route %d: auth: password_file is required", i+1)
	}
	for _, u := range r.To {
		smtps := strings.HasPrefix(u, "smtps://")
		if !(smtps || r.TLS == "required" || r.TLS == "verify") {
			add(p("routes", i, "auth"), "route %d: auth: needs tls required or verify (or smtps://) for %q", i+1, u)
			return
		}
	}
}

// routeAuth reads the password file of a route's auth (nil: no auth).
func routeAuth(a *RouteAuthConfig) (*delivery.Auth, error) {
	if a == nil {
		return nil, nil
	}
	b, err := os.ReadFile(a.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("route auth password: %w", err)
	}
	return &delivery.Auth{Username: a.Username, Password: strings.TrimRight(string(b), "\r\n")}, nil
}
