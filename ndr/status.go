package ndr

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// dateLayout is the RFC 5322 date-time format.
const dateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// ValidStatus reports whether s is an enhanced status code (RFC 3463):
// class "." subject "." detail, class 2, 4 or 5, subject and detail one to
// three digits.
func ValidStatus(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.ContainsAny(parts[0], "245") {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// status returns the enhanced status code to report for rc: its Status
// when valid, else the one in its diagnostic reply, else the action's
// default; the class is made to fit the action.
func status(rc *RecipientStatus) string {
	s := strings.TrimSpace(rc.Status)
	if !ValidStatus(s) {
		s = statusFromReply(rc.DiagnosticCode)
	}
	if !ValidStatus(s) {
		s = "x.0.0"
	}
	class := s[0]
	switch rc.Action {
	case ActionFailed:
		if class != '4' && class != '5' {
			class = '5'
		}
	default:
		class = rc.Action.statusClass()
	}
	return string(class) + s[1:]
}

// statusFromReply finds the enhanced status code in an SMTP reply such as
// "550 5.1.1 user unknown" or "550-5.1.1 ...": the word after the reply
// code, when its class matches the code's first digit.
func statusFromReply(reply string) string {
	reply = strings.TrimSpace(reply)
	if i := strings.IndexByte(reply, ';'); i >= 0 && i < 32 && !isReplyCode(reply) {
		reply = strings.TrimSpace(reply[i+1:])
	}
	if !isReplyCode(reply) || len(reply) < 5 {
		return ""
	}
	rest := reply[4:]
	if i := strings.IndexAny(rest, " \t\r\n"); i >= 0 {
		rest = rest[:i]
	}
	if ValidStatus(rest) && rest[0] == reply[0] {
		return rest
	}
	return ""
}

// isReplyCode reports whether s starts with an SMTP reply code (2xx to 5xx)
// followed by a space, a hyphen or nothing.
func isReplyCode(s string) bool {
	if len(s) < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' {
		return false
	}
	return len(s) == 3 || s[3] == ' ' || s[3] == '-'
}

// diagnostic renders a Diagnostic-Code value: "smtp; reply" for an SMTP
// reply, the text as it is when it already names a type, "X-Bridgehead;
// text" for anything else. Empty in, empty out.
func diagnostic(s string) string {
	s = truncate(asciiLine(s), maxDiagnostic)
	if s == "" {
		return ""
	}
	if typ, rest, ok := strings.Cut(s, ";"); ok {
		t := strings.TrimSpace(typ)
		if strings.EqualFold(t, "smtp") || (len(t) > 2 && strings.EqualFold(t[:2], "x-") && isAtom(t)) {
			if rest = strings.TrimSpace(rest); rest == "" {
				return ""
			}
			return t + "; " + rest
		}
	}
	if isReplyCode(s) {
		return "smtp; " + s
	}
	return "X-Bridgehead; " + s
}

// isAtom reports whether s holds only letters, digits and hyphens.
func isAtom(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return s != ""
}

// address renders a recipient address as "type; address": rfc822 for an
// ASCII address, utf-8 with the RFC 6533 \x{HEX} escapes otherwise.
func address(addr string) string {
	addr = token(addr)
	if isASCII(addr) {
		return "rfc822; " + addr
	}
	return "utf-8; " + utf8AddrXtext(addr)
}

// utf8AddrXtext escapes s as RFC 6533 utf-8-addr-xtext: non-ASCII
// characters and the backslash become \x{HEX}.
func utf8AddrXtext(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && r != '\\' && r > ' ' && r != 0x7f {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, `\x{%X}`, r)
	}
	return b.String()
}

// originalRecipient renders the ORCPT value "type;address"; a bare address
// is taken as rfc822.
func originalRecipient(orcpt string) string {
	orcpt = oneLine(orcpt)
	if orcpt == "" {
		return ""
	}
	typ, addr, ok := strings.Cut(orcpt, ";")
	typ = strings.TrimSpace(typ)
	if !ok || !isAtom(typ) {
		if token(orcpt) == "" {
			return ""
		}
		return strings.Replace(address(orcpt), "; ", ";", 1)
	}
	addr = token(addr)
	if addr == "" {
		return ""
	}
	if !isASCII(addr) {
		if strings.EqualFold(typ, "rfc822") {
			typ = "utf-8"
		}
		addr = utf8AddrXtext(addr)
	}
	return typ + ";" + addr
}

// formatDate renders t in RFC 5322 form; "" for the zero time.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(dateLayout)
}

// deliveryStatus writes the body of the message/delivery-status part: the
// per-message fields, then a blank line before each per-recipient group.
func deliveryStatus(r *Report) []byte {
	var b bytes.Buffer
	b.Grow(256 + 384*len(r.Recipients))
	writeField(&b, "Reporting-MTA", "dns; "+asciiLine(token(r.ReportingMTA)))
	writeField(&b, "Original-Envelope-Id", truncate(asciiLine(r.EnvelopeID), maxShort))
	writeField(&b, "Arrival-Date", formatDate(r.ArrivalDate))
	for i := range r.Recipients {
		rc := &r.Recipients[i]
		b.WriteString("\r\n")
		writeField(&b, "Original-Recipient", originalRecipient(rc.OriginalRecipient))
		writeField(&b, "Final-Recipient", address(rc.FinalRecipient))
		writeField(&b, "Action", string(rc.Action))
		writeField(&b, "Status", status(rc))
		if h := asciiLine(token(rc.RemoteMTA)); h != "" {
			writeField(&b, "Remote-MTA", "dns; "+h)
		}
		writeField(&b, "Diagnostic-Code", diagnostic(rc.DiagnosticCode))
		writeField(&b, "Last-Attempt-Date", formatDate(rc.LastAttempt))
		if rc.Action == ActionDelayed {
			writeField(&b, "Will-Retry-Until", formatDate(rc.WillRetryUntil))
		}
	}
	return b.Bytes()
}
