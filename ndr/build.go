package ndr

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime/quotedprintable"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// fromName is the display name of the report's From.
const fromName = "Mail Delivery System"

// part is one body part of the report, ready to write.
type part struct {
	contentType string
	description string
	encoding    string // Content-Transfer-Encoding
	body        []byte
}

// Build returns the delivery status notification r describes, CRLF line
// ends, ready to be queued with the null reverse path <> to r.To. t supplies
// the human-readable text; nil means DefaultTemplates(). Build does not
// change r.
func Build(r *Report, t *Templates) ([]byte, error) {
	if err := check(r); err != nil {
		return nil, err
	}
	if t == nil {
		t = DefaultTemplates()
	}
	tmpl, lang, err := t.lookup(strings.ToLower(strings.TrimSpace(r.Language)))
	if err != nil {
		return nil, err
	}
	date := r.Date
	if date.IsZero() {
		date = time.Now()
	}
	maxSize := r.MaxReturnSize
	if maxSize <= 0 {
		maxSize = DefaultMaxReturnSize
	}

	// The original: what of it to return, and what to take from its header.
	var third *part
	returned, tooLarge, headerCut := "", false, false
	var facts originalFacts
	if len(r.Original) > 0 {
		o := normalize(r.Original)
		facts = readFacts(o.header)
		switch {
		case r.ReturnFull && len(o.full) <= maxSize:
			returned = "full"
			third = &part{contentType: "message/rfc822", description: "Undelivered Message", encoding: bitness(o.fullEightBit), body: o.full}
		default:
			tooLarge = r.ReturnFull
			h, cut := capHeader(o.header, maxSize)
			if len(h) > 0 {
				headerCut = cut
				returned = "headers"
				third = &part{contentType: "text/rfc822-headers", description: "Undelivered Message Headers", encoding: bitness(o.headerEightBit), body: h}
			}
		}
	}
	if third != nil && r.kind() != KindFailure {
		third.description = strings.Replace(third.description, "Undelivered", "Original", 1)
	}

	// The human-readable part and the subject.
	rr := *r
	rr.Date = date
	data := templateData(&rr, lang, facts, returned, tooLarge, headerCut, maxSize)
	var text bytes.Buffer
	if err := tmpl.Execute(&text, data); err != nil {
		return nil, fmt.Errorf("ndr: render %s text: %w", lang, err)
	}
	var subj bytes.Buffer
	if s := tmpl.Lookup(subjectTemplate); s != nil {
		if err := s.Execute(&subj, data); err != nil {
			return nil, fmt.Errorf("ndr: render %s subject: %w", lang, err)
		}
	}
	subject := truncate(oneLine(subj.String()), maxShort)
	if subject == "" {
		subject = "Delivery Status Notification"
	}
	human, humanEnc := textBody(text.Bytes())

	parts := []*part{
		{contentType: "text/plain; charset=utf-8", description: "Notification", encoding: humanEnc, body: human},
		{contentType: "message/delivery-status", description: "Delivery report", encoding: "7bit", body: deliveryStatus(r)},
	}
	if third != nil {
		parts = append(parts, third)
	}

	msgID := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(r.MessageID), "<"), ">")
	if !validMsgID(msgID) || !strings.Contains(msgID, "@") {
		msgID = rand.Text() + "@" + hostOrLocal(r.ReportingMTA)
	}
	boundary := makeBoundary(msgID, parts)

	// The header, in the order it is written.
	var h mail.Header
	type field struct{ k, v string }
	fields := []field{
		{"From", fromName + " <" + postmaster(r) + ">"},
		{"To", "<" + token(r.To) + ">"},
		{"Subject", ""}, // set below, encoded
		{"Date", date.Format(dateLayout)},
		{"Message-ID", "<" + msgID + ">"},
	}
	if facts.messageID != "" {
		fields = append(fields,
			field{"In-Reply-To", "<" + facts.messageID + ">"},
			field{"References", "<" + facts.messageID + ">"})
	}
	fields = append(fields,
		field{"Auto-Submitted", "auto-replied"},
		field{"MIME-Version", "1.0"},
		field{"Content-Type", "multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\""})
	for _, p := range parts {
		if p.encoding == "8bit" {
			fields = append(fields, field{"Content-Transfer-Encoding", "8bit"})
			break
		}
	}
	// textproto.Header writes the field added last first.
	for i := len(fields) - 1; i >= 0; i-- {
		f := fields[i]
		if f.k == "Subject" {
			h.SetSubject(subject)
			continue
		}
		h.AddRaw([]byte(f.k + ": " + f.v + "\r\n"))
	}

	var out bytes.Buffer
	size := 1024
	for _, p := range parts {
		size += len(p.body) + 256
	}
	out.Grow(size)
	if err := textproto.WriteHeader(&out, h.Header.Header); err != nil {
		return nil, fmt.Errorf("ndr: write header: %w", err)
	}
	mw := textproto.NewMultipartWriter(&out)
	if err := mw.SetBoundary(boundary); err != nil {
		return nil, fmt.Errorf("ndr: set boundary: %w", err)
	}
	for _, p := range parts {
		var ph textproto.Header
		ph.Add("Content-Transfer-Encoding", p.encoding)
		ph.Add("Content-Description", p.description)
		ph.Add("Content-Type", p.contentType)
		w, err := mw.CreatePart(ph)
		if err != nil {
			return nil, fmt.Errorf("ndr: write part %s: %w", p.contentType, err)
		}
		if _, err := w.Write(p.body); err != nil {
			return nil, fmt.Errorf("ndr: write part %s: %w", p.contentType, err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("ndr: close multipart: %w", err)
	}
	return out.Bytes(), nil
}

// check refuses reports that cannot be built.
func check(r *Report) error {
	if r == nil {
		return fmt.Errorf("%w: nil report", ErrNoRecipients)
	}
	if token(r.To) == "" {
		return ErrNullSender
	}
	if token(r.ReportingMTA) == "" {
		return ErrNoReportingMTA
	}
	if len(r.Recipients) == 0 {
		return ErrNoRecipients
	}
	for i := range r.Recipients {
		rc := &r.Recipients[i]
		if !rc.Action.valid() {
			return fmt.Errorf("%w: recipient %d: unknown action %q", ErrInvalidRecipient, i, rc.Action)
		}
		if token(rc.FinalRecipient) == "" {
			return fmt.Errorf("%w: recipient %d: no final recipient", ErrInvalidRecipient, i)
		}
	}
	return nil
}

// postmaster is the report's From address.
func postmaster(r *Report) string {
	if p := token(r.Postmaster); p != "" {
		return p
	}
	return "postmaster@" + hostOrLocal(r.ReportingMTA)
}

// hostOrLocal is r.ReportingMTA made safe, or "localhost".
func hostOrLocal(host string) string {
	if h := asciiLine(token(host)); h != "" {
		return h
	}
	return "localhost"
}

// bitness is the Content-Transfer-Encoding for a body that is 8-bit or not.
func bitness(eight bool) string {
	if eight {
		return "8bit"
	}
	return "7bit"
}

// textBody turns rendered template output into a body with CRLF line
// ends, ending in a line end, and picks its encoding: 7bit when it is
// ASCII without NULs and with lines of at most maxLine octets,
// quoted-printable otherwise.
func textBody(b []byte) ([]byte, string) {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	b = bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
	if len(b) == 0 || b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	plain := true
	col := 0
	for _, c := range b {
		if c >= 0x80 || c == 0 || col > maxLine {
			plain = false
			break
		}
		col++
		if c == '\n' {
			col = 0
		}
	}
	body := bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	if plain {
		return body, "7bit"
	}
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	_, _ = w.Write(body) // a bytes.Buffer does not fail
	_ = w.Close()
	return qp.Bytes(), "quoted-printable"
}

// makeBoundary derives the MIME boundary from the report's content, so the
// same report gives the same bytes, and makes sure it occurs in no part.
// "=_" cannot occur in quoted-printable text.
func makeBoundary(msgID string, parts []*part) string {
	for n := 0; ; n++ {
		h := sha256.New()
		fmt.Fprintf(h, "%d\x00%s\x00", n, msgID)
		for _, p := range parts {
			h.Write(p.body)
			h.Write([]byte{0})
		}
		b := "=_bh" + hex.EncodeToString(h.Sum(nil)[:15])
		clash := false
		for _, p := range parts {
			if bytes.Contains(p.body, []byte(b)) {
				clash = true
				break
			}
		}
		if !clash {
			return b
		}
	}
}
