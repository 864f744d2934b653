package ndr

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	netmail "net/mail"
	"regexp"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// parsedReport is a built report read back with go-message.
type parsedReport struct {
	header       mail.Header
	parts        []parsedPart
	perMessage   textproto.Header
	perRecipient []textproto.Header
}

// parsedPart is one body part, its body decoded.
type parsedPart struct {
	mediaType string
	params    map[string]string
	header    message.Header
	body      []byte
}

var (
	statusRE     = regexp.MustCompile(`^\d\.\d{1,3}\.\d{1,3}$`)
	typedRE      = regexp.MustCompile(`^[A-Za-z0-9-]+; ?\S`)
	dnsRE        = regexp.MustCompile(`^dns; \S+$`)
	perMessageOK = map[string]bool{"Original-Envelope-Id": true, "Reporting-Mta": true, "Dsn-Gateway": true, "Received-From-Mta": true, "Arrival-Date": true}
	perRcptOK    = map[string]bool{"Original-Recipient": true, "Final-Recipient": true, "Action": true, "Status": true, "Remote-Mta": true, "Diagnostic-Code": true, "Last-Attempt-Date": true, "Final-Log-Id": true, "Will-Retry-Until": true}
	actionsOK    = map[string]bool{"failed": true, "delayed": true, "delivered": true, "relayed": true, "expanded": true}
)

// checkLines checks that every line ends in CRLF, there is no bare CR or
// LF and no line is longer than 998 octets.
func checkLines(b []byte) error {
	if len(b) == 0 || !bytes.HasSuffix(b, []byte("\r\n")) {
		return errors.New("does not end in CRLF")
	}
	for n, line := range bytes.Split(b[:len(b)-2], []byte("\r\n")) {
		if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
			return fmt.Errorf("line %d: bare CR or LF at %d: %q", n+1, i, line)
		}
		if len(line) > maxLine {
			return fmt.Errorf("line %d: %d octets", n+1, len(line))
		}
	}
	return nil
}

// parseReport reads b back as an RFC 3464 report and checks its structure
// and every delivery-status field's syntax.
func parseReport(b []byte) (*parsedReport, error) {
	if err := checkLines(b); err != nil {
		return nil, err
	}
	e, err := message.Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	p := &parsedReport{header: mail.Header{Header: e.Header}}
	mt, params, err := e.Header.ContentType()
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" || params["boundary"] == "" {
		return nil, fmt.Errorf("content type %q %v: %v", mt, params, err)
	}
	for _, k := range []string{"From", "To", "Subject", "Date", "Message-Id", "Mime-Version"} {
		if !p.header.Has(k) {
			return nil, fmt.Errorf("no %s", k)
		}
	}
	if v := p.header.Get("Auto-Submitted"); v != "auto-replied" {
		return nil, fmt.Errorf("Auto-Submitted %q", v)
	}
	if _, err := p.header.Date(); err != nil {
		return nil, fmt.Errorf("Date: %w", err)
	}
	if _, err := p.header.AddressList("From"); err != nil {
		return nil, fmt.Errorf("From: %w", err)
	}
	if id, err := p.header.MessageID(); err != nil || id == "" {
		return nil, fmt.Errorf("Message-Id %q: %v", id, err)
	}
	mr := e.MultipartReader()
	for {
		pe, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", len(p.parts)+1, err)
		}
		body, err := io.ReadAll(pe.Body)
		if err != nil {
			return nil, fmt.Errorf("part %d body: %w", len(p.parts)+1, err)
		}
		pmt, pparams, _ := pe.Header.ContentType()
		p.parts = append(p.parts, parsedPart{mediaType: pmt, params: pparams, header: pe.Header, body: body})
	}
	if n := len(p.parts); n < 2 || n > 3 {
		return nil, fmt.Errorf("%d parts", n)
	}
	if p.parts[0].mediaType != "text/plain" || !strings.EqualFold(p.parts[0].params["charset"], "utf-8") {
		return nil, fmt.Errorf("first part %s %v", p.parts[0].mediaType, p.parts[0].params)
	}
	if p.parts[1].mediaType != "message/delivery-status" {
		return nil, fmt.Errorf("second part %s", p.parts[1].mediaType)
	}
	if len(p.parts) == 3 && p.parts[2].mediaType != "text/rfc822-headers" && p.parts[2].mediaType != "message/rfc822" {
		return nil, fmt.Errorf("third part %s", p.parts[2].mediaType)
	}
	if err := p.parseStatus(p.parts[1].body); err != nil {
		return nil, err
	}
	return p, nil
}

