package protolog

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzLine feeds client-controlled values (EHLO name, addresses, login)
// through the formatter: every line must stay one line of exactly the
// #Fields count, whatever the client sent.
func FuzzLine(f *testing.F) {
	for _, s := range []string{"", "client.example", "FROM:<a@b> SIZE=1", "evil\r\n2026-01-01 00:00:00 x", "\x00\t\v\f", "ü ñ 😀", "-"} {
		f.Add(s, s)
	}
	want := len(strings.Fields(Fields))
	f.Fuzz(func(t *testing.T, user, query string) {
		e := Entry{Time: time.Unix(0, 0), Username: user, Query: query, Method: "MAIL", Status: 250}
		line := appendLine(nil, &e, "site", "host")
		body, ok := bytes.CutSuffix(line, []byte("\r\n"))
		if !ok {
			t.Fatalf("line %q does not end in CRLF", line)
		}
		if bytes.ContainsAny(body, "\r\n") {
			t.Fatalf("line %q holds a line break", line)
		}
		if n := len(strings.Split(string(body), " ")); n != want {
			t.Fatalf("line %q has %d fields, want %d", line, n, want)
		}
	})
}
