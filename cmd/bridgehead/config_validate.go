package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// p makes a path for lineOf and errAt.
func p(steps ...any) []any { return steps }

// validate reports everything wrong with c, each error at the line of the
// offending key.
func (c *Config) validate() error {
	var errs []error
	add := func(path []any, format string, args ...any) {
		errs = append(errs, c.errAt(path, format, args...))
	}

	switch {
	case c.Hostname == "":
		add(p("hostname"), "hostname is required")
	case !validDomain(c.Hostname):
		add(p("hostname"), "hostname %q is not a valid host name", c.Hostname)
	}
	if c.StateDir == "" {
		add(p("state_dir"), "state_dir is required")
	}
	c.validateListeners(add)
	if len(c.Domains) == 0 {
		add(p("domains"), "domains: at least one accepted domain is required")
	}
	for i, d := range c.Domains {
		if !validDomain(d) {
			add(p("domains", i), "domains: %q is not a valid domain name", d)
		}
	}
	c.validateDirectory(add)
	c.validateAuth(add)
	c.validateFilters(add)

	if c.NDR.Postmaster != "" && !strings.Contains(c.NDR.Postmaster, "@") {
		add(p("ndr", "postmaster"), "ndr.postmaster %q is not an address", c.NDR.Postmaster)
	}
	if c.NDR.Language != "en" && c.NDR.Language != "de" {
		add(p("ndr", "language"), "ndr.language %q: want en or de", c.NDR.Language)
	}
	for d, lang := range c.NDR.Languages {
		if lang != "en" && lang != "de" {
			add(p("ndr", "languages", d), "ndr.languages.%s %q: want en or de", d, lang)
		}
	}
	if c.Mailboxstore.Retention < 0 {
		add(p("mailboxstore", "retention"), "mailboxstore.retention must not be negative")
	}
	if a := c.Mailboxstore.IMAPAddress; a != "" {
		if err := checkHostPort(a); err != nil {
			add(p("mailboxstore", "imap_address"), "mailboxstore.imap_address: %v", err)
		}
	}
	if err := checkHostPort(c.Admin.Address); err != nil {
		add(p("admin", "address"), "admin.address: %v", err)
	}
	for i, d := range c.Queue.Retry {
		if d <= 0 {
			add(p("queue", "retry", i), "queue.retry: %v must be positive", d)
		}
	}
	if c.Queue.Expire <= 0 {
		add(p("queue", "expire"), "queue.expire: %v must be positive", c.Queue.Expire)
	}
	if c.Queue.DelayNotice < 0 {
		add(p("queue", "delay_notice"), "queue.delay_notice: %v must not be negative", c.Queue.DelayNotice)
	}
	if s := c.Queue.JournalMessageSize; s < 0 || s > maxJournalMessageSize {
		add(p("queue", "journal_message_size"), "queue.journal_message_size: %v must be between 0 and %v", s, Size(maxJournalMessageSize))
	}
	c.validateRoutes(add)
	c.validateProtocolLogs(add)
	c.validateDNS(add)
	c.validateAdmin(add)
	c.validateAutoconfig(add)
	c.validatePickup(add)
	return errors.Join(errs...)
}

// adder records an error at the line of path.
type adder func(path []any, format string, args ...any)

// validateListeners checks listeners.
func (c *Config) validateListeners(add adder) {
	if len(c.Listeners) == 0 {
		add(p("listeners"), "listeners: at least one listener is required")
	}
	seen := map[string]bool{}
	for i, l := range c.Listeners {
		at := func(steps ...any) []any { return append(p("listeners", i), steps...) }
		switch {
		case l.Name == "":
			add(at("name"), "listener %d: name is required", i+1)
		case seen[l.Name]:
			add(at("name"), "listener %q: name used twice", l.Name)
		}
		seen[l.Name] = true
		name := l.Name
		if name == "" {
			name = strconv.Itoa(i + 1)
		}
		if err := checkHostPort(l.Address); err != nil {
			add(at("address"), "listener %q: address: %v", name, err)
		}
		switch l.Mode {
		case ModeSubmission, ModeSubmissions:
			if c.TLS.CertFile == "" || c.TLS.KeyFile == "" {
				add(at("mode"), "listener %q: mode %s needs tls.cert_file and tls.key_file", name, l.Mode)
			}
		case ModeInbound:
		case "":
			add(at("mode"), "listener %q: mode is required (submission, submissions or inbound)", name)
		default:
			add(at("mode"), "listener %q: mode %q: want submission, submissions or inbound", name, l.Mode)
		}
		validateAccess(add, i, name, l)
		validateInbound(add, i, name, l)
		lim := l.Limits
		for key, v := range map[string]int64{
			"max_connections":             int64(lim.MaxConnections),
			"max_connections_per_ip":      int64(lim.MaxConnectionsPerIP),
			"max_message_size":            int64(lim.MaxMessageSize),
			"max_recipients":              int64(lim.MaxRecipients),
			"max_messages_per_connection": int64(lim.MaxMessagesPerConnection),
			"idle_timeout":                int64(lim.IdleTimeout),
			"write_timeout":               int64(lim.WriteTimeout),
			"data_timeout":                int64(lim.DataTimeout),
		} {
			if v < 0 {
				add(at("limits", key), "listener %q: limits.%s must not be negative", name, key)
			}
		}
		if lim.MaxLineLength < 1000 {
			add(at("limits", "max_line_length"), "listener %q: limits.max_line_length %d: must be at least 1000 (RFC 5321)", name, lim.MaxLineLength)
		}
		for j, f := range l.Filters {
			switch f {
			case FilterAttachments:
			case FilterClamAV:
				if c.Filters.ClamAV.Address == "" {
					add(at("filters", j), "listener %q: filter clamav needs filters.clamav.address", name)
				}
			case FilterRspamd:
				if c.Filters.Rspamd.URL == "" {
					add(at("filters", j), "listener %q: filter rspamd needs filters.rspamd.url", name)
				}
			default:
				add(at("filters", j), "listener %q: filter %q: want attachments, clamav or rspamd", name, f)
			}
		}
		for j, m := range l.AuthMethods {
			if m != AuthDirectory && m != AuthIMAP {
				add(at("auth_methods", j), "listener %q: auth method %q: want directory or imap", name, m)
			} else if m == AuthIMAP && c.Auth.IMAP.Address == "" {
				add(at("auth_methods", j), "listener %q: auth method imap needs auth.imap.address", name)
			}
		}
	}
}

