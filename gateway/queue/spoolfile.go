package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
)

// A committed message is one file, msg/<id>: the message bytes, then the
// envelope as committed (JSON, newline-terminated), then a fixed-size
// footer line
//
//	BHQ1 <body length, 16 hex> <envelope length, 8 hex> <CRC-32C of the envelope, 8 hex>\n
//
// so that Commit creates, fsyncs and renames one file instead of two.
// Later changes to the envelope go to env/<id>.json, which then takes
// precedence. Files without a footer (written before this format, and the
// copies in failed/ of those) are message bytes only.

// footerLen is the length of the footer line.
const footerLen = len("BHQ1 0000000000000000 00000000 00000000\n")

// maxTrailerEnvelope bounds the envelope length a footer may claim.
const maxTrailerEnvelope = 64 << 20

// crc32c computes the footer's checksum.
func crc32c(b []byte) uint32 {
	return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
}

// crc32cUpdate returns the CRC-32C crc updated with b.
func crc32cUpdate(crc uint32, b []byte) uint32 {
	return crc32.Update(crc, crc32.MakeTable(crc32.Castagnoli), b)
}

// appendTrailer appends the envelope and the footer to dst, for a message
// of bodyLen bytes.
func appendTrailer(dst []byte, bodyLen int64, envJSON []byte) []byte {
	dst = append(dst, envJSON...)
	return fmt.Appendf(dst, "BHQ1 %016x %08x %08x\n", bodyLen, len(envJSON), crc32c(envJSON))
}

// footer is a parsed footer line.
type footer struct {
	body, env int64
	crc       uint32
}

// parseFooter parses the last footerLen bytes b of a file of size bytes.
// It reports false when they are not a footer consistent with the size.
func parseFooter(b []byte, size int64) (footer, bool) {
	if len(b) != footerLen || !bytes.HasPrefix(b, []byte("BHQ1 ")) || b[21] != ' ' || b[30] != ' ' || b[39] != '\n' {
		return footer{}, false
	}
	body, err1 := strconv.ParseUint(string(b[5:21]), 16, 63)
	env, err2 := strconv.ParseUint(string(b[22:30]), 16, 32)
	crc, err3 := strconv.ParseUint(string(b[31:39]), 16, 32)
	if err1 != nil || err2 != nil || err3 != nil || env > maxTrailerEnvelope ||
		int64(body) != size-int64(env)-int64(footerLen) {
		return footer{}, false
	}
	return footer{body: int64(body), env: int64(env), crc: uint32(crc)}, true
}

// readFooter returns the footer of the open file f, or false.
func readFooter(f *os.File) (footer, bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return footer{}, false, err
	}
	size := fi.Size()
	if size < int64(footerLen) {
		return footer{}, false, nil
	}
	b := make([]byte, footerLen)
	if _, err := f.ReadAt(b, size-int64(footerLen)); err != nil {
		return footer{}, false, err
	}
	ft, ok := parseFooter(b, size)
	return ft, ok, nil
}

// errNoTrailer means a message file has no complete, intact trailer: it was
// not committed.
var errNoTrailer = errors.New("no envelope trailer")

// readTrailer returns the envelope committed at the end of message file
// path, or an error wrapping errNoTrailer when there is none.
func readTrailer(path string) (*Envelope, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read envelope trailer: %w", err)
	}
	defer func() { _ = f.Close() }()
	ft, ok, err := readFooter(f)
	if err != nil {
		return nil, fmt.Errorf("read envelope trailer: %w", err)
	}
	if !ok {
		return nil, errNoTrailer
	}
	data := make([]byte, ft.env)
	if _, err := f.ReadAt(data, ft.body); err != nil {
		return nil, fmt.Errorf("read envelope trailer: %w", err)
	}
	if crc32c(data) != ft.crc {
		return nil, fmt.Errorf("%w: checksum mismatch", errNoTrailer)
	}
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("decode envelope trailer: %w", err)
	}
	return &env, nil
}

// bodyFile is an open message file read up to its trailer.
type bodyFile struct {
	*io.SectionReader
	f *os.File
}

func (b *bodyFile) Close() error { return b.f.Close() }

// openBody opens the message bytes in path, without the trailer if the
// file has one.
func openBody(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	ft, ok, err := readFooter(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !ok {
		return f, nil
	}
	return &bodyFile{SectionReader: io.NewSectionReader(f, 0, ft.body), f: f}, nil
}
