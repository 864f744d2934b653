package filter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/quotedprintable"
	"strings"
)

// DefaultExtensions are the executable and script file types refused by
// default, with their leading dot.
func DefaultExtensions() []string {
	return []string{".exe", ".scr", ".js", ".vbs", ".bat", ".cmd", ".ps1", ".jar", ".iso",
		".com", ".pif", ".msi", ".hta", ".wsf", ".cpl", ".lnk", ".vbe", ".jse"}
}

// DefaultTypes are the executable and script MIME types refused by
// default, whatever the file name says.
func DefaultTypes() []string {
	return []string{"application/x-msdownload", "application/x-msdos-program", "application/x-dosexec",
		"application/x-ms-dos-executable", "application/x-executable", "application/vnd.microsoft.portable-executable",
		"application/java-archive", "application/x-java-archive", "application/hta", "application/x-ms-shortcut",
		"application/javascript", "application/x-javascript", "text/vbscript", "application/x-iso9660-image"}
}

// AttachmentPolicy says which parts are refused and which are stripped.
// Extensions are matched against the last extension of the decoded file
// name (so "invoice.pdf.exe" matches ".exe"), case-insensitively and after
// the trailing dots and spaces Windows ignores; types against the part's
// media type. When a part matches both lists, reject wins.
type AttachmentPolicy struct {
	// RejectExtensions refuse the message with 550 5.7.1 naming the file.
	RejectExtensions []string
	// StripExtensions replace the part by a text part saying what was
	// removed.
	StripExtensions []string
	// RejectTypes and StripTypes do the same for media types.
	RejectTypes []string
	// StripTypes are media types whose parts are stripped.
	StripTypes []string
}

type attachAction int

const (
	actNone attachAction = iota
	actStrip
	actReject
)

// Attachments is the attachment policy filter.
type Attachments struct {
	exts  map[string]attachAction
	types map[string]attachAction
}

var _ Filter = (*Attachments)(nil)

// NewAttachments builds the filter. Extensions may be given with or
// without the leading dot.
func NewAttachments(p AttachmentPolicy) (*Attachments, error) {
	a := &Attachments{exts: map[string]attachAction{}, types: map[string]attachAction{}}
	add := func(m map[string]attachAction, list []string, act attachAction, norm func(string) (string, error)) error {
		for _, v := range list {
			k, err := norm(v)
			if err != nil {
				return err
			}
			m[k] = max(m[k], act)
		}
		return nil
	}
	normExt := func(e string) (string, error) {
		e = strings.ToLower(strings.TrimSpace(e))
		e = "." + strings.TrimPrefix(e, ".")
		if e == "." || strings.ContainsAny(e[1:], "./\\ ") {
			return "", fmt.Errorf("attachments: %q is not a file name extension", e)
		}
		return e, nil
	}
	normType := func(t string) (string, error) {
		t = strings.ToLower(strings.TrimSpace(t))
		if !strings.Contains(t, "/") {
			return "", fmt.Errorf("attachments: %q is not a media type", t)
		}
		return t, nil
	}
	for _, err := range []error{
		add(a.exts, p.StripExtensions, actStrip, normExt),
		add(a.exts, p.RejectExtensions, actReject, normExt),
		add(a.types, p.StripTypes, actStrip, normType),
		add(a.types, p.RejectTypes, actReject, normType),
	} {
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Name returns "attachments".
func (a *Attachments) Name() string { return "attachments" }

// hit is a part to strip.
type hit struct {
	start, end int
	name, why  string
	mediaType  string
}

// Check refuses a message with a part the policy rejects, and strips the
// parts it strips: each is replaced by a short text part, the rest of the
// message is left byte for byte as it was.
func (a *Attachments) Check(_ context.Context, _ *Envelope, msg []byte) (Result, error) {
	var hits []hit
	var rej *Rejection
	err := Walk(msg, func(p *Part) bool {
		if rej != nil {
			return false
		}
		act, why := a.match(p)
		switch {
		case act == actNone:
			return true
		case act == actReject || len(p.Path) == 0:
			// The message itself cannot be replaced by a text part
			// without changing its header: refuse it.
			what := "Attachment"
			if p.Filename != "" {
				what = fmt.Sprintf("Attachment %q", printable(p.Filename, 100))
			}
			rej = &Rejection{Code: 550, Enhanced: [3]int{5, 7, 1},
				Message: what + " refused: " + why,
				Reason:  fmt.Sprintf("attachment %q (%s): %s", p.Filename, p.MediaType, why)}
			return false
		}
		hits = append(hits, hit{start: p.Start, end: p.End, name: p.Filename, why: why, mediaType: p.MediaType})
		return false
	})
	if errors.Is(err, ErrTooDeep) {
		return Result{}, &Rejection{Code: 554, Enhanced: [3]int{5, 6, 0},
			Message: "Message structure nested too deeply", Reason: err.Error()}
	}
	if err != nil {
		return Result{}, err
	}
	if rej != nil {
		return Result{}, rej
	}
	if len(hits) == 0 {
		return Result{Verdict: "clean"}, nil
	}
	var out bytes.Buffer
	out.Grow(len(msg))
	prev := 0
	var names []string
	for _, h := range hits {
		out.Write(msg[prev:h.start])
		out.Write(strippedPart(h))
		prev = h.end
		names = append(names, fmt.Sprintf("%q (%s)", h.name, h.why))
	}
	out.Write(msg[prev:])
	return Result{Body: out.Bytes(), Verdict: "stripped", Reason: strings.Join(names, ", ")}, nil
}

// match returns what the policy does with part p and why.
func (a *Attachments) match(p *Part) (attachAction, string) {
	act, why := actNone, ""
	if t := a.types[p.MediaType]; t != actNone {
		act, why = t, "type "+p.MediaType+" is not accepted"
	}
	if p.Filename == "" {
		return act, why
	}
	name := strings.ToLower(p.Filename)
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	name = strings.TrimRight(name, ". \t")
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return act, why
	}
	ext := name[i:]
	e := a.exts[ext]
	if e == actNone || e < act {
		return act, why
	}
	why = "file type " + printable(ext, 20) + " is not accepted"
	if j := strings.LastIndexByte(name[:i], '.'); j >= 0 && i-j <= 5 {
		why = "file type " + printable(ext, 20) + " is not accepted (double extension " + printable(name[j:], 30) + ")"
	}
	return e, why
}

// strippedPart is the text part that takes a stripped part's place, in
// English and German (the report languages).
func strippedPart(h hit) []byte {
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, h.name)
	if name == "" {
		name = "(" + h.mediaType + ")"
	}
	text := fmt.Sprintf("The attachment %q was removed by the mail gateway: %s.\r\n\r\n"+
		"Der Anhang %q wurde vom Mail-Gateway entfernt: nicht erlaubter Dateityp.\r\n", name, h.why, name)
	var body bytes.Buffer
	qp := quotedprintable.NewWriter(&body)
	_, _ = qp.Write([]byte(text))
	_ = qp.Close()
	var out bytes.Buffer
	out.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	out.WriteString("Content-Transfer-Encoding: quoted-printable\r\n")
	out.WriteString("Content-Disposition: inline\r\n")
	out.WriteString("X-Bridgehead-Removed: attachment\r\n\r\n")
	out.Write(bytes.TrimRight(body.Bytes(), "\r\n"))
	return out.Bytes()
}
