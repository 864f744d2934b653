package main

import (
	"net"
	"strconv"

	"bridgehead.dev/bridgehead/autoconfig"
)

// AutoconfigConfig is autoconfig: the HTTP(S) listener that tells mail
// clients how to connect; off while Address is empty.
type AutoconfigConfig struct {
	// Address is host:port to serve on; "" = off.
	Address string `yaml:"address"`
	// TLS serves HTTPS with the listeners' certificate (tls.cert_file);
	// false serves plain HTTP, which Thunderbird tries too.
	TLS bool `yaml:"tls"`
	// DisplayName names the provider in clients; default the first domain.
	DisplayName string `yaml:"display_name"`
	// IMAP is the store clients read mail from over IMAP; default
	// auth.imap's address when that is set.
	IMAP *AutoconfigStoreConfig `yaml:"imap"`
	// POP3 is the store clients read mail from over POP3; optional.
	POP3 *AutoconfigStoreConfig `yaml:"pop3"`
	// Submission is where clients send: bridgehead itself.
	Submission AutoconfigSubmissionConfig `yaml:"submission"`
	// Username is what clients log in with: "address" (default) or
	// "localpart".
	Username string `yaml:"username"`
}

// AutoconfigStoreConfig is autoconfig.imap or autoconfig.pop3.
type AutoconfigStoreConfig struct {
	// Host is the name clients connect to.
	Host string `yaml:"host"`
	// Port defaults to 993/995 for implicit TLS, 143/110 for starttls.
	Port int `yaml:"port"`
	// TLS is "implicit" (default) or "starttls".
	TLS string `yaml:"tls"`
}

// AutoconfigSubmissionConfig is autoconfig.submission.
type AutoconfigSubmissionConfig struct {
	// Host is the name clients send to; default hostname.
	Host string `yaml:"host"`
	// TLSPort is the implicit-TLS port clients use; default the port of
	// the first listener of mode submissions. Set it when a load balancer
	// or NAT shows clients another port.
	TLSPort int `yaml:"tls_port"`
	// StartTLSPort is the STARTTLS port clients use; default the port of
	// the first listener of mode submission.
	StartTLSPort int `yaml:"starttls_port"`
}

// setAutoconfigDefaults fills in autoconfig's defaults.
func (c *Config) setAutoconfigDefaults() {
	a := &c.Autoconfig
	setZero(&a.Username, string(autoconfig.UsernameAddress))
	setZero(&a.Submission.Host, c.Hostname)
	if a.IMAP == nil && c.Auth.IMAP.Address != "" {
		if host, port, err := net.SplitHostPort(c.Auth.IMAP.Address); err == nil {
			n, _ := strconv.Atoi(port)
			a.IMAP = &AutoconfigStoreConfig{Host: host, Port: n, TLS: c.Auth.IMAP.TLS}
		}
	}
	for _, s := range []struct {
		cfg                *AutoconfigStoreConfig
		implicit, starttls int
	}{{a.IMAP, 993, 143}, {a.POP3, 995, 110}} {
		if s.cfg == nil {
			continue
		}
		setZero(&s.cfg.TLS, "implicit")
		if s.cfg.TLS == "starttls" {
			setZero(&s.cfg.Port, s.starttls)
		} else {
			setZero(&s.cfg.Port, s.implicit)
		}
	}
	for _, l := range c.Listeners {
		_, port, err := net.SplitHostPort(l.Address)
		n, _ := strconv.Atoi(port)
		if err != nil || n == 0 {
			continue
		}
		switch l.Mode {
		case ModeSubmissions:
			setZero(&a.Submission.TLSPort, n)
		case ModeSubmission:
			setZero(&a.Submission.StartTLSPort, n)
		}
	}
}

// validateAutoconfig checks autoconfig.
func (c *Config) validateAutoconfig(add adder) {
	a := c.Autoconfig
	if a.Username != string(autoconfig.UsernameAddress) && a.Username != string(autoconfig.UsernameLocalPart) {
		add(p("autoconfig", "username"), "autoconfig.username %q: want address or localpart", a.Username)
	}
	for _, s := range []struct {
		key string
		cfg *AutoconfigStoreConfig
	}{{"imap", a.IMAP}, {"pop3", a.POP3}} {
		if s.cfg == nil {
			continue
		}
		if s.cfg.TLS != "implicit" && s.cfg.TLS != "starttls" {
			add(p("autoconfig", s.key, "tls"), "autoconfig.%s.tls %q: want implicit or starttls", s.key, s.cfg.TLS)
		}
		if s.cfg.Host == "" {
			add(p("autoconfig", s.key), "autoconfig.%s.host is required", s.key)
		} else if !validDomain(s.cfg.Host) {
			add(p("autoconfig", s.key, "host"), "autoconfig.%s.host %q is not a valid host name", s.key, s.cfg.Host)
		}
		if s.cfg.Port < 1 || s.cfg.Port > 65535 {
			add(p("autoconfig", s.key, "port"), "autoconfig.%s.port %d: want 1 to 65535", s.key, s.cfg.Port)
		}
	}
	sub := a.Submission
	if sub.Host != "" && !validDomain(sub.Host) {
		add(p("autoconfig", "submission", "host"), "autoconfig.submission.host %q is not a valid host name", sub.Host)
	}
	for key, v := range map[string]int{"tls_port": sub.TLSPort, "starttls_port": sub.StartTLSPort} {
		if v < 0 || v > 65535 {
			add(p("autoconfig", "submission", key), "autoconfig.submission.%s %d: want 1 to 65535", key, v)
		}
	}
	if a.Address == "" {
		return
	}
	if err := checkHostPort(a.Address); err != nil {
		add(p("autoconfig", "address"), "autoconfig.address: %v", err)
	}
	if a.TLS && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		add(p("autoconfig", "tls"), "autoconfig.tls needs tls.cert_file and tls.key_file")
	}
	if a.IMAP == nil && a.POP3 == nil {
		add(p("autoconfig"), "autoconfig: imap or pop3 is required (the store clients read mail from)")
	}
	if sub.TLSPort == 0 && sub.StartTLSPort == 0 {
		add(p("autoconfig", "submission"), "autoconfig: no listener of mode submission or submissions, and no autoconfig.submission ports")
	}
}

// autoconfigOptions maps autoconfig onto the handler's options.
func (c *Config) autoconfigOptions() autoconfig.Options {
	a := c.Autoconfig
	store := func(s *AutoconfigStoreConfig) *autoconfig.Server {
		if s == nil {
			return nil
		}
		return &autoconfig.Server{Host: s.Host, Port: s.Port, Security: autoconfig.Security(s.TLS)}
	}
	o := autoconfig.Options{
		Domains:     c.Domains,
		DisplayName: a.DisplayName,
		IMAP:        store(a.IMAP),
		POP3:        store(a.POP3),
		Username:    autoconfig.Username(a.Username),
		OAuth2:      c.Auth.OIDC.Issuer != "",
	}
	// Implicit TLS first (RFC 8314).
	if a.Submission.TLSPort != 0 {
		o.Submission = append(o.Submission, autoconfig.Server{Host: a.Submission.Host, Port: a.Submission.TLSPort, Security: autoconfig.ImplicitTLS})
	}
	if a.Submission.StartTLSPort != 0 {
		o.Submission = append(o.Submission, autoconfig.Server{Host: a.Submission.Host, Port: a.Submission.StartTLSPort, Security: autoconfig.STARTTLS})
	}
	return o
}
