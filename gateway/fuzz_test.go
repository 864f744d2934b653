package gateway

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// FuzzStrictReader checks the strict CRLF reader against a plain
// description of its rule: the output equals the input when every CR and LF
// is part of a CRLF pair and every line fits; otherwise the first offence
// is reported and only what came before it was passed on.
func FuzzStrictReader(f *testing.F) {
	for _, s := range []string{
		"", "a\r\n", "a\r\nb\r\n\r\n", "\n", "\r", "a\nb", "a\rb\r\n", "\r\n.\n", "\n.\r\n", "\n.\n",
		"x\r\r\n.\r\n", "From: a\r\n\r\nbody\r\n", "\r\n\r\n\r\n", "long line here\r\n",
	} {
		f.Add([]byte(s), uint16(10), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint16, oneByte bool) {
		limit := int(maxLine%4096) + 2
		var r io.Reader = bytes.NewReader(data)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		got, err := io.ReadAll(&strictReader{r: r, maxLine: limit})
		at, want := firstOffence(data, limit)
		if !errors.Is(err, want) || want == nil && err != nil {
			t.Fatalf("limit %d: err = %v, want %v (at %d)", limit, err, want, at)
		}
		if !bytes.Equal(got, data[:at]) {
			t.Fatalf("limit %d: passed on %q, want %q", limit, got, data[:at])
		}
		if _, err2 := (&strictReader{r: bytes.NewReader(nil), maxLine: limit, err: err}).Read(make([]byte, 1)); err != nil && err2 != err {
			t.Fatalf("error not sticky: %v then %v", err, err2)
		}
	})
}

// firstOffence returns where the first bare CR or LF, or the first byte
// beyond the line limit, is in data, and which error it is; len(data) and
// nil when there is none. A CR is an offence at the byte after it (or at
// the end when it is the last byte).
func firstOffence(data []byte, limit int) (int, error) {
	line := 0
	for i, c := range data {
		prevCR := i > 0 && data[i-1] == '\r'
		switch {
		case prevCR && c != '\n':
			return i, errBareLF
		case c == '\n' && !prevCR:
			return i, errBareLF
		case c == '\n':
			line = 0
			continue
		}
		line++
		if line > limit-1 {
			return i, errLineTooLong
		}
	}
	if n := len(data); n > 0 && data[n-1] == '\r' {
		return n, errBareLF
	}
	return len(data), nil
}
