package filter

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func newPolicy(t *testing.T, p AttachmentPolicy) *Attachments {
	t.Helper()
	a, err := NewAttachments(p)
	if err != nil {
		t.Fatalf("NewAttachments: %v", err)
	}
	return a
}

func wantRejection(t *testing.T, err error, code int, contains string) {
	t.Helper()
	var rej *Rejection
	if !errors.As(err, &rej) {
		t.Fatalf("err = %v, want a rejection %d", err, code)
	}
	if rej.Code != code || !strings.Contains(rej.Message, contains) {
		t.Errorf("rejection %d %q, want %d containing %q", rej.Code, rej.Message, code, contains)
	}
}

func TestAttachmentsReject(t *testing.T) {
	t.Parallel()
	a := newPolicy(t, AttachmentPolicy{RejectExtensions: DefaultExtensions(), RejectTypes: DefaultTypes()})
	for _, tc := range []struct{ name, header, file string }{
		{"exe", "Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=setup.exe\n", `"setup.exe"`},
		{"double extension", "Content-Type: application/pdf\nContent-Disposition: attachment; filename=\"report.pdf.exe\"\n", "double extension .pdf.exe"},
		{"upper case and trailing dot", "Content-Disposition: attachment; filename=\"INVOICE.PDF.EXE.\"\n", `"INVOICE.PDF.EXE."`},
		{"rfc2231", "Content-Disposition: attachment; filename*=utf-8''Rechnung%2Epdf%2Ejs\n", `"Rechnung.pdf.js"`},
		{"name only", "Content-Type: application/octet-stream; name=run.bat\n", `"run.bat"`},
		{"type only", "Content-Type: application/x-msdownload\n", "type application/x-msdownload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := a.Check(context.Background(), &Envelope{}, mixed(tc.header, b64("MZ")))
			wantRejection(t, err, 550, tc.file)
		})
	}
}

func TestAttachmentsPass(t *testing.T) {
	t.Parallel()
	a := newPolicy(t, AttachmentPolicy{RejectExtensions: DefaultExtensions(), RejectTypes: DefaultTypes()})
	for _, h := range []string{
		"Content-Type: application/pdf\nContent-Disposition: attachment; filename=report.pdf\n",
		"Content-Type: application/zip\nContent-Disposition: attachment; filename=report.exe.zip\n",
		"Content-Type: text/plain\nContent-Disposition: attachment; filename=notes\n",
		"Content-Type: text/plain\nContent-Disposition: attachment; filename=notes.exe-info.txt\n",
	} {
		res, err := a.Check(context.Background(), &Envelope{}, mixed(h, "data\n"))
		if err != nil || res.Body != nil || len(res.Headers) != 0 {
			t.Errorf("%q: result %+v, err %v; want a pass", h, res, err)
		}
	}
}

func TestAttachmentsNestedMessage(t *testing.T) {
	t.Parallel()
	a := newPolicy(t, AttachmentPolicy{RejectExtensions: []string{"exe"}})
	inner := "Subject: fwd\nContent-Type: multipart/mixed; boundary=YY\n\n--YY\nContent-Disposition: attachment; filename=deep.exe\n\nMZ\n--YY--\n"
	_, err := a.Check(context.Background(), &Envelope{}, mixed("Content-Type: message/rfc822\n", inner))
	wantRejection(t, err, 550, `"deep.exe"`)
}

func TestAttachmentsStrip(t *testing.T) {
	t.Parallel()
	a := newPolicy(t, AttachmentPolicy{StripExtensions: []string{".exe"}, RejectExtensions: []string{".scr"}})
	att := "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"report.pdf.exe\"\n"
	msg := mixed(att, b64(strings.Repeat("MZ", 100)))
	res, err := a.Check(context.Background(), &Envelope{}, msg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Body == nil || res.Verdict != "stripped" {
		t.Fatalf("result %+v, want a stripped body", res)
	}
	// Everything but the attachment's part is byte for byte the same.
	start := bytes.Index(msg, crlf(att))
	end := bytes.Index(msg, []byte("\r\n--XX--"))
	if !bytes.HasPrefix(res.Body, msg[:start]) || !bytes.HasSuffix(res.Body, msg[end:]) {
		t.Fatalf("outside the part the message changed:\n%s", res.Body)
	}
	repl := string(res.Body[start : len(res.Body)-len(msg[end:])])
	for _, want := range []string{"Content-Type: text/plain; charset=utf-8\r\n", "report.pdf.exe", "not accepted", "Der Anhang"} {
		if !strings.Contains(repl, want) {
			t.Errorf("replacement part lacks %q:\n%s", want, repl)
		}
	}
	// The result is still a well-formed message with the same structure.
	var types []string
	if err := Walk(res.Body, func(p *Part) bool { types = append(types, p.MediaType); return true }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(types, ",") != "multipart/mixed,text/plain,text/plain" {
		t.Errorf("parts after strip: %v", types)
	}
	// Stripping is idempotent: the filter passes its own output.
	if res2, err := a.Check(context.Background(), &Envelope{}, res.Body); err != nil || res2.Body != nil {
		t.Errorf("second pass: %+v, %v", res2, err)
	}
	// A rejected file in the same message still refuses it.
	msg2 := mixed(att, "MZ\n--XX\nContent-Disposition: attachment; filename=x.scr\n\nMZ\n")
	_, err = a.Check(context.Background(), &Envelope{}, msg2)
	wantRejection(t, err, 550, `"x.scr"`)
}

func TestAttachmentsStripNested(t *testing.T) {
	t.Parallel()
	a := newPolicy(t, AttachmentPolicy{StripExtensions: []string{".exe", ".js"}})
	inner := "Subject: fwd\nContent-Type: multipart/mixed; boundary=YY\n\n--YY\nContent-Type: text/plain\n\nkeep me\n--YY\nContent-Disposition: attachment; filename=deep.exe\n\nMZ\n--YY\nContent-Disposition: attachment; filename=a.js\n\nalert(1)\n--YY--\n"
	msg := mixed("Content-Type: message/rfc822\n", inner)
	res, err := a.Check(context.Background(), &Envelope{}, msg)
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Body)
	if strings.Contains(out, "\r\nMZ\r\n") || strings.Contains(out, "alert(1)") || !strings.Contains(out, "keep me") ||
		strings.Count(out, "X-Bridgehead-Removed") != 2 {
		t.Errorf("stripped nested message:\n%s", out)
	}
}

func TestAttachmentsTopLevelStripRejects(t *testing.T) {
	t.Parallel()
	a := newPolicy(t, AttachmentPolicy{StripExtensions: []string{".exe"}})
	msg := crlf("From: a@example.com\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=a.exe\n\nMZ\n")
	_, err := a.Check(context.Background(), &Envelope{}, msg)
	wantRejection(t, err, 550, `"a.exe"`)
}

func TestNewAttachmentsBadConfig(t *testing.T) {
	t.Parallel()
	for _, p := range []AttachmentPolicy{
		{RejectExtensions: []string{""}},
		{StripExtensions: []string{"tar.gz"}},
		{RejectTypes: []string{"exe"}},
	} {
		if _, err := NewAttachments(p); err == nil {
			t.Errorf("NewAttachments(%+v) accepted", p)
		}
	}
}
