package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
)

// receivedHeader builds our Received field (RFC 5321 4.4, with the
// protocol names of RFC 3848). On an inbound listener the client is named
// by its forward-confirmed reverse DNS name, or "unknown".
func (s *session) receivedHeader(id string, rcpts int, firstRcpt string, now time.Time) string {
	proto := "ESMTP"
	state, isTLS := s.tlsState()
	switch {
	case isTLS && s.user != nil:
		proto = "ESMTPSA"
	case isTLS:
		proto = "ESMTPS"
	case s.user != nil:
		proto = "ESMTPA"
	}
	helo := sanitizeHeaderText(s.conn.Hostname())
	client := addressLiteral(s.ip)
	if s.lo.Mode == ModeInbound {
		// As Postfix writes it: the forward-confirmed name or "unknown".
		client = s.clientName() + " " + client
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s (%s)\r\n\tby %s (bridgehead) with %s id %s", helo, client, s.gw.opts.Hostname, proto, id)
	if isTLS {
		fmt.Fprintf(&b, "\r\n\t(using %s with cipher %s)", tlsVersionName(state.Version), tls.CipherSuiteName(state.CipherSuite))
	}
	if rcpts == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", sanitizeHeaderText(firstRcpt))
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", now.Format(time.RFC1123Z))
	return b.String()
}

// sanitizeHeaderText keeps client-supplied text from breaking a header.
func sanitizeHeaderText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '(' || r == ')' || r == '<' || r == '>' {
			return '_'
		}
		return r
	}, s)
}

// countReceived counts the Received fields, for loop detection.
func countReceived(h *textproto.Header) int {
	return len(h.Values("Received"))
}

// fromAddresses parses the From field; ok is false when it is missing or
// unparsable.
func fromAddresses(h *textproto.Header) ([]string, bool) {
	vals := h.Values("From")
	if len(vals) != 1 {
		return nil, false
	}
	list, err := parseAddressList(vals[0])
	if err != nil || len(list) == 0 {
		return nil, false
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Address
	}
	return out, true
}

// parseAddressList reads an address list whatever charset its display
// names are encoded in: only the addresses matter here, and net/mail alone
// knows no more than UTF-8, US-ASCII and ISO-8859-1, so it would refuse a
// From field with, say, a windows-1252 or ISO-2022-JP name.
func parseAddressList(s string) ([]*mail.Address, error) {
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(charset string, input io.Reader) (io.Reader, error) { return input, nil },
	}}
	return p.ParseList(s)
}

// addressLiteral writes an IP as an RFC 5321 address literal: [192.0.2.1]
// or [IPv6:2001:db8::1].
func addressLiteral(ip netip.Addr) string {
	if ip.Is6() && !ip.Is4In6() {
		return "[IPv6:" + ip.String() + "]"
	}
	return "[" + ip.Unmap().String() + "]"
}
