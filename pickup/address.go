package pickup

import (
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
)

// addressParser reads addresses whatever charset their display names are
// in: only the addresses matter here, and net/mail alone knows no more
// than UTF-8, US-ASCII and ISO-8859-1.
func addressParser() *mail.AddressParser {
	return &mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(charset string, input io.Reader) (io.Reader, error) { return input, nil },
	}}
}

// parseList reads an address list (groups allowed; an empty group such as
// "undisclosed-recipients:;" yields nothing) and checks each address.
func parseList(field, s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	list, err := addressParser().ParseList(s)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot parse %q: %w", field, s, err)
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		if err := checkAddress(a.Address); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		out = append(out, a.Address)
	}
	return out, nil
}

// parseSender reads an X-Sender value: one address, or "<>" (or nothing)
// for the null sender.
func parseSender(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "<>" {
		return "", nil
	}
	a, err := addressParser().Parse(s)
	if err != nil {
		return "", fmt.Errorf("X-Sender: cannot parse %q: %w", s, err)
	}
	if err := checkAddress(a.Address); err != nil {
		return "", fmt.Errorf("X-Sender: %w", err)
	}
	return a.Address, nil
}

// checkAddress refuses what cannot be an envelope address: no domain, a
// domain that is no host name or address literal, control characters,
// spaces or angle brackets, or more than RFC 5321 allows.
func checkAddress(a string) error {
	local, domain, ok := cutLast(a, "@")
	switch {
	case !ok || local == "" || domain == "":
		return fmt.Errorf("address %q: want local-part@domain", a)
	case len(a) > 254 || len(local) > 64:
		return fmt.Errorf("address %q: too long", a)
	case strings.ContainsFunc(a, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '<' || r == '>' }):
		return fmt.Errorf("address %q: control character, space or angle bracket", a)
	case !validDomain(domain):
		return fmt.Errorf("address %q: %q is not a domain", a, domain)
	}
	return nil
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// validDomain accepts a host name (labels of letters, digits, '-', '_' or
// non-ASCII for IDNs) or an address literal in brackets.
func validDomain(d string) bool {
	if strings.HasPrefix(d, "[") {
		return strings.HasSuffix(d, "]") && len(d) > 2
	}
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r >= 0x80) {
				return false
			}
		}
	}
	return true
}
