package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"

	"bridgehead.dev/bridgehead/gateway/admin"
)

// validateAdmin checks admin: off loopback the API needs a token file and
// a certificate (admin.cert_file/key_file, or else the listeners' tls).
func (c *Config) validateAdmin(add adder) {
	a := c.Admin
	switch {
	case a.CertFile != "" && a.KeyFile == "":
		add(p("admin", "cert_file"), "admin: cert_file and key_file go together")
	case a.CertFile == "" && a.KeyFile != "":
		add(p("admin", "key_file"), "admin: cert_file and key_file go together")
	}
	if err := admin.CheckAddress(a.Address); err == nil || !errors.Is(err, admin.ErrNotLoopback) {
		return
	}
	if a.TokenFile == "" {
		add(p("admin", "address"), "admin.address %s is not on loopback: admin.token_file is required", a.Address)
	}
	if a.CertFile == "" && c.TLS.CertFile == "" {
		add(p("admin", "address"), "admin.address %s is not on loopback: admin.cert_file and key_file (or tls) are required", a.Address)
	}
}

// resolveAdminPaths makes the admin file names relative to the config
// file's directory, as resolvePaths does for the others.
func (c *Config) resolveAdminPaths(abs func(*string)) {
	abs(&c.Admin.TokenFile)
	abs(&c.Admin.CertFile)
	abs(&c.Admin.KeyFile)
}

// checkAdmin reads the admin token and certificate the config names, as
// CheckFiles does for the other files; errors read FILE:LINE: what.
func (c *Config) checkAdmin() error {
	var errs []error
	if c.Admin.TokenFile != "" {
		if _, err := readToken(c.Admin.TokenFile); err != nil {
			errs = append(errs, c.errAt(p("admin", "token_file"), "admin.token_file: %v", err))
		}
	}
	if c.Admin.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(c.Admin.CertFile, c.Admin.KeyFile); err != nil {
			errs = append(errs, c.errAt(p("admin", "cert_file"), "admin.cert_file: %v", err))
		}
	}
	return errors.Join(errs...)
}

// readToken reads a bearer token file: its first line, which must not be
// empty.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("%s: empty token", path)
	}
	return tok, nil
}
