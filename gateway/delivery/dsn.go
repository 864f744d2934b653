package delivery

import (
	"strings"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/gateway/queue"
)

// mailOptions carries the envelope's DSN parameters (RET, ENVID) and size;
// mailCmd sends the DSN ones only when the server advertises DSN.
func mailOptions(env *queue.Envelope, utf8 bool) *smtp.MailOptions {
	o := &smtp.MailOptions{Size: env.Size, UTF8: utf8}
	switch ret := smtp.DSNReturn(strings.ToUpper(env.Ret)); ret {
	case smtp.DSNReturnFull, smtp.DSNReturnHeaders:
		o.Return = ret
	}
	if printableASCII(env.EnvID) {
		o.EnvelopeID = env.EnvID
	}
	return o
}

// rcptOptions carries a recipient's NOTIFY and ORCPT; malformed values are
// left out rather than failing the recipient.
func rcptOptions(r *queue.Recipient) *smtp.RcptOptions {
	o := &smtp.RcptOptions{}
	if notifyValid(r.Notify) {
		for _, n := range r.Notify {
			o.Notify = append(o.Notify, smtp.DSNNotify(strings.ToUpper(n)))
		}
	}
	if typ, addr, ok := strings.Cut(r.ORCPT, ";"); ok && addr != "" {
		switch {
		case strings.EqualFold(typ, "rfc822") && printableASCII(addr):
			o.OriginalRecipientType, o.OriginalRecipient = smtp.DSNAddressTypeRFC822, addr
		case strings.EqualFold(typ, "utf-8"):
			o.OriginalRecipientType, o.OriginalRecipient = smtp.DSNAddressTypeUTF8, addr
		}
	}
	return o
}

// notifyValid reports whether the NOTIFY keywords are NEVER alone or a set
// of SUCCESS, FAILURE and DELAY.
func notifyValid(kws []string) bool {
	if len(kws) == 0 {
		return false
	}
	seen := map[string]bool{}
	for _, k := range kws {
		k = strings.ToUpper(k)
		switch k {
		case "NEVER":
			if len(kws) != 1 {
				return false
			}
		case "SUCCESS", "FAILURE", "DELAY":
		default:
			return false
		}
		if seen[k] {
			return false
		}
		seen[k] = true
	}
	return true
}

func printableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > 0x7f {
			return false
		}
	}
	return true
}
