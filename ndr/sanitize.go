package ndr

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

const (
	// maxLine is the longest line RFC 5322 allows, without its CRLF.
	maxLine = 998
	// foldAt is the line length folding aims for where whitespace allows.
	foldAt = 78
	// maxDiagnostic caps a Diagnostic-Code value; a longer one is cut.
	maxDiagnostic = 4000
	// maxShort caps addresses, host names and ids.
	maxShort = 512
)

// oneLine reduces s to a single line of valid UTF-8: control characters
// (CR and LF among them) become spaces, runs of whitespace collapse into
// one space, and the ends are trimmed.
func oneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if r < 0x20 || r == 0x7f || r == ' ' || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// asciiLine is oneLine with every non-ASCII character replaced by '?', for
// the delivery-status fields that must be 7-bit text.
func asciiLine(s string) string {
	s = oneLine(s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return strings.Map(func(r rune) rune {
				if r >= 0x80 {
					return '?'
				}
				return r
			}, s)
		}
	}
	return s
}

// token reduces s to one word with none of the characters that would end
// or break out of an address, host name or message id: whitespace,
// controls, angle brackets.
func token(s string) string {
	s = strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	return truncate(s, maxShort)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// isASCII reports whether s holds only 7-bit characters.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// writeField writes "name: value" CRLF to b, folding at spaces so lines
// stay near foldAt octets and breaking words that would pass maxLine. value
// must be one line (see oneLine); an empty value writes nothing.
func writeField(b *bytes.Buffer, name, value string) {
	if value == "" {
		return
	}
	b.WriteString(name)
	b.WriteString(": ")
	col := len(name) + 2
	onLine := 0 // words written on the current line
	for i, w := range strings.Split(value, " ") {
		if i > 0 {
			if onLine > 0 && col+1+len(w) > foldAt {
				b.WriteString("\r\n")
				col, onLine = 0, 0
			}
			b.WriteByte(' ')
			col++
		}
		for col+len(w) > maxLine {
			n := maxLine - col
			b.WriteString(w[:n])
			b.WriteString("\r\n ")
			w = w[n:]
			col, onLine = 1, 0
		}
		b.WriteString(w)
		col += len(w)
		onLine++
	}
	b.WriteString("\r\n")
}
