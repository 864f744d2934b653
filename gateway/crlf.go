package gateway

import (
	"bytes"
	"errors"
	"io"
)

// Errors of strictReader.
var (
	errBareLF      = errors.New("bare CR or LF in message")
	errLineTooLong = errors.New("message line too long")
)

// strictReader passes a message through unchanged while refusing what SMTP
// smuggling relies on: a CR not followed by LF, or an LF not preceded by CR
// (CVE-2023-51764 and kin). It also bounds line length. go-smtp passes both
// through untouched, so this is ours to do.
type strictReader struct {
	r       io.Reader
	maxLine int // bytes per line including CRLF
	line    int // bytes in the current line so far
	cr      bool
	err     error
}

func (s *strictReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	if i, serr := s.scan(p[:n]); serr != nil {
		s.err = serr
		return i, serr
	}
	if err == io.EOF && s.cr {
		s.err = errBareLF
		return n, s.err
	}
	return n, err
}

// scan checks b, the next bytes of the message, a line at a time with
// bytes.IndexByte (a message is mostly long runs between line ends), and
// returns how many bytes came before the first offence and which it is.
func (s *strictReader) scan(b []byte) (int, error) {
	longest := s.maxLine - 1 // bytes of a line before its LF, CR included
	i := 0
	for i < len(b) {
		if s.cr { // the previous byte, perhaps from the previous Read, was CR
			if b[i] != '\n' {
				return i, errBareLF
			}
			s.cr, s.line = false, 0
			i++
			continue
		}
		rest := b[i:]
		end := bytes.IndexByte(rest, '\n')
		seg := rest // the bytes up to the next LF, or to the end of b
		if end >= 0 {
			seg = rest[:end]
		}
		at, err := len(seg), error(nil)
		if cr := bytes.IndexByte(seg, '\r'); cr >= 0 && cr < len(seg)-1 {
			at, err = cr+1, errBareLF // a CR followed by something else
		} else if end >= 0 && (len(seg) == 0 || seg[len(seg)-1] != '\r') {
			at, err = len(seg), errBareLF // an LF without its CR
		}
		if over := longest - s.line; over < len(seg) && over < at {
			at, err = over, errLineTooLong
		}
		if err != nil {
			return i + at, err
		}
		if end < 0 {
			s.line += len(seg)
			s.cr = len(seg) > 0 && seg[len(seg)-1] == '\r'
			return len(b), nil
		}
		s.line = 0
		i += end + 1
	}
	return len(b), nil
}
