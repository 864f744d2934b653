package delivery

import (
	"errors"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/internal/smtpwire"
)

// mailCmd renders MAIL FROM with the parameters the server announced:
// BODY=8BITMIME, SIZE, SMTPUTF8 and the DSN ones (RET, ENVID).
func mailCmd(c *smtpwire.Client, from string, o *smtp.MailOptions) (string, error) {
	if strings.ContainsAny(from, "\r\n<>") {
		return "", errors.New("malformed sender address")
	}
	var sb strings.Builder
	sb.WriteString("MAIL FROM:<")
	sb.WriteString(from)
	sb.WriteByte('>')
	if c.Has("8BITMIME") {
		sb.WriteString(" BODY=8BITMIME")
	}
	if c.Has("SIZE") && o.Size != 0 {
		sb.WriteString(" SIZE=")
		sb.WriteString(strconv.FormatInt(o.Size, 10))
	}
	if o.UTF8 {
		if !c.Has("SMTPUTF8") {
			return "", errors.New("server does not support SMTPUTF8")
		}
		sb.WriteString(" SMTPUTF8")
	}
	if c.Has("DSN") {
		if o.Return != "" {
			sb.WriteString(" RET=")
			sb.WriteString(string(o.Return))
		}
		if o.EnvelopeID != "" {
			sb.WriteString(" ENVID=")
			sb.WriteString(xtext(o.EnvelopeID))
		}
	}
	return sb.String(), nil
}

// rcptCmd renders RCPT TO with NOTIFY and ORCPT when the server announced
// DSN.
func rcptCmd(c *smtpwire.Client, to string, o *smtp.RcptOptions) (string, error) {
	if strings.ContainsAny(to, "\r\n<>") {
		return "", errors.New("malformed recipient address")
	}
	var sb strings.Builder
	sb.WriteString("RCPT TO:<")
	sb.WriteString(to)
	sb.WriteByte('>')
	if c.Has("DSN") {
		if len(o.Notify) > 0 {
			sb.WriteString(" NOTIFY=")
			for i, n := range o.Notify {
				if i > 0 {
					sb.WriteByte(',')
				}
				sb.WriteString(string(n))
			}
		}
		if o.OriginalRecipient != "" {
			sb.WriteString(" ORCPT=")
			sb.WriteString(string(o.OriginalRecipientType))
			sb.WriteByte(';')
			switch {
			case o.OriginalRecipientType == smtp.DSNAddressTypeRFC822:
				sb.WriteString(xtext(o.OriginalRecipient))
			case c.Has("SMTPUTF8"):
				sb.WriteString(utf8AddrText(o.OriginalRecipient, true))
			default:
				sb.WriteString(utf8AddrText(o.OriginalRecipient, false))
			}
		}
	}
	return sb.String(), nil
}

// xtext encodes s as RFC 3461 xtext.
func xtext(s string) string {
	var sb strings.Builder
	for _, ch := range s {
		if ch >= '!' && ch <= '~' && ch != '+' && ch != '=' {
			sb.WriteRune(ch)
			continue
		}
		sb.WriteByte('+')
		sb.WriteString(strings.ToUpper(strconv.FormatInt(int64(ch), 16)))
	}
	return sb.String()
}

// utf8AddrText encodes s as RFC 6533 utf-8-addr-unitext (non-ASCII kept,
// for SMTPUTF8 servers) or utf-8-addr-xtext.
func utf8AddrText(s string, unitext bool) string {
	var sb strings.Builder
	for _, ch := range s {
		switch {
		case ch >= '!' && ch <= '~' && ch != '+' && ch != '=':
			sb.WriteRune(ch)
		case unitext && ch > 0x7f:
			sb.WriteRune(ch)
		default:
			sb.WriteString(`\x{`)
			sb.WriteString(strings.ToUpper(strconv.FormatInt(int64(ch), 16)))
			sb.WriteByte('}')
		}
	}
	return sb.String()
}
