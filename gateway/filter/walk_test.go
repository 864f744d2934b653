package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

type seen struct {
	path, mediaType, filename, raw string
}

func walkAll(t *testing.T, msg []byte) []seen {
	t.Helper()
	var out []seen
	err := Walk(msg, func(p *Part) bool {
		out = append(out, seen{fmt.Sprint(p.Path), p.MediaType, p.Filename, string(msg[p.Start:p.End])})
		return true
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return out
}

func TestWalkMultipart(t *testing.T) {
	t.Parallel()
	msg := mixed("Content-Type: application/pdf; name=\"a.pdf\"\nContent-Disposition: attachment; filename=\"report.pdf\"\nContent-Transfer-Encoding: base64\n", b64("%PDF"))
	got := walkAll(t, msg)
	if len(got) != 3 {
		t.Fatalf("parts: %+v", got)
	}
	if got[0].mediaType != "multipart/mixed" || got[0].path != "[]" || got[0].raw != string(msg) {
		t.Errorf("top: %+v", got[0])
	}
	if got[1].mediaType != "text/plain" || got[1].raw != "Content-Type: text/plain; charset=utf-8\r\n\r\nHello." {
		t.Errorf("text part: %q", got[1].raw)
	}
	if got[2].filename != "report.pdf" || got[2].mediaType != "application/pdf" || got[2].path != "[1]" {
		t.Errorf("attachment: %+v", got[2])
	}
	if !strings.HasSuffix(got[2].raw, "JVBERg==") {
		t.Errorf("attachment ends %q; the CRLF before the delimiter belongs to the delimiter", got[2].raw)
	}
}

func TestWalkFilenames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, header, want string }{
		{"disposition", "Content-Disposition: attachment; filename=a.exe\n", "a.exe"},
		{"content-type name", "Content-Type: application/octet-stream; name=\"b.exe\"\n", "b.exe"},
		{"disposition wins", "Content-Type: application/octet-stream; name=x.txt\nContent-Disposition: attachment; filename=c.exe\n", "c.exe"},
		{"rfc2231 utf-8", "Content-Disposition: attachment; filename*=UTF-8''Rechnung%20%C3%BC.pdf.exe\n", "Rechnung ü.pdf.exe"},
		{"rfc2231 continuation", "Content-Disposition: attachment;\n filename*0*=UTF-8''in; filename*1=voice.pdf; filename*2=.exe\n", "invoice.pdf.exe"},
		{"rfc2231 unknown charset", "Content-Disposition: attachment; filename*=x-unknown''evil%2Eexe\n", "evil.exe"},
		{"rfc2047", "Content-Disposition: attachment; filename=\"=?UTF-8?B?ZXZpbC5leGU=?=\"\n", "evil.exe"},
		{"rfc2047 unknown charset", "Content-Disposition: attachment; filename=\"=?x-unknown?Q?evil.exe?=\"\n", "evil.exe"},
		{"malformed params", "Content-Disposition: attachment; filename=a.exe; filename=b.txt\n", "a.exe"},
		{"junk line before", "X-Junk\nContent-Disposition: attachment; filename=d.exe\n", "d.exe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := walkAll(t, mixed(tc.header, "data\n"))
			if len(got) != 3 || got[2].filename != tc.want {
				t.Errorf("filename %q, want %q (%+v)", got[len(got)-1].filename, tc.want, got)
			}
		})
	}
}

func TestWalkNested(t *testing.T) {
	t.Parallel()
	inner := "From: c@example.net\nSubject: inner\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=YY\n\n" +
		"--YY\nContent-Type: text/plain\n\ninner text\n--YY\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=deep.exe\n\nMZ\n--YY--\n"
	msg := mixed("Content-Type: message/rfc822\nContent-Disposition: attachment; filename=fwd.eml\n", inner)
	got := walkAll(t, msg)
	var paths []string
	for _, s := range got {
		paths = append(paths, s.path+" "+s.mediaType+" "+s.filename)
	}
	want := []string{"[] multipart/mixed ", "[0] text/plain ", "[1] message/rfc822 fwd.eml", "[1 0] multipart/mixed ",
		"[1 0 0] text/plain ", "[1 0 1] application/octet-stream deep.exe"}
	if strings.Join(paths, "|") != strings.Join(want, "|") {
		t.Errorf("parts:\n%s\nwant:\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
}

func TestWalkDigestDefault(t *testing.T) {
	t.Parallel()
	msg := crlf("Content-Type: multipart/digest; boundary=D\n\n--D\n\nSubject: one\n\nbody\n--D--\n")
	got := walkAll(t, msg)
	if len(got) != 3 || got[1].mediaType != "message/rfc822" || got[2].path != "[0 0]" {
		t.Errorf("digest: %+v", got)
	}
}

func TestWalkUnterminatedAndLF(t *testing.T) {
	t.Parallel()
	msg := []byte("Content-Type: multipart/mixed; boundary=Z\n\n--Z\nContent-Disposition: attachment; filename=x.exe\n\nMZ")
	got := walkAll(t, msg)
	if len(got) != 2 || got[1].filename != "x.exe" || !strings.HasSuffix(got[1].raw, "MZ") {
		t.Errorf("unterminated: %+v", got)
	}
}

func TestWalkTooDeep(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	for i := 0; i < maxDepth+2; i++ {
		fmt.Fprintf(&sb, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i)
	}
	sb.WriteString("\nend\n")
	err := Walk(crlf(sb.String()), func(*Part) bool { return true })
	if !errors.Is(err, ErrTooDeep) {
		t.Errorf("err = %v, want ErrTooDeep", err)
	}
}

func TestSplitMultipartBoundaryPrefix(t *testing.T) {
	t.Parallel()
	// "--XXY" is not a delimiter of boundary "XX"; "--XX  " (trailing
	// white space) is.
	body := crlf("--XX\nA\n--XXY\nstill A\n--XX  \nB\n--XX--\n")
	got := splitMultipart(body, 0, len(body), "XX")
	if len(got) != 2 || string(body[got[0][0]:got[0][1]]) != "A\r\n--XXY\r\nstill A" || string(body[got[1][0]:got[1][1]]) != "B" {
		t.Errorf("parts %v", got)
	}
}
