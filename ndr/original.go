package ndr

import (
	"bufio"
	"bytes"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// original is the original message made fit to travel inside a report.
type original struct {
	// header is the header section, each line ending in CRLF, without the
	// blank line that ends it.
	header []byte
	// full is the whole message.
	full []byte
	// eightBit is set when header (or, for full, the message) holds octets
	// over 127.
	headerEightBit, fullEightBit bool
}

// normalize turns b into lines that RFC 5322 allows: every line ends in
// CRLF (a bare LF or CR becomes CRLF), NUL octets become spaces, and a line
// longer than maxLine octets is broken, in the header section into
// continuation lines so that fields stay fields.
func normalize(b []byte) original {
	var o original
	out := make([]byte, 0, len(b)+len(b)/32+2)
	inHeader := true
	headerEnd := -1
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line = b[:i]
			if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
				b = b[i+2:]
			} else {
				b = b[i+1:]
			}
		}
		if inHeader && len(line) == 0 {
			inHeader = false
			headerEnd = len(out)
		}
		cont := false
		for {
			n := len(line)
			limit := maxLine
			if cont {
				limit--
			}
			if n > limit {
				n = limit
			}
			if cont {
				out = append(out, ' ')
			}
			for _, c := range line[:n] {
				if c == 0 {
					c = ' '
				}
				if c >= 0x80 {
					o.fullEightBit = true
					if inHeader {
						o.headerEightBit = true
					}
				}
				out = append(out, c)
			}
			out = append(out, '\r', '\n')
			line = line[n:]
			if len(line) == 0 {
				break
			}
			cont = inHeader
		}
	}
	if headerEnd < 0 {
		headerEnd = len(out)
	}
	o.full = out
	o.header = out[:headerEnd]
	return o
}

// capHeader cuts a header section to at most max octets, at the end of a
// field (never inside a folded field). It reports whether it cut.
func capHeader(h []byte, max int) ([]byte, bool) {
	if len(h) <= max {
		return h, false
	}
	end := 0
	for i := 0; i+1 < len(h) && i+2 <= max; i++ {
		if h[i] == '\r' && h[i+1] == '\n' {
			next := i + 2
			if next >= len(h) || (h[next] != ' ' && h[next] != '\t') {
				end = next
			}
		}
	}
	return h[:end], true
}

// originalFacts are what the report takes from the original's header.
type originalFacts struct {
	messageID string // without angle brackets; "" when none or unusable
	subject   string // decoded, one line
}

// readFacts parses the original's header, as far as it parses, for its
// Message-ID and Subject.
func readFacts(header []byte) originalFacts {
	var f originalFacts
	if len(header) == 0 {
		return f
	}
	hdr, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(append(header[:len(header):len(header)], '\r', '\n'))))
	h := mail.Header{}
	h.Header.Header = hdr
	if id, err := h.MessageID(); err == nil && validMsgID(id) {
		f.messageID = id
	}
	if s, err := h.Subject(); err == nil {
		f.subject = truncate(oneLine(s), maxShort)
	}
	return f
}

// validMsgID reports whether id (without angle brackets) can be written
// back into a header field as it is: printable ASCII, no space, no angle
// brackets, and short enough never to need folding.
func validMsgID(id string) bool {
	if id == "" || len(id) > maxShort {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}
