package filter

import (
	"encoding/base64"
	"strings"
)

// crlf turns the \n of a test message into CRLF.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// b64 is base64 in 76-column lines ending in \n.
func b64(s string) string {
	e := base64.StdEncoding.EncodeToString([]byte(s))
	var sb strings.Builder
	for len(e) > 76 {
		sb.WriteString(e[:76] + "\n")
		e = e[76:]
	}
	sb.WriteString(e + "\n")
	return sb.String()
}

// mixed builds a multipart/mixed message with a text part and the given
// attachment header lines and body.
func mixed(attHeader, attBody string) []byte {
	return crlf("From: a@example.com\n" +
		"To: b@example.org\n" +
		"Subject: test\n" +
		"MIME-Version: 1.0\n" +
		"Content-Type: multipart/mixed; boundary=\"XX\"\n" +
		"\n" +
		"preamble\n" +
		"--XX\n" +
		"Content-Type: text/plain; charset=utf-8\n" +
		"\n" +
		"Hello.\n" +
		"--XX\n" +
		attHeader +
		"\n" +
		attBody +
		"--XX--\n" +
		"epilogue\n")
}
