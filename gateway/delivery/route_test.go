package delivery

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRouterMatch(t *testing.T) {
	t.Parallel()
	a, b, star, named := &target{addr: "a"}, &target{addr: "b"}, &target{addr: "*"}, &target{addr: "named"}
	r := router{
		routes: []routeEntry{
			{domains: []string{"example.test", "other.test"}, target: a},
			{domains: []string{"example.test", "b.test"}, target: b},
			{domains: []string{"*"}, target: star},
		},
		backends: map[string]*target{"store1": named},
	}
	for _, tc := range []struct {
		backend, addr string
		want          *target
		unknown       bool
	}{
		{"", "alice@example.test", a, false}, // first match wins
		{"", "Alice@EXAMPLE.Test", a, false}, // domains compare lower-case
		{"", "bob@b.test", b, false},
		{"", "carol@other.test", a, false},
		{"", "dave@elsewhere.test", star, false},       // "*" fallback
		{"", "sub@x.example.test", star, false},        // no subdomain matching
		{"", "postmaster", star, false},                // no domain: only "*"
		{"store1", "alice@example.test", named, false}, // back end overrides routes
		{"nosuch", "alice@example.test", a, true},      // unknown back end: routes
		{"", "weird@a@example.test", a, false},         // last @ counts
	} {
		got, unknown := r.lookup(tc.backend, tc.addr)
		if got != tc.want || unknown != tc.unknown {
			t.Errorf("lookup(%q, %q) = %v, %v; want %v, %v", tc.backend, tc.addr, got, unknown, tc.want, tc.unknown)
		}
	}
	noStar := router{routes: r.routes[:2]}
	if got, _ := noStar.lookup("", "x@nowhere.test"); got != nil {
		t.Errorf("no route: got %v, want nil", got)
	}
}

func TestParseTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, key, host string }{
		{"smtp://mx.example.test", "smtp://mx.example.test:25", "mx.example.test"},
		{"lmtp://10.0.0.5:24", "lmtp://10.0.0.5:24", "10.0.0.5"},
		{"lmtp://[::1]:2424/", "lmtp://[::1]:2424", "::1"},
		{"smtps://smart.example.net", "smtps://smart.example.net:465", "smart.example.net"},
		{"mailbox:", "mailbox:", ""},
	} {
		got, err := parseTarget(tc.in)
		if err != nil {
			t.Errorf("parseTarget(%q): %v", tc.in, err)
			continue
		}
		if got.key() != tc.key || got.host != tc.host {
			t.Errorf("parseTarget(%q) = %s host %q; want %s host %q", tc.in, got.key(), got.host, tc.key, tc.host)
		}
	}
	for _, in := range []string{"", "smtp://", "http://x:80", "smtp://u:p@x:25", "smtp://x:25/path", "smtp://x:25?a=b", "mailbox:x", "mailbox://x", "lmtp:x"} {
		if _, err := parseTarget(in); err == nil {
			t.Errorf("parseTarget(%q): no error", in)
		}
	}
}

type nopMailbox struct{}

func (nopMailbox) DeliverMailbox(context.Context, string, io.Reader) error { return nil }

func TestValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := Options{
		Routes: []Route{
			{Domains: []string{"example.test"}, To: "lmtp://127.0.0.1:24"},
			{Domains: []string{"dev.test"}, To: "mailbox:"},
			{Domains: []string{"*"}, To: "smtps://smart.example.net", TLS: PolicyVerify},
		},
		Backends: map[string]string{"store1": "smtp://10.0.0.6:25"},
		Mailbox:  nopMailbox{},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, tc := range []struct {
		name string
		opts Options
		want []string // substrings of the error
	}{
		{"unknown scheme", Options{Routes: []Route{{Domains: []string{"a.test"}, To: "smtp://x:25"}, {Domains: []string{"b.test"}, To: "imap://x:143"}}},
			[]string{"route 2", "b.test", `unknown scheme "imap"`}},
		{"bad url", Options{Routes: []Route{{Domains: []string{"a.test"}, To: "smtp://x:notaport"}}}, []string{"route 1", "a.test"}},
		{"bad policy", Options{Routes: []Route{{Domains: []string{"a.test"}, To: "smtp://x", TLS: "sometimes"}}}, []string{"route 1", `tls "sometimes"`}},
		{"smtps without tls", Options{Routes: []Route{{Domains: []string{"a.test"}, To: "smtps://x", TLS: PolicyNone}}}, []string{"route 1", "smtps always uses TLS"}},
		{"missing ca", Options{Routes: []Route{{Domains: []string{"a.test"}, To: "smtp://x", TLS: PolicyVerify, CAFile: filepath.Join(dir, "nope.pem")}}}, []string{"route 1", "nope.pem"}},
		{"ca not pem", Options{Routes: []Route{{Domains: []string{"a.test"}, To: "smtp://x", TLS: PolicyVerify, CAFile: notPEM}}}, []string{"route 1", "no PEM certificates"}},
		{"ca without verify", Options{Routes: []Route{{Domains: []string{"a.test"}, To: "smtp://x", CAFile: notPEM}}}, []string{"route 1", "only used with tls"}},
		{"mailbox without store", Options{Routes: []Route{{Domains: []string{"a.test"}, To: "mailbox:"}}}, []string{"route 1", "no mailbox store"}},
		{"no domains", Options{Routes: []Route{{To: "smtp://x"}}}, []string{"route 1", "no domains"}},
		{"upper-case domain", Options{Routes: []Route{{Domains: []string{"A.test"}, To: "smtp://x"}}}, []string{"route 1", `domain "A.test"`}},
		{"bad backend", Options{Backends: map[string]string{"store9": "ftp://x"}}, []string{`backend "store9"`, "unknown scheme"}},
		{"negative limit", Options{MaxPerRoute: -1}, []string{"max per route"}},
	} {
		err := tc.opts.Validate()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tc.name, err, w)
			}
		}
		if _, err := New(tc.opts); err == nil {
			t.Errorf("%s: New accepted invalid options", tc.name)
		}
	}
}