// validateDirectory checks directory.
func (c *Config) validateDirectory(add adder) {
	d := c.Directory
	switch {
	case d.Static != nil && d.LDAP != nil:
		add(p("directory", "ldap"), "directory: give static or ldap, not both")
	case d.Static == nil && d.LDAP == nil:
		add(p("directory"), "directory: static or ldap is required")
	case d.Static != nil && d.Static.File == "":
		add(p("directory", "static"), "directory.static.file is required")
	case d.LDAP != nil:
		err := d.LDAP.options().Validate()
		if err == nil {
			return
		}
		msgs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			msgs = j.Unwrap()
		}
		for _, e := range msgs {
			add(p("directory", "ldap", ldapKeyOf(e.Error())), "directory.ldap: %v", e)
		}
	}
}

// validateAuth checks auth.
func (c *Config) validateAuth(add adder) {
	for i, m := range c.Auth.Methods {
		if m != AuthDirectory && m != AuthIMAP {
			add(p("auth", "methods", i), "auth.methods: %q: want directory or imap", m)
		} else if m == AuthIMAP && c.Auth.IMAP.Address == "" {
			add(p("auth", "methods", i), "auth method imap needs auth.imap.address")
		}
	}
	if a := c.Auth.IMAP.Address; a != "" {
		if err := checkHostPort(a); err != nil {
			add(p("auth", "imap", "address"), "auth.imap.address: %v", err)
		}
	}
	if c.Auth.CacheTTL < 0 {
		add(p("auth", "cache_ttl"), "auth.cache_ttl: negative")
	}
	to := c.Auth.Throttle.options()
	if err := to.Validate(); err != nil {
		add(p("auth", "throttle"), "auth.throttle: %v", strings.TrimPrefix(err.Error(), "authn: throttle: "))
	}
	if t := c.Auth.IMAP.TLS; t != "implicit" && t != "starttls" {
		add(p("auth", "imap", "tls"), "auth.imap.tls %q: want implicit or starttls", t)
	}
	if o := c.Auth.OIDC; o.Issuer != "" {
		if u, err := url.Parse(o.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
			add(p("auth", "oidc", "issuer"), "auth.oidc.issuer %q: want an https:// URL", o.Issuer)
		}
		if o.Audience == "" {
			add(p("auth", "oidc"), "auth.oidc.audience is required with an issuer")
		}
	} else if o.Audience != "" || o.UsernameClaim != "" || o.CAFile != "" {
		add(p("auth", "oidc"), "auth.oidc.issuer is required")
	}
}

