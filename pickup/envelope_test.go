package pickup

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"
)

// lf joins lines with bare LF, as files usually have them.
func lf(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

// headerText writes h as it goes to the queue.
func headerText(t *testing.T, h textproto.Header) string {
	t.Helper()
	var b bytes.Buffer
	if err := textproto.WriteHeader(&b, h); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestParseEnvelope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		file     []byte
		from     string
		rcpts    []string
		xHeaders bool
		header   string // the header as queued, CRLF
		body     string
	}{
		{
			name: "IIS X-Sender and X-Receiver lines",
			file: lf("x-sender: app@example.test", "x-receiver: bob@example.test", "X-Receiver: <carol@example.test>",
				"From: Someone Else <other@example.test>", "To: list@example.test", "Subject: hi", "", "body"),
			from: "app@example.test", rcpts: []string{"bob@example.test", "carol@example.test"}, xHeaders: true,
			header: "From: Someone Else <other@example.test>\r\nTo: list@example.test\r\nSubject: hi\r\n\r\n",
			body:   "body\r\n",
		},
		{
			name: "X-Receiver only: sender from From",
			file: lf("X-Receiver: bob@example.test", "From: alice@example.test", "Subject: s", "", "b"),
			from: "alice@example.test", rcpts: []string{"bob@example.test"}, xHeaders: true,
			header: "From: alice@example.test\r\nSubject: s\r\n\r\n", body: "b\r\n",
		},
		{
			name: "null sender",
			file: lf("X-Sender: <>", "X-Receiver: bob@example.test", "Subject: s", "", "b"),
			from: "", rcpts: []string{"bob@example.test"}, xHeaders: true,
			header: "Subject: s\r\n\r\n", body: "b\r\n",
		},
		{
			name: "folded X-Receiver with a list",
			file: lf("X-Sender: a@example.test", "X-Receiver: b@example.test,", "\tc@example.test", "Subject: s", "", "b"),
			from: "a@example.test", rcpts: []string{"b@example.test", "c@example.test"}, xHeaders: true,
			header: "Subject: s\r\n\r\n", body: "b\r\n",
		},
		{
			name: "From, To, Cc, Bcc with Bcc stripped",
			file: lf("From: Alice <alice@example.test>", "To: bob@example.test, Carol <carol@example.test>",
				"Cc: dave@example.test", "Bcc: eve@example.test", "Subject: s", "", "line one", "line two"),
			from:   "alice@example.test",
			rcpts:  []string{"bob@example.test", "carol@example.test", "dave@example.test", "eve@example.test"},
			header: "From: Alice <alice@example.test>\r\nTo: bob@example.test, Carol <carol@example.test>\r\nCc: dave@example.test\r\nSubject: s\r\n\r\n",
			body:   "line one\r\nline two\r\n",
		},
		{
			name:   "folded To and folded Bcc",
			file:   lf("From: alice@example.test", "To: bob@example.test,", " carol@example.test", "Bcc: eve@example.test,", "  frank@example.test", "Subject: folded", "  subject", "", "b"),
			from:   "alice@example.test",
			rcpts:  []string{"bob@example.test", "carol@example.test", "eve@example.test", "frank@example.test"},
			header: "From: alice@example.test\r\nTo: bob@example.test,\r\n carol@example.test\r\nSubject: folded\r\n  subject\r\n\r\n",
			body:   "b\r\n",
		},
		{
			name:   "group syntax and an empty group",
			file:   lf("From: alice@example.test", "To: Team: bob@example.test, carol@example.test;", "Cc: undisclosed-recipients:;", "Bcc: eve@example.test", "", "b"),
			from:   "alice@example.test",
			rcpts:  []string{"bob@example.test", "carol@example.test", "eve@example.test"},
			header: "From: alice@example.test\r\nTo: Team: bob@example.test, carol@example.test;\r\nCc: undisclosed-recipients:;\r\n\r\n",
			body:   "b\r\n",
		},
		{
			name: "duplicates dropped, several From with Sender",
			file: lf("From: a@example.test, b@example.test", "Sender: b@example.test", "To: x@example.test", "Cc: X@example.test", "", "b"),
			from: "b@example.test", rcpts: []string{"x@example.test"},
			header: "From: a@example.test, b@example.test\r\nSender: b@example.test\r\nTo: x@example.test\r\nCc: X@example.test\r\n\r\n",
			body:   "b\r\n",
		},
		{
			name: "CRLF and bare CR line ends, no final line end, no body",
			file: []byte("From: a@example.test\r\nTo: b@example.test\rSubject: s"),
			from: "a@example.test", rcpts: []string{"b@example.test"},
			header: "From: a@example.test\r\nTo: b@example.test\r\nSubject: s\r\n\r\n",
			body:   "",
		},
		{
			name: "X- lines later in the header are no envelope",
			file: lf("From: a@example.test", "X-Receiver: spy@example.test", "To: b@example.test", "", "b"),
			from: "a@example.test", rcpts: []string{"b@example.test"},
			header: "From: a@example.test\r\nX-Receiver: spy@example.test\r\nTo: b@example.test\r\n\r\n",
			body:   "b\r\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse(tc.file)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.From != tc.from {
				t.Errorf("From = %q, want %q", m.From, tc.from)
			}
			if !slices.Equal(m.Recipients, tc.rcpts) {
				t.Errorf("Recipients = %q, want %q", m.Recipients, tc.rcpts)
			}
			if m.FromXHeaders != tc.xHeaders {
				t.Errorf("FromXHeaders = %v, want %v", m.FromXHeaders, tc.xHeaders)
			}
			if got := headerText(t, m.Header); got != tc.header {
				t.Errorf("header =\n%q\nwant\n%q", got, tc.header)
			}
			if string(m.Body) != tc.body {
				t.Errorf("body = %q, want %q", m.Body, tc.body)
			}
		})
	}
}

func TestParseBadFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file []byte
		want string // in the reason
	}{
		{"empty", nil, "no header fields"},
		{"no header", lf("", "just a body"), "no header fields"},
		{"not a header", lf("hello world", "To: b@example.test"), "header"},
		{"leading space", lf(" From: a@example.test", "To: b@example.test"), "header"},
		{"no recipients", lf("From: a@example.test", "Subject: s", "", "b"), "no recipients"},
		{"only an empty group", lf("From: a@example.test", "To: undisclosed-recipients:;", "", "b"), "no recipients"},
		{"no sender", lf("To: b@example.test", "", "b"), "no sender"},
		{"X-Receiver without sender", lf("X-Receiver: b@example.test", "Subject: s", "", "b"), "no sender"},
		{"two X-Sender", lf("X-Sender: a@example.test", "X-Sender: c@example.test", "X-Receiver: b@example.test", "", "b"), "more than one X-Sender"},
		{"unqualified recipient", lf("From: a@example.test", "To: root", "", "b"), "To"},
		{"bad X-Receiver", lf("X-Sender: a@example.test", "X-Receiver: bob", "From: a@example.test", "", "b"), "X-Receiver"},
		{"bad X-Sender", lf("X-Sender: a@@", "X-Receiver: b@example.test", "", "b"), "X-Sender"},
		{"bad domain", lf("From: a@example.test", "To: b@exa mple.test", "", "b"), "To"},
		{"unparsable To", lf("From: a@example.test", "To: <<<", "", "b"), "To"},
		{"empty X-Receiver", lf("X-Sender: a@example.test", "X-Receiver:", "Subject: s", "", "b"), "no recipients"},
		{"From names several, no Sender", lf("From: a@example.test, c@example.test", "To: b@example.test", "", "b"), "no sender"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse(tc.file)
			if err == nil {
				t.Fatalf("Parse accepted it: from %q to %q", m.From, m.Recipients)
			}
			if !errors.Is(err, ErrBadFile) {
				t.Errorf("error %v does not wrap ErrBadFile", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestToCRLF(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":             "",
		"a":            "a\r\n",
		"a\nb\n":       "a\r\nb\r\n",
		"a\r\nb":       "a\r\nb\r\n",
		"a\rb\r\n\n":   "a\r\nb\r\n\r\n",
		"\n\n":         "\r\n\r\n",
		"x\r":          "x\r\n",
		"mixed\r\n\nz": "mixed\r\n\r\nz\r\n",
	} {
		if got := string(toCRLF([]byte(in))); got != want {
			t.Errorf("toCRLF(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(lf("X-Sender: a@example.test", "X-Receiver: b@example.test", "Subject: s", "", "b"))
	f.Add(lf("From: a@example.test", "To: G: b@example.test;", "Bcc: c@example.test", "", "b"))
	f.Add([]byte("From: a@example.test\rTo: b@example.test\r\n\r\n.\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrBadFile) {
				t.Fatalf("error %v does not wrap ErrBadFile", err)
			}
			return
		}
		if len(m.Recipients) == 0 {
			t.Fatal("accepted without recipients")
		}
		for _, r := range append([]string{m.From}, m.Recipients...) {
			if strings.ContainsAny(r, "\r\n<> ") {
				t.Fatalf("address %q can break a header or command", r)
			}
		}
		if m.Header.Has("Bcc") {
			t.Fatal("Bcc left in the header")
		}
		out := []byte(headerText(t, m.Header) + string(m.Body))
		if bytes.Contains(bytes.ReplaceAll(out, []byte("\r\n"), nil), []byte("\n")) ||
			bytes.Contains(bytes.ReplaceAll(out, []byte("\r\n"), nil), []byte("\r")) {
			t.Fatalf("bare CR or LF in the output: %q", out)
		}
	})
}
