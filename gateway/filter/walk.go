package filter

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"net/url"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// maxDepth bounds the nesting of multiparts and attached messages.
const maxDepth = 32

// ErrTooDeep is returned by Walk for a message nested deeper than the
// walk follows.
var ErrTooDeep = errors.New("MIME structure nested too deeply")

// Part is one node of a message's MIME tree, located in the raw bytes so
// that it can be replaced while the rest stays byte-identical.
type Part struct {
	// Path is the child index at each level below the message; empty for
	// the message itself. The message inside a message/rfc822 part is
	// child 0 of that part.
	Path []int
	// Start, BodyStart and End locate the part: msg[Start:End] is the part
	// with its header, msg[BodyStart:End] its body. The line end before a
	// multipart delimiter belongs to the delimiter, not to the part.
	Start, BodyStart, End int
	// Header is the part's header, parsed by go-message.
	Header message.Header
	// MediaType is the lower-case content type; the RFC 2045/2046 default
	// when the header has none or an unreadable one.
	MediaType string
	// Filename is the decoded file name from Content-Disposition filename
	// or Content-Type name (RFC 2231 and RFC 2047 encodings); "" if none.
	Filename string
	params   map[string]string
}

// Walk calls fn for each part of msg, a parent before its children:
// multipart children and the message inside an unencoded message/rfc822
// (or message/global) part. fn returns whether to descend into the part.
// Header fields are parsed by go-message; the walk itself only finds the
// boundaries, so that every part has exact offsets.
func Walk(msg []byte, fn func(*Part) bool) error {
	return walk(msg, 0, len(msg), nil, "text/plain", fn)
}

func walk(b []byte, start, end int, path []int, defType string, fn func(*Part) bool) error {
	if len(path) > maxDepth {
		return ErrTooDeep
	}
	p := parsePart(b, start, end, defType)
	p.Path = path
	if !fn(p) {
		return nil
	}
	child := func(i int) []int { return append(path[:len(path):len(path)], i) }
	switch {
	case strings.HasPrefix(p.MediaType, "multipart/"):
		boundary := p.params["boundary"]
		if boundary == "" {
			return nil
		}
		def := "text/plain"
		if p.MediaType == "multipart/digest" {
			def = "message/rfc822"
		}
		for i, r := range splitMultipart(b, p.BodyStart, end, boundary) {
			if err := walk(b, r[0], r[1], child(i), def, fn); err != nil {
				return err
			}
		}
	case p.MediaType == "message/rfc822" || p.MediaType == "message/global":
		switch strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))) {
		case "", "7bit", "8bit", "binary":
			return walk(b, p.BodyStart, end, child(0), "text/plain", fn)
		}
	}
	return nil
}

// parsePart reads the header of b[start:end].
func parsePart(b []byte, start, end int, defType string) *Part {
	bodyStart := headerEnd(b, start, end)
	p := &Part{Start: start, BodyStart: bodyStart, End: end, Header: message.Header{Header: readHeader(b[start:bodyStart])}}
	mt, params, err := p.Header.ContentType()
	if !p.Header.Has("Content-Type") {
		mt, params, err = defType, nil, nil // go-message assumes text/plain
	}
	if err != nil || mt == "" {
		// Undecodable parameter values: read them without charset
		// conversion rather than lose the file name.
		mt, params = lenientMediaType(p.Header.Get("Content-Type"))
	}
	if mt == "" || !strings.Contains(mt, "/") {
		mt = defType
	}
	p.MediaType, p.params = strings.ToLower(mt), params
	ah := mail.AttachmentHeader{Header: p.Header}
	name, err := ah.Filename()
	if err != nil || name == "" {
		_, dp := lenientMediaType(p.Header.Get("Content-Disposition"))
		name = dp["filename"]
		if name == "" {
			name = params["name"]
		}
	}
	if name == "" {
		// A charset Go's RFC 2231 decoder does not know drops the
		// parameter without an error: read it raw.
		name = rawParam(p.Header.Get("Content-Disposition"), "filename")
		if name == "" {
			name = rawParam(p.Header.Get("Content-Type"), "name")
		}
	}
	if strings.Contains(name, "=?") {
		// go-message hands back the raw words when it does not know
		// their charset.
		if d, err := (&mime.WordDecoder{CharsetReader: passCharset}).DecodeHeader(name); err == nil {
			name = d
		}
	}
	p.Filename = name
	return p
}

// headerEnd returns where the body of the part at b[start:end] begins:
// after the empty line ending its header, or end when there is none.
func headerEnd(b []byte, start, end int) int {
	for i := start; i < end; {
		j := bytes.IndexByte(b[i:end], '\n')
		if j < 0 {
			return end
		}
		if j == 0 || (j == 1 && b[i] == '\r') {
			return i + j + 1
		}
		i += j + 1
	}
	return end
}

