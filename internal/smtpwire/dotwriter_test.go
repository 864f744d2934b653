package smtpwire

import (
	"bufio"
	"bytes"
	"io"
	"net/textproto"
	"strings"
	"testing"
)

func TestDotWriter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"empty", nil, ".\r\n"},
		{"one line", []string{"a\r\n"}, "a\r\n.\r\n"},
		{"no final CRLF", []string{"a\r\nb"}, "a\r\nb\r\n.\r\n"},
		{"ends with CR", []string{"a\r"}, "a\r\r\n.\r\n"},
		{"leading dot", []string{".a\r\n"}, "..a\r\n.\r\n"},
		{"dot lines", []string{"a\r\n.\r\n..b\r\n.c\r\n"}, "a\r\n..\r\n...b\r\n..c\r\n.\r\n"},
		{"only a dot", []string{"."}, "..\r\n.\r\n"},
		{"dot inside a line", []string{"a.b\r\n a.\r\n"}, "a.b\r\n a.\r\n.\r\n"},
		{"dot in the next write", []string{"a\r\n", ".b\r\n"}, "a\r\n..b\r\n.\r\n"},
		{"LF and dot split", []string{"a\r", "\n", ".", "b\r\n"}, "a\r\n..b\r\n.\r\n"},
		{"CR and LF split", []string{"a\r", "\n"}, "a\r\n.\r\n"},
		{"one byte writes", strings.Split(".x\r\n.\r\n", ""), "..x\r\n..\r\n.\r\n"},
		{"empty writes", []string{"", "a\r\n", "", ".\r\n"}, "a\r\n..\r\n.\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			w := NewDotWriter(&out)
			for _, s := range tc.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
}

// TestDotWriterMatchesTextproto compares a large CRLF body, copied in
// chunks of odd sizes, with net/textproto's DotWriter.
func TestDotWriterMatchesTextproto(t *testing.T) {
	t.Parallel()
	body := []byte(benchBody(300 << 10))
	body = append(body, ".\r\n..\r\n.end\r\n"...)
	var want bytes.Buffer
	bw := bufio.NewWriter(&want)
	tw := textproto.NewWriter(bw).DotWriter()
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 2, 3, 77, 4096, 32 << 10, len(body)} {
		var got bytes.Buffer
		w := NewDotWriter(&got)
		if _, err := io.CopyBuffer(w, onlyReader{bytes.NewReader(body)}, make([]byte, chunk)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("chunks of %d: output differs from textproto's (%d vs %d bytes)", chunk, got.Len(), want.Len())
		}
	}
}

// onlyReader hides bytes.Reader's WriteTo so that io.CopyBuffer uses the
// buffer given.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(b []byte) (int, error) { return o.r.Read(b) }

// errWriter fails after n bytes.
type errWriter struct{ n int }

func (e *errWriter) Write(b []byte) (int, error) {
	if len(b) > e.n {
		n := e.n
		e.n = 0
		return n, io.ErrClosedPipe
	}
	e.n -= len(b)
	return len(b), nil
}

func TestDotWriterError(t *testing.T) {
	t.Parallel()
	w := NewDotWriter(&errWriter{n: 3})
	if _, err := w.Write([]byte("abc\r\n.def\r\n")); err == nil {
		t.Fatal("write error not reported")
	}
}

func BenchmarkDotWriter(b *testing.B) {
	body := []byte(benchBody(100 << 10))
	b.SetBytes(int64(len(body)))
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			w := NewDotWriter(io.Discard)
			_, _ = w.Write(body)
			_ = w.Close()
		}
	})
	b.Run("textproto", func(b *testing.B) {
		bw := bufio.NewWriter(io.Discard)
		for b.Loop() {
			w := textproto.NewWriter(bw).DotWriter()
			_, _ = w.Write(body)
			_ = w.Close()
		}
	})
}

// benchBody is a message of about n bytes in 76-character lines, some of
// them starting with a dot.
func benchBody(n int) string {
	var sb strings.Builder
	sb.WriteString("From: alice@example.test\r\nTo: bob@example.test\r\nSubject: bench\r\n\r\n")
	line := strings.Repeat("x", 74) + "\r\n"
	for i := 0; sb.Len() < n; i++ {
		if i%10 == 0 {
			sb.WriteString("." + line[1:])
			continue
		}
		sb.WriteString(line)
	}
	return sb.String()
}
