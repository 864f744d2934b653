package ndr

import (
	"errors"
	"strings"
)

// ErrBadXtext is returned by DecodeXtext for text that is not xtext.
var ErrBadXtext = errors.New("ndr: malformed xtext")

// DecodeXtext decodes RFC 3461 xtext, the encoding of the ENVID and ORCPT
// parameters: "+" followed by two upper-case hex digits stands for that
// octet. The gateway decodes the parameters with it before they go into a
// Report (EnvelopeID, OriginalRecipient).
func DecodeXtext(s string) (string, error) {
	if !strings.Contains(s, "+") {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < '!' || c > '~' || c == '=' {
				return "", ErrBadXtext
			}
		}
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
				return "", ErrBadXtext
			}
			b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
			i += 2
		case c < '!' || c > '~' || c == '=':
			return "", ErrBadXtext
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// unhex is the value of an upper-case hex digit, or -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
