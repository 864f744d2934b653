package gateway

import (
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
	for i := 0; i < n; i++ {
		c := p[i]
		switch {
		case s.cr && c != '\n':
			s.err = errBareLF
		case c == '\n' && !s.cr:
			s.err = errBareLF
		}
		if s.err != nil {
			return i, s.err
		}
		s.cr = c == '\r'
		if c == '\n' {
			s.line = 0
			continue
		}
		s.line++
		if s.line > s.maxLine-1 { // the line's CRLF counts toward the limit
			s.err = errLineTooLong
			return i, s.err
		}
	}
	if err == io.EOF && s.cr {
		s.err = errBareLF
		return n, s.err
	}
	return n, err
}
