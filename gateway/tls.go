package gateway

import (
	"crypto/tls"
	"net"
)

// newTLSListener wraps accepted connections in server-side TLS. The
// handshake happens in go-smtp's connection goroutine, under its timeouts.
func newTLSListener(l net.Listener, cfg *tls.Config) net.Listener {
	return tls.NewListener(l, cfg)
}

// tlsVersionName names a TLS version for logs and Received headers.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return "TLS"
}