// parseStatus reads the delivery-status body and checks its fields.
func (p *parsedReport) parseStatus(body []byte) error {
	if bytes.IndexFunc(body, func(r rune) bool { return r >= 0x80 }) >= 0 {
		return errors.New("delivery-status is not 7-bit")
	}
	br := bufio.NewReader(bytes.NewReader(body))
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return fmt.Errorf("per-message fields: %w", err)
	}
	p.perMessage = h
	if err := checkFields(h, perMessageOK); err != nil {
		return fmt.Errorf("per-message: %w", err)
	}
	if !dnsRE.MatchString(h.Get("Reporting-Mta")) {
		return fmt.Errorf("Reporting-MTA %q", h.Get("Reporting-Mta"))
	}
	if err := checkDate(h, "Arrival-Date"); err != nil {
		return err
	}
	for {
		if _, err := br.Peek(1); err == io.EOF {
			break
		}
		h, err := textproto.ReadHeader(br)
		if err != nil && err != io.EOF {
			return fmt.Errorf("recipient %d: %w", len(p.perRecipient)+1, err)
		}
		n := len(p.perRecipient) + 1
		if err := checkFields(h, perRcptOK); err != nil {
			return fmt.Errorf("recipient %d: %w", n, err)
		}
		if v := h.Get("Final-Recipient"); !typedRE.MatchString(v) {
			return fmt.Errorf("recipient %d: Final-Recipient %q", n, v)
		}
		if v := h.Get("Original-Recipient"); v != "" && !typedRE.MatchString(v) {
			return fmt.Errorf("recipient %d: Original-Recipient %q", n, v)
		}
		action := h.Get("Action")
		if !actionsOK[action] {
			return fmt.Errorf("recipient %d: Action %q", n, action)
		}
		if v := h.Get("Status"); !statusRE.MatchString(v) {
			return fmt.Errorf("recipient %d: Status %q", n, v)
		}
		if v := h.Get("Remote-Mta"); v != "" && !dnsRE.MatchString(v) {
			return fmt.Errorf("recipient %d: Remote-MTA %q", n, v)
		}
		if v := h.Get("Diagnostic-Code"); v != "" && !typedRE.MatchString(v) {
			return fmt.Errorf("recipient %d: Diagnostic-Code %q", n, v)
		}
		if err := checkDate(h, "Last-Attempt-Date"); err != nil {
			return fmt.Errorf("recipient %d: %w", n, err)
		}
		if err := checkDate(h, "Will-Retry-Until"); err != nil {
			return fmt.Errorf("recipient %d: %w", n, err)
		}
		if h.Has("Will-Retry-Until") && action != "delayed" {
			return fmt.Errorf("recipient %d: Will-Retry-Until on %s", n, action)
		}
		p.perRecipient = append(p.perRecipient, h)
	}
	if len(p.perRecipient) == 0 {
		return errors.New("no per-recipient fields")
	}
	return nil
}

// checkFields checks that h holds only the known fields, each once.
func checkFields(h textproto.Header, known map[string]bool) error {
	seen := map[string]bool{}
	for f := h.Fields(); f.Next(); {
		k := f.Key()
		if !known[k] && !strings.HasPrefix(k, "X-") {
			return fmt.Errorf("unknown field %q", k)
		}
		if seen[k] {
			return fmt.Errorf("field %q twice", k)
		}
		seen[k] = true
	}
	return nil
}

// checkDate checks that field k, when present, is an RFC 5322 date.
func checkDate(h textproto.Header, k string) error {
	v := h.Get(k)
	if v == "" {
		return nil
	}
	if _, err := netmail.ParseDate(v); err != nil {
		return fmt.Errorf("%s %q: %w", k, v, err)
	}
	return nil
}
