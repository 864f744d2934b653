package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
)

// CheckFiles checks that the files the config names can be read here: the
// listeners' certificate and key (and that they match), the static users
// file, and the LDAP, IMAP, OIDC and route CA and password files. LoadConfig
// does not, so a config can be checked away from its machine; check-config
// calls this on the machine itself. Errors read FILE:LINE: what.
func (c *Config) CheckFiles() error {
	var errs []error
	check := func(file string, path ...any) bool {
		if file == "" {
			return false
		}
		f, err := os.Open(file)
		if err == nil {
			err = f.Close()
		}
		if err != nil {
			errs = append(errs, c.errAt(path, "%s: %v", keyName(path), err))
			return false
		}
		return true
	}
	certOK := check(c.TLS.CertFile, "tls", "cert_file")
	keyOK := check(c.TLS.KeyFile, "tls", "key_file")
	if certOK && keyOK {
		if _, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile); err != nil {
			errs = append(errs, c.errAt(p("tls", "cert_file"), "tls: %v", err))
		}
	}
	if s := c.Directory.Static; s != nil {
		check(s.File, "directory", "static", "file")
	}
	if l := c.Directory.LDAP; l != nil {
		check(l.CAFile, "directory", "ldap", "ca_file")
		check(l.BindPasswordFile, "directory", "ldap", "bind_password_file")
	}
	check(c.Auth.IMAP.CAFile, "auth", "imap", "ca_file")
	check(c.Auth.OIDC.CAFile, "auth", "oidc", "ca_file")
	for i, r := range c.Routes {
		check(r.CAFile, "routes", i, "ca_file")
		if r.Auth != nil {
			check(r.Auth.PasswordFile, "routes", i, "auth", "password_file")
		}
	}
	errs = append(errs, c.checkAdmin())
	return errors.Join(errs...)
}

// keyName writes a path as a dotted key name, e.g. routes[1].ca_file.
func keyName(path []any) string {
	var b strings.Builder
	for _, step := range path {
		switch s := step.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		}
	}
	return b.String()
}
