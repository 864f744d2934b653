package pickup

import "bytes"

// toCRLF returns b with every line ending in CRLF: a bare LF (the usual
// line end of a file) and a bare CR become CRLF, and an unterminated last
// line gets one. The queue and the back ends expect CRLF, and a bare CR or
// LF passed on is what SMTP smuggling feeds on.
func toCRLF(b []byte) []byte {
	extra := bytes.Count(b, []byte{'\n'}) - bytes.Count(b, []byte("\r\n")) + 2
	out := make([]byte, 0, len(b)+max(extra, 2))
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '\r':
			out = append(out, '\r', '\n')
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}
