// Package autoconfig tells mail clients how to connect: an http.Handler
// serving Thunderbird's autoconfig file (clientConfig 1.1), Outlook's
// Autodiscover (POX, responseschema 2006a) and an Apple configuration
// profile (.mobileconfig with a com.apple.mail.managed payload).
//
// Clients read mail from the back-end store (IMAP and/or POP3, as
// configured) and send through bridgehead (implicit TLS and/or STARTTLS
// submission). Only addresses of the configured domains get an answer;
// every value reaches the client through encoding/xml, never a template.
package autoconfig

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Security is how a client secures a connection.
type Security string

// Connection security of a server.
const (
	// ImplicitTLS is TLS from the first byte (993, 995, 465).
	ImplicitTLS Security = "implicit"
	// STARTTLS upgrades a plain connection before authentication.
	STARTTLS Security = "starttls"
)

// Username says what clients log in with.
type Username string

// Usernames.
const (
	// UsernameAddress is the whole e-mail address (default).
	UsernameAddress Username = "address"
	// UsernameLocalPart is the part before the @.
	UsernameLocalPart Username = "localpart"
)

// Server is one host clients connect to.
type Server struct {
	// Host is the DNS name clients connect to.
	Host string
	// Port is the TCP port.
	Port int
	// Security is ImplicitTLS or STARTTLS.
	Security Security
}

// Options configure a Handler.
type Options struct {
	// Domains are the e-mail domains answered for; at least one.
	Domains []string
	// DisplayName names the provider in clients; default the first domain.
	DisplayName string
	// IMAP and POP3 are the back-end stores clients read mail from; at
	// least one of them is required.
	IMAP *Server
	POP3 *Server
	// Submission are bridgehead's submission ports in order of
	// preference (implicit TLS first, RFC 8314); at least one.
	Submission []Server
	// Username is what clients log in with; default UsernameAddress.
	Username Username
	// OAuth2 offers OAuth2 (OAUTHBEARER/XOAUTH2) for submission beside
	// the password.
	OAuth2 bool
	// MaxBodySize bounds an Autodiscover request; default 64 KiB.
	MaxBodySize int64
	// Logger logs refused requests at debug level; nil = slog.Default().
	Logger *slog.Logger
}

// defaultMaxBody is Options.MaxBodySize's default: Autodiscover requests
// are a few hundred bytes.
const defaultMaxBody = 64 << 10

// Validate reports what is wrong with o.
func (o *Options) Validate() error {
	var errs []error
	if len(o.Domains) == 0 {
		errs = append(errs, errors.New("autoconfig: at least one domain is required"))
	}
	for _, d := range o.Domains {
		if !hostName(d) {
			errs = append(errs, fmt.Errorf("autoconfig: domain %q is not a host name", d))
		}
	}
	if o.IMAP == nil && o.POP3 == nil {
		errs = append(errs, errors.New("autoconfig: an IMAP or POP3 server is required"))
	}
	if len(o.Submission) == 0 {
		errs = append(errs, errors.New("autoconfig: a submission server is required"))
	}
	check := func(what string, s *Server) {
		if s == nil {
			return
		}
		if !hostName(s.Host) {
			errs = append(errs, fmt.Errorf("autoconfig: %s: host %q is not a host name", what, s.Host))
		}
		if s.Port < 1 || s.Port > 65535 {
			errs = append(errs, fmt.Errorf("autoconfig: %s: port %d out of range", what, s.Port))
		}
		if s.Security != ImplicitTLS && s.Security != STARTTLS {
			errs = append(errs, fmt.Errorf("autoconfig: %s: security %q: want implicit or starttls", what, s.Security))
		}
	}
	check("imap", o.IMAP)
	check("pop3", o.POP3)
	for i := range o.Submission {
		check("submission", &o.Submission[i])
	}
	switch o.Username {
	case "", UsernameAddress, UsernameLocalPart:
	default:
		errs = append(errs, fmt.Errorf("autoconfig: username %q: want address or localpart", o.Username))
	}
	if o.MaxBodySize < 0 {
		errs = append(errs, errors.New("autoconfig: negative MaxBodySize"))
	}
	return errors.Join(errs...)
}

// withDefaults returns o with defaults filled in and domains lower-cased.
func (o Options) withDefaults() Options {
	doms := make([]string, len(o.Domains))
	for i, d := range o.Domains {
		doms[i] = strings.ToLower(strings.TrimSuffix(d, "."))
	}
	o.Domains = doms
	if o.DisplayName == "" && len(doms) > 0 {
		o.DisplayName = doms[0]
	}
	if o.Username == "" {
		o.Username = UsernameAddress
	}
	if o.MaxBodySize == 0 {
		o.MaxBodySize = defaultMaxBody
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// hostName reports whether s is made of host-name characters only.
func hostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}
