package gateway

import (
	"bufio"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"
)

func TestValidAddress(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"alice@example.test":            true,
		"a.smith+tag@sub.example.test":  true,
		"Alice@EXAMPLE.test":            true,
		"alice@example.test.":           true,
		"alice@[192.0.2.1]":             true,
		"alice@[IPv6:2001:db8::1]":      true,
		"j\u00f6rg@b\u00fccher.example": true,
		"\"a b\"@example.test":          false, // quoted local parts with spaces are refused
		"a@b@example.test":              true,  // the last @ splits
		"@example.test":                 false,
		"alice@":                        false,
		"alice":                         false,
		"":                              false,
		"alice@-example.test":           false,
		"alice@example-.test":           false,
		"alice@exa_mple.test":           false,
		"alice@example..test":           false,
		"alice@.example.test":           false,
		"alice@example.test\r\n":        false,
		"ali\x00ce@example.test":        false,
		"alice@" + strings.Repeat("a", 64) + ".test": false,
		"alice@" + strings.Repeat("a", 63) + ".test": true,
		strings.Repeat("a", 250) + "@b.test":         false,
		strings.Repeat("a", 247) + "@b.test":         true,
	}
	for addr, want := range tests {
		if got := validAddress(addr); got != want {
			t.Errorf("validAddress(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestDomainOf(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"alice@example.test":   "example.test",
		"alice@Example.TEST":   "example.test",
		"alice@example.test.":  "example.test",
		"a@b@example.test":     "example.test",
		"alice":                "",
		"alice@":               "",
		"alice@[192.0.2.1]":    "[192.0.2.1]",
		"\"x@y\"@example.test": "example.test",
	}
	for addr, want := range tests {
		if got := domainOf(addr); got != want {
			t.Errorf("domainOf(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestReadHeaderBlock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, header, rest string
	}{
		{"header and body", "A: 1\r\nB: 2\r\n\r\nbody\r\n", "A: 1\r\nB: 2\r\n\r\n", "body\r\n"},
		{"empty body", "A: 1\r\n\r\n", "A: 1\r\n\r\n", ""},
		{"no body", "A: 1\r\nB: 2\r\n", "A: 1\r\nB: 2\r\n", ""},
		{"no empty line, no final CRLF", "A: 1", "A: 1\r\n", ""},
		{"empty message", "", "", ""},
		{"empty header", "\r\nbody\r\n", "\r\n", "body\r\n"},
		{"folded", "A: 1\r\n 2\r\n\r\nbody\r\n\r\nmore\r\n", "A: 1\r\n 2\r\n\r\n", "body\r\n\r\nmore\r\n"},
		// A header line longer than the reader's buffer: its last two
		// bytes alone are no empty line.
		{"long line", "X: " + strings.Repeat("y", 40) + "\r\nB: 2\r\n\r\nbody\r\n", "X: " + strings.Repeat("y", 40) + "\r\nB: 2\r\n\r\n", "body\r\n"},
		{"line as long as the buffer", "X: " + strings.Repeat("y", 13) + "\r\nB: 2\r\n\r\nbody\r\n", "X: " + strings.Repeat("y", 13) + "\r\nB: 2\r\n\r\n", "body\r\n"},
	}
	for _, tt := range tests {
		for _, small := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.in)
			if small {
				r = iotest.OneByteReader(r)
			}
			br := bufio.NewReaderSize(r, 16) // the smallest bufio allows
			got, err := readHeaderBlock(br)
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
				continue
			}
			rest, _ := io.ReadAll(br)
			if string(got) != tt.header || string(rest) != tt.rest {
				t.Errorf("%s (one byte at a time %v): header %q rest %q, want %q and %q", tt.name, small, got, rest, tt.header, tt.rest)
			}
		}
	}
}

func TestReadHeaderBlockLimits(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("X: "+strings.Repeat("y", 995)+"\r\n", maxHeaderBytes/1000+1) + "\r\nbody\r\n"
	if _, err := readHeaderBlock(bufio.NewReader(strings.NewReader(huge))); err != replyBadHeader {
		t.Errorf("header over %d bytes: err = %v, want replyBadHeader", maxHeaderBytes, err)
	}
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("A: 1\r\n"), iotest.ErrReader(boom))
	if _, err := readHeaderBlock(bufio.NewReader(r)); !errors.Is(err, boom) {
		t.Errorf("read error: err = %v, want it passed on", err)
	}
}

func TestSanitizeHeaderText(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"client.example.net":          "client.example.net",
		"evil\r\nBcc: x@example.test": "evil__Bcc: x@example.test",
		"a(comment)b":                 "a_comment_b",
		"<x@y>":                       "_x@y_",
		"tab\there":                   "tab_here",
		"nul\x00del\x7f":              "nul_del_",
		"b\u00fccher.example":         "b\u00fccher.example",
		"[192.0.2.1]":                 "[192.0.2.1]",
	}
	for in, want := range tests {
		if got := sanitizeHeaderText(in); got != want {
			t.Errorf("sanitizeHeaderText(%q) = %q, want %q", in, got, want)
		}
	}
}

