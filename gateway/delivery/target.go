package delivery

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
)

// Target schemes.
const (
	schemeSMTP    = "smtp"
	schemeLMTP    = "lmtp"
	schemeSMTPS   = "smtps"
	schemeMailbox = "mailbox"
	// schemeMX is direct delivery to the recipient domain's mail
	// exchangers; its target stands for every MX, each host it reaches
	// becomes an smtp target of its own (see mxHost).
	schemeMX = "mx"
)

var defaultPorts = map[string]string{schemeSMTP: "25", schemeLMTP: "24", schemeSMTPS: "465"}

// target is one place to deliver to, parsed from a Route.To or a back-end
// URL.
type target struct {
	scheme string
	host   string // without port; "" for mailbox
	addr   string // host:port; "" for mailbox
	tls    TLSPolicy
	roots  *x509.CertPool // nil: system roots
	auth   *Auth          // nil: no AUTH
	mxPort int            // port of the exchangers of an mx target
}

// parseTarget parses "smtp://host[:port]", "lmtp://host[:port]",
// "smtps://host[:port]" or "mailbox:".
func parseTarget(s string) (*target, error) {
	if s == schemeMX {
		return &target{scheme: schemeMX}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("to %q: %w", s, err)
	}
	switch u.Scheme {
	case schemeMailbox:
		if u.Opaque != "" || u.Host != "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("to %q: mailbox takes no address, write \"mailbox:\"", s)
		}
		return &target{scheme: schemeMailbox}, nil
	case schemeSMTP, schemeLMTP, schemeSMTPS:
	default:
		return nil, fmt.Errorf("to %q: unknown scheme %q (want smtp, lmtp, smtps, mailbox or mx)", s, u.Scheme)
	}
	if u.Opaque != "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("to %q: want %s://host:port and nothing else", s, u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, fmt.Errorf("to %q: no host", s)
	}
	if port == "" {
		port = defaultPorts[u.Scheme]
	}
	return &target{scheme: u.Scheme, host: host, addr: net.JoinHostPort(host, port)}, nil
}

// policy checks p against the scheme and fills in the default.
func (t *target) policy(p TLSPolicy) (TLSPolicy, error) {
	switch t.scheme {
	case schemeMailbox:
		if p != "" {
			return "", fmt.Errorf("tls %q: mailbox has no TLS", p)
		}
		return "", nil
	case schemeSMTPS:
		switch p {
		case "":
			return PolicyRequired, nil
		case PolicyRequired, PolicyVerify:
			return p, nil
		case PolicyNone, PolicyOpportunistic:
			return "", fmt.Errorf("tls %q: smtps always uses TLS (want %q or %q)", p, PolicyRequired, PolicyVerify)
		}
	default:
		switch p {
		case "":
			return PolicyOpportunistic, nil
		case PolicyNone, PolicyOpportunistic, PolicyRequired, PolicyVerify:
			return p, nil
		}
	}
	return "", fmt.Errorf("tls %q: unknown policy (want none, opportunistic, required or verify)", p)
}

// key names the destination for limits and logs: "scheme://host:port",
// "mailbox:" or "mx".
func (t *target) key() string {
	switch t.scheme {
	case schemeMailbox:
		return "mailbox:"
	case schemeMX:
		return schemeMX
	}
	return t.scheme + "://" + t.addr
}

// poolKey names what a connection to t is bound to: the address, the
// name its certificate is checked for, the TLS policy and the login.
// Sessions are shared only between targets of the same poolKey.
func (t *target) poolKey() string {
	k := t.key() + " " + t.host + " " + string(t.tls)
	if t.auth != nil {
		k += " " + t.auth.Username
	}
	return k
}

// mxHost is the smtp target for one address of exchanger host of the mx
// target t: certificates are checked for host's name (verify), the
// connection goes to addr.
func (t *target) mxHost(host, addr string) *target {
	return &target{scheme: schemeSMTP, host: host, addr: addr, tls: t.tls, roots: t.roots}
}

// tlsConfig returns the client TLS configuration for the target's policy.
func (t *target) tlsConfig() *tls.Config {
	if t.tls == PolicyVerify {
		return &tls.Config{ServerName: t.host, RootCAs: t.roots, MinVersion: tls.VersionTLS12}
	}
	// Opportunistic and required: encryption without authentication, the
	// back end's certificate is not checked.
	return &tls.Config{ServerName: t.host, InsecureSkipVerify: true} //nolint:gosec // policy says so
}