// readHeader parses a header block with go-message. Lines it refuses
// (no colon, not a continuation) are dropped and the rest parsed again,
// as mail readers do, so that a junk line cannot hide the fields after it.
func readHeader(raw []byte) textproto.Header {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(withBlankLine(raw))))
	if err == nil {
		return h
	}
	var clean []byte
	for _, line := range bytes.SplitAfter(raw, []byte("\n")) {
		t := bytes.TrimRight(line, "\r\n")
		if len(t) == 0 {
			continue
		}
		if t[0] == ' ' || t[0] == '\t' || bytes.IndexByte(t, ':') > 0 {
			clean = append(clean, t...)
			clean = append(clean, '\r', '\n')
		}
	}
	h, err = textproto.ReadHeader(bufio.NewReader(bytes.NewReader(withBlankLine(clean))))
	if err != nil {
		return textproto.Header{}
	}
	return h
}

func withBlankLine(raw []byte) []byte {
	if bytes.HasSuffix(raw, []byte("\n\n")) || bytes.HasSuffix(raw, []byte("\r\n\r\n")) || len(raw) == 0 ||
		bytes.Equal(raw, []byte("\r\n")) || bytes.Equal(raw, []byte("\n")) {
		return raw
	}
	out := append([]byte(nil), raw...)
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\r', '\n')
	}
	return append(out, '\r', '\n')
}

// lenientMediaType parses a Content-Type or Content-Disposition value,
// decoding RFC 2047 words in any charset byte for byte (file name
// extensions are ASCII) and falling back to a plain scan when the value
// is malformed.
func lenientMediaType(v string) (string, map[string]string) {
	dec := mime.WordDecoder{CharsetReader: passCharset}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		params = scanParams(v)
		if i := strings.IndexByte(v, ';'); i >= 0 {
			mt = strings.ToLower(strings.TrimSpace(v[:i]))
		} else {
			mt = strings.ToLower(strings.TrimSpace(v))
		}
	}
	for k, val := range params {
		if d, err := dec.DecodeHeader(val); err == nil {
			params[k] = d
		}
	}
	return mt, params
}

// scanParams reads name=value pairs from a malformed header value.
func scanParams(v string) map[string]string {
	params := map[string]string{}
	for _, f := range strings.Split(v, ";")[1:] {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		k = strings.TrimSuffix(k, "*")
		val = strings.Trim(strings.TrimSpace(val), `"`)
		if _, seen := params[k]; !seen {
			params[k] = val
		}
	}
	return params
}

// splitMultipart returns the offsets of the parts of a multipart body
// b[start:end] (RFC 2046 5.1.1): between delimiter lines "--boundary",
// up to the close delimiter "--boundary--" or, when it is missing, the end.
// Preamble and epilogue are not parts.
func splitMultipart(b []byte, start, end int, boundary string) [][2]int {
	delim := []byte("--" + boundary)
	var parts [][2]int
	cur := -1
	for i := start; i < end; {
		lineEnd, next := end, end
		if j := bytes.IndexByte(b[i:end], '\n'); j >= 0 {
			lineEnd, next = i+j, i+j+1
		}
		if line := b[i:lineEnd]; bytes.HasPrefix(line, delim) {
			rest := bytes.TrimRight(line[len(delim):], " \t\r")
			closing := bytes.Equal(rest, []byte("--"))
			if len(rest) == 0 || closing {
				if cur >= 0 {
					pe := i
					if pe > cur && b[pe-1] == '\n' {
						pe--
						if pe > cur && b[pe-1] == '\r' {
							pe--
						}
					}
					parts = append(parts, [2]int{cur, pe})
				}
				if closing {
					return parts
				}
				cur = next
			}
		}
		i = next
	}
	if cur >= 0 {
		parts = append(parts, [2]int{cur, end})
	}
	return parts
}

// rawParam reads parameter key of a header value without charset
// conversion: plain, RFC 2231 extended (key*=charset'lang'%XX) and
// continued (key*0, key*1*, ...) forms.
func rawParam(v, key string) string {
	pieces := map[int]string{}
	maxN := -1
	for _, f := range strings.Split(v, ";")[1:] {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.Trim(strings.TrimSpace(val), `"`)
		if !strings.HasPrefix(k, key) {
			continue
		}
		rest := k[len(key):]
		ext := strings.HasSuffix(rest, "*")
		rest = strings.TrimSuffix(rest, "*")
		n := 0
		switch {
		case rest == "":
		case strings.HasPrefix(rest, "*"):
			var err error
			if n, err = strconv.Atoi(rest[1:]); err != nil || n < 0 || n > 100 {
				continue
			}
		default:
			continue // another parameter with the same prefix
		}
		if ext {
			if n == 0 {
				if i := strings.LastIndexByte(val, '\''); i >= 0 {
					val = val[i+1:]
				}
			}
			if u, err := url.PathUnescape(val); err == nil {
				val = u
			}
		}
		if _, seen := pieces[n]; !seen {
			pieces[n] = val
		}
		maxN = max(maxN, n)
	}
	var sb strings.Builder
	for i := 0; i <= maxN; i++ {
		sb.WriteString(pieces[i])
	}
	return sb.String()
}

// passCharset hands encoded bytes through unconverted.
func passCharset(_ string, r io.Reader) (io.Reader, error) { return r, nil }
