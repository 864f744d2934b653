package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand"
	"strings"
	"testing"
	"testing/iotest"
)

// refDataReader is dataReader as released in v0.25.1: the state machine a
// byte at a time. The bulk copy must give the same bytes and errors.
type refDataReader struct {
	r     *bufio.Reader
	state int
}

func (r *refDataReader) Read(b []byte) (n int, err error) {
	for n < len(b) && r.state != stateEOF {
		var c byte
		c, err = r.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			break
		}
		switch r.state {
		case stateBeginLine:
			if c == '.' {
				r.state = stateDot
				continue
			}
			if c == '\r' {
				r.state = stateCR
				break
			}
			r.state = stateData
		case stateDot:
			if c == '\r' {
				r.state = stateDotCR
				continue
			}
			r.state = stateData
		case stateDotCR:
			if c == '\n' {
				r.state = stateEOF
				continue
			}
			r.state = stateData
		case stateCR:
			if c == '\n' {
				r.state = stateBeginLine
				break
			}
			r.state = stateData
		case stateData:
			if c == '\r' {
				r.state = stateCR
			}
		}
		b[n] = c
		n++
	}
	if err == nil && r.state == stateEOF {
		err = io.EOF
	}
	return
}

// refLineLimitReader is lineLimitReader as released in v0.25.1.
type refLineLimitReader struct {
	R             io.Reader
	LineLimit     int
	curLineLength int
}

func (r *refLineLimitReader) Read(b []byte) (int, error) {
	if r.curLineLength > r.LineLimit && r.LineLimit > 0 {
		return 0, ErrTooLongLine
	}
	n, err := r.R.Read(b)
	if err != nil {
		return n, err
	}
	if r.LineLimit == 0 {
		return n, nil
	}
	for _, chr := range b[:n] {
		if chr == '\n' {
			r.curLineLength = 0
		}
		r.curLineLength++
		if r.curLineLength > r.LineLimit {
			return 0, ErrTooLongLine
		}
	}
	return n, nil
}

// readAllChunks reads r to the end with reads of chunk bytes and returns
// what it read, the error that ended it, and what the underlying buffered
// reader still holds (the bytes after the end of data).
func readAllChunks(r io.Reader, chunk int, rest *bufio.Reader) (string, error, string) {
	var out bytes.Buffer
	buf := make([]byte, chunk)
	var err error
	for {
		var n int
		n, err = r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	after, _ := io.ReadAll(rest)
	return out.String(), err, string(after)
}

// compareDataReaders feeds in through both readers, the source delivering
// its bytes in pieces as a network would, and reports any difference.
func compareDataReaders(t *testing.T, in string, bufSize, chunk int, piece func(io.Reader) io.Reader) {
	t.Helper()
	fastR := bufio.NewReaderSize(piece(strings.NewReader(in)), bufSize)
	refR := bufio.NewReaderSize(piece(strings.NewReader(in)), bufSize)
	got, gotErr, gotRest := readAllChunks(&dataReader{r: fastR}, chunk, fastR)
	want, wantErr, wantRest := readAllChunks(&refDataReader{r: refR}, chunk, refR)
	if got != want || !errors.Is(gotErr, wantErr) || gotRest != wantRest {
		t.Fatalf("input %q (buffer %d, reads of %d):\n got %q, %v, rest %q\nwant %q, %v, rest %q",
			in, bufSize, chunk, got, gotErr, gotRest, want, wantErr, wantRest)
	}
}

func TestDataReaderBulkMatchesByteAtATime(t *testing.T) {
	cases := []string{
		"",
		".\r\n",
		"a\r\n.\r\n",
		"line one\r\nline two\r\n.\r\nQUIT\r\n",
		"..leading dot\r\n...two\r\n.\r\n",
		".\rx\r\n.\r\n",
		"bare\nLF\n.\nstill data\r\n.\r\n",
		"bare\rCR\r.\r\n\r\n.\r\n",
		"\r\r\n.\r\n",
		"no end of data",
		"ends in CR\r",
		"ends after dot\r\n.",
		strings.Repeat("x", 100) + "\r\n" + strings.Repeat("y", 5000) + "\r\n.\r\nMAIL FROM:<a@b>\r\n",
	}
	pieces := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
	}
	for name, piece := range pieces {
		for _, in := range cases {
			for _, bufSize := range []int{16, 64, 4096} {
				for _, chunk := range []int{1, 3, 17, 32 << 10} {
					t.Run(name, func(t *testing.T) { compareDataReaders(t, in, bufSize, chunk, piece) })
				}
			}
		}
	}
}

func TestDataReaderBulkRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte("ab.\r\n")
	for i := 0; i < 3000; i++ {
		in := make([]byte, rng.Intn(300))
		for j := range in {
			in[j] = alphabet[rng.Intn(len(alphabet))]
		}
		if rng.Intn(2) == 0 {
			in = append(in, "\r\n.\r\n"...)
		}
		compareDataReaders(t, string(in), 16+rng.Intn(64), 1+rng.Intn(100), iotest.HalfReader)
	}
}

func FuzzDataReaderBulk(f *testing.F) {
	f.Add([]byte("a\r\n..b\r\n.\r\nrest"), uint8(16), uint8(7))
	f.Add([]byte(".\r.\n\r\n.\r"), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, bufSize, chunk uint8) {
		compareDataReaders(t, string(in), 16+int(bufSize), 1+int(chunk), iotest.HalfReader)
	})
}

func TestLineLimitReaderBulkMatchesByteAtATime(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 3000; i++ {
		in := make([]byte, rng.Intn(400))
		for j := range in {
			if rng.Intn(8) == 0 {
				in[j] = '\n'
			} else {
				in[j] = 'x'
			}
		}
		limit := rng.Intn(40)
		chunk := 1 + rng.Intn(50)
		got, gotErr, _ := readAllChunks(&lineLimitReader{R: iotest.HalfReader(bytes.NewReader(in)), LineLimit: limit}, chunk, bufio.NewReader(strings.NewReader("")))
		want, wantErr, _ := readAllChunks(&refLineLimitReader{R: iotest.HalfReader(bytes.NewReader(in)), LineLimit: limit}, chunk, bufio.NewReader(strings.NewReader("")))
		if got != want || !errors.Is(gotErr, wantErr) {
			t.Fatalf("input %q, limit %d, reads of %d:\n got %q, %v\nwant %q, %v", in, limit, chunk, got, gotErr, want, wantErr)
		}
	}
}

// BenchmarkDataReader reads a 100 KiB message of 78-byte lines.
func BenchmarkDataReader(b *testing.B) {
	msg := strings.Repeat(strings.Repeat("x", 76)+"\r\n", 100<<10/78) + ".\r\n"
	buf := make([]byte, 32<<10)
	for _, impl := range []string{"bulk", "byte"} {
		b.Run(impl, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			src := strings.NewReader(msg)
			br := bufio.NewReaderSize(src, 4096)
			for i := 0; i < b.N; i++ {
				src.Reset(msg)
				br.Reset(src)
				var r io.Reader = &dataReader{r: br}
				if impl == "byte" {
					r = &refDataReader{r: br}
				}
				for {
					if _, err := r.Read(buf); err != nil {
						break
					}
				}
			}
		})
	}
}
