package ndr

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzBuild feeds Build an arbitrary original message and diagnostic text.
// Build must not fail or panic, and its output must parse back as a
// well-formed RFC 3464 report with exactly the recipients given and the
// original returned intact (after line-end normalization).
func FuzzBuild(f *testing.F) {
	f.Add([]byte(sampleOriginal), "550 5.1.1 <bob@remote.test>: user unknown", false)
	f.Add([]byte(sampleOriginal), "451-4.3.0 first\r\n451 4.3.0 second", true)
	f.Add([]byte("Subject: x\r\n\r\n--=_bh\r\n"), "smtp; 550\r\nX-Injected: 1\r\n\r\nAction: delivered", true)
	f.Add([]byte("no header at all"), "", true)
	f.Add([]byte("\r\n\r\nbody only"), "X-Foo; bar", false)
	f.Add([]byte("A: "+strings.Repeat("y", 2000)+"\n\n"+strings.Repeat("z", 2000)), strings.Repeat("q", 1500), true)
	f.Add([]byte("Message-ID: <a@b>\rSubject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\n\n\x00\xff\xfe"), "550 grüße \x00\x7f", false)
	tmpl := DefaultTemplates()
	f.Fuzz(func(t *testing.T, original []byte, diag string, full bool) {
		r := &Report{
			ReportingMTA: "gw.example.test", Postmaster: "postmaster@example.test", To: "alice@example.test",
			Date: when, MessageID: "r@gw.example.test", Language: "de",
			Original: original, ReturnFull: full, MaxReturnSize: 4096,
			Recipients: []RecipientStatus{
				{FinalRecipient: "bob@remote.test", Action: ActionFailed, DiagnosticCode: diag, RemoteMTA: diag},
				{FinalRecipient: "carol@remote.test", OriginalRecipient: diag, Action: ActionDelayed, Status: diag,
					DiagnosticCode: diag, WillRetryUntil: when.Add(time.Hour)},
			},
		}
		b, err := Build(r, tmpl)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		p, err := parseReport(b)
		if err != nil {
			t.Fatalf("parse back: %v\n%q", err, b)
		}
		if p.header.Has("X-Injected") || len(p.perRecipient) != 2 ||
			p.perRecipient[0].Get("Action") != "failed" || p.perRecipient[1].Get("Action") != "delayed" {
			t.Fatalf("recipients changed:\n%s", p.parts[1].body)
		}
		if (diagnostic(diag) != "") != p.perRecipient[0].Has("Diagnostic-Code") {
			t.Fatalf("Diagnostic-Code for %q: %q", diag, p.perRecipient[0].Get("Diagnostic-Code"))
		}
		o := normalize(original)
		switch {
		case len(p.parts) == 2:
			if len(o.header) != 0 && !(full && len(o.full) <= r.MaxReturnSize) {
				t.Fatalf("original's header not returned")
			}
		case p.parts[2].mediaType == "message/rfc822":
			if !full || !bytes.Equal(p.parts[2].body, o.full) {
				t.Fatalf("returned message differs")
			}
		default:
			h, _ := capHeader(o.header, r.MaxReturnSize)
			if !bytes.Equal(p.parts[2].body, h) {
				t.Fatalf("returned header differs:\n%q\n%q", p.parts[2].body, h)
			}
		}
	})
}
