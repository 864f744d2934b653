// Package mailtext holds small helpers for text bridgehead writes into
// header fields, reports and tables.
package mailtext

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// OneLine replaces line breaks and other control characters with spaces,
// so that s cannot start a new header field or table row.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// MessageID makes a Message-ID (with its angle brackets) for a message that
// has none (RFC 6409 8.3): the queue id, some randomness and our host name.
func MessageID(queueID, hostname string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	r := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	return "<" + queueID + "." + r + "@" + hostname + ">"
}