// validateFilters checks filters.
func (c *Config) validateFilters(add adder) {
	for _, kind := range []string{"reject", "strip"} {
		list := c.Filters.Attachments.Reject
		if kind == "strip" {
			list = c.Filters.Attachments.Strip
		}
		for i, ext := range list {
			if ext == "" || strings.ContainsAny(ext, "/\\ ") {
				add(p("filters", "attachments", kind, i), "filters.attachments.%s: %q is not a file name extension", kind, ext)
			}
		}
	}
	if a := c.Filters.ClamAV.Address; a != "" && !strings.HasPrefix(a, "/") {
		// host:port, or the absolute path of clamd's Unix socket
		if err := checkHostPort(a); err != nil {
			add(p("filters", "clamav", "address"), "filters.clamav.address: %v (want host:port or a socket path)", err)
		}
	}
	for _, kind := range []string{"reject_types", "strip_types"} {
		list := c.Filters.Attachments.RejectTypes
		if kind == "strip_types" {
			list = c.Filters.Attachments.StripTypes
		}
		for i, mt := range list {
			if typ, sub, ok := strings.Cut(mt, "/"); !ok || typ == "" || sub == "" || strings.ContainsAny(mt, " ;") {
				add(p("filters", "attachments", kind, i), "filters.attachments.%s: %q is not a media type (type/subtype)", kind, mt)
			}
		}
	}
	if u := c.Filters.Rspamd.URL; u != "" {
		if pu, err := url.Parse(u); err != nil || pu.Scheme != "http" && pu.Scheme != "https" || pu.Host == "" {
			add(p("filters", "rspamd", "url"), "filters.rspamd.url %q: want an http:// or https:// URL", u)
		}
	}
	for _, f := range []string{"clamav", "rspamd"} {
		v := c.Filters.ClamAV.OnError
		if f == "rspamd" {
			v = c.Filters.Rspamd.OnError
		}
		if v != OnErrorTempfail && v != OnErrorAccept {
			add(p("filters", f, "on_error"), "filters.%s.on_error %q: want tempfail or accept", f, v)
		}
	}
}

// validateRoutes checks routes and backends.
func (c *Config) validateRoutes(add adder) {
	for i, r := range c.Routes {
		if len(r.Domains) == 0 {
			add(p("routes", i), "route %d: domains: at least one is required (\"*\" for any)", i+1)
		}
		for j, d := range r.Domains {
			if d != "*" && !validDomain(strings.TrimPrefix(d, "*.")) {
				add(p("routes", i, "domains", j), "route %d: domains: %q is not a domain name, \"*\" or \"*.domain\"", i+1, d)
			}
		}
		for j, s := range r.Senders {
			if !validDomain(s) {
				add(p("routes", i, "senders", j), "route %d: senders: %q is not a domain name", i+1, s)
			}
		}
		c.validateRouteAuth(add, i, r)
		c.validateMXRoute(add, i, r)
		scheme := ""
		if len(r.To) == 0 {
			_, err := checkTarget("")
			add(p("routes", i, "to"), "route %d: to: %v", i+1, err)
		}
		for j, u := range r.To {
			s, err := checkTarget(u)
			if err != nil {
				add(p("routes", i, "to", j), "route %d: to: %v", i+1, err)
				continue
			}
			if s == "mailbox" && len(r.To) > 1 {
				add(p("routes", i, "to", j), "route %d: to: mailbox cannot be one of several targets", i+1)
			}
			if j == 0 || s == "smtps" {
				scheme = s
			}
		}
		switch r.TLS {
		case "":
		case "none", "opportunistic", "required", "verify":
			if scheme == "mailbox" {
				add(p("routes", i, "tls"), "route %d: tls %q: mailbox has no TLS", i+1, r.TLS)
			} else if scheme == "smtps" && (r.TLS == "none" || r.TLS == "opportunistic") {
				add(p("routes", i, "tls"), "route %d: tls %q: smtps always uses TLS (want required or verify)", i+1, r.TLS)
			}
		default:
			add(p("routes", i, "tls"), "route %d: tls %q: want none, opportunistic, required or verify", i+1, r.TLS)
		}
	}
	names := make([]string, 0, len(c.Backends))
	for n := range c.Backends {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if _, err := checkTarget(c.Backends[n]); err != nil {
			add(p("backends", n), "backends.%s: %v", n, err)
		}
	}
}

// checkTarget checks a route or back-end URL and returns its scheme.
func checkTarget(s string) (string, error) {
	if s == "" {
		return "", errors.New("a URL is required (smtp://, smtps://, lmtp://host:port, mailbox: or mx)")
	}
	if s == "mx" {
		return s, nil // direct delivery to the recipient domain's exchangers
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL", s)
	}
	switch u.Scheme {
	case "mailbox":
		if u.Opaque != "" || u.Host != "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return "", fmt.Errorf("%q: mailbox takes no address, write \"mailbox:\"", s)
		}
		return u.Scheme, nil
	case "smtp", "smtps", "lmtp":
	default:
		return "", fmt.Errorf("%q: scheme must be smtp, smtps, lmtp or mailbox", s)
	}
	if u.Opaque != "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want %s://host:port and nothing else", s, u.Scheme)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("%q: no host", s)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q: bad port", s)
		}
	}
	return u.Scheme, nil
}

// checkHostPort checks a host:port listen or dial address.
func checkHostPort(a string) error {
	if a == "" {
		return errors.New("host:port is required")
	}
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q: want host:port", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: bad port", a)
	}
	return nil
}

// validDomain reports whether s is a syntactically valid DNS name.
func validDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