// A HELO name with what would break the Received header out of its
// comment or field arrives sanitised.
func TestReceivedHeaderSanitised(t *testing.T) {
	t.Parallel()
	tg := startGateway(t, func(s *setup) { s.Opts.Resolver = fakeResolver{} })
	c := tg.greeted(t, lnInbound)
	if r := c.cmd("EHLO evil)\rX-Injected:(<x>\x01"); r.code != 250 {
		t.Fatalf("EHLO = %v", r)
	}
	if r := c.send1("x@sender.example", []string{alice}, message("x@sender.example", "helo")); r.code != 250 {
		t.Fatalf("DATA = %v", r)
	}
	data := string(tg.onlyQueued(t).data)
	if !strings.HasPrefix(data, "Received: from evil__X-Injected:__x__ (unknown [127.0.0.1])\r\n") {
		t.Errorf("Received header not sanitised:\n%q", data)
	}
	checkCRLF(t, []byte(data))
}

func TestStrictReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in  string
		err error
	}{
		{"", nil},
		{"a\r\nb\r\n", nil},
		{"\r\n\r\n", nil},
		{"a\nb\r\n", errBareLF},
		{"\n", errBareLF},
		{"a\rb\r\n", errBareLF},
		{"a\r\r\n", errBareLF},
		{"a\r", errBareLF},
		{strings.Repeat("x", 8) + "\r\n", nil}, // 10 bytes with CRLF: the limit
		{strings.Repeat("x", 9) + "\r\n", errLineTooLong}, // 11
		{strings.Repeat("x", 8) + "\r\n" + strings.Repeat("y", 8) + "\r\n", nil},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			got, err := io.ReadAll(&strictReader{r: r, maxLine: 10})
			if !errors.Is(err, tt.err) || tt.err == nil && err != nil {
				t.Errorf("%q (one byte %v): err = %v, want %v", tt.in, oneByte, err, tt.err)
			}
			if tt.err == nil && string(got) != tt.in {
				t.Errorf("%q: read %q", tt.in, got)
			}
		}
	}
}

func TestLimitsValidate(t *testing.T) {
	t.Parallel()
	if err := (Limits{}).validate(); err != nil {
		t.Errorf("zero limits: %v", err)
	}
	for _, l := range []Limits{
		{MaxConnections: -1}, {MaxMessageSize: -1}, {MaxLineLength: 999}, {IdleTimeout: -1},
	} {
		if err := l.validate(); err == nil {
			t.Errorf("%+v: no error", l)
		}
	}
	got := Limits{MaxRecipients: 7}.withDefaults()
	want := DefaultLimits()
	want.MaxRecipients = 7
	if got != want {
		t.Errorf("withDefaults = %+v, want %+v", got, want)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	srv, _ := makeCert(t)
	bad := []Options{
		{},
		{Hostname: "h", Listeners: []ListenerOptions{{Name: "", Address: "127.0.0.1:1", Mode: ModeInbound}}},
		{Hostname: "h", Listeners: []ListenerOptions{{Name: "a", Address: "nope", Mode: ModeInbound}}},
		{Hostname: "h", Listeners: []ListenerOptions{{Name: "a", Address: "127.0.0.1:1", Mode: "smtp"}}},
		{Hostname: "h", Listeners: []ListenerOptions{{Name: "a", Address: "127.0.0.1:1", Mode: ModeSubmission}}},
		{Hostname: "h", Listeners: []ListenerOptions{
			{Name: "a", Address: "127.0.0.1:1", Mode: ModeInbound},
			{Name: "a", Address: "127.0.0.1:2", Mode: ModeSubmissions, TLSConfig: srv},
		}},
	}
	for i, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("options %d: no error", i)
		}
	}
	o := Options{Hostname: "h", Domains: []string{"Example.TEST."}}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.Domains[0] != "example.test" || o.MaxHops != 50 || o.ShutdownGrace == 0 || o.Logger == nil {
		t.Errorf("defaults not filled: %+v", o)
	}
}

func TestAddressLiteral(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.1":        "[192.0.2.1]",
		"::ffff:192.0.2.1": "[192.0.2.1]",
		"2001:db8::1":      "[IPv6:2001:db8::1]",
		"::1":              "[IPv6:::1]",
	} {
		if got := addressLiteral(netip.MustParseAddr(in)); got != want {
			t.Errorf("addressLiteral(%s) = %s, want %s", in, got, want)
		}
	}
}
