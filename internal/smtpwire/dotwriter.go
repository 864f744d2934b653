package smtpwire

import (
	"bytes"
	"fmt"
	"io"
)

// DotWriter writes a message body for DATA (RFC 5321 section 4.5.2): a
// dot is added before every line that starts with one, and Close ends the
// body with CRLF if it lacks one, then ".\r\n". The body is expected with
// CRLF line ends (as the queue stores it); it is copied in runs between
// the lines to stuff, found with bytes.Index, not byte by byte.
type DotWriter struct {
	w io.Writer
	// last two bytes written of the body, to know whether the next one
	// starts a line and whether the body ends with CRLF.
	prev, last byte
	n          int64 // body bytes seen
}

// NewDotWriter writes a body to w.
func NewDotWriter(w io.Writer) *DotWriter { return &DotWriter{w: w} }

var dot = []byte{'.'}

// Write stuffs and writes p.
func (d *DotWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	total := len(p)
	if (d.n == 0 || d.last == '\n') && p[0] == '.' {
		if _, err := d.w.Write(dot); err != nil {
			return 0, err
		}
	}
	done := 0
	for rest := p; ; {
		i := bytes.Index(rest, []byte("\n."))
		if i < 0 {
			break
		}
		// Write through the "\n", then the extra dot; the line's own dot
		// starts the next run.
		if _, err := d.w.Write(rest[:i+1]); err != nil {
			return done, err
		}
		if _, err := d.w.Write(dot); err != nil {
			return done + i + 1, err
		}
		done += i + 1
		rest = rest[i+1:]
	}
	if done < total {
		if _, err := d.w.Write(p[done:]); err != nil {
			return done, err
		}
	}
	if total >= 2 {
		d.prev, d.last = p[total-2], p[total-1]
	} else {
		d.prev, d.last = d.last, p[0]
	}
	d.n += int64(total)
	return total, nil
}

// CopyFrom copies r into d through buf, a buffer the caller keeps for
// every message (io.Copy would take 32 KiB per call).
func (d *DotWriter) CopyFrom(r io.Reader, buf []byte) error {
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := d.Write(buf[:n]); werr != nil {
				return fmt.Errorf("write body: %w", werr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
	}
}

// Close ends the body: CRLF when it does not end with one, then the
// terminating ".\r\n". An empty body is just ".\r\n".
func (d *DotWriter) Close() error {
	end := ".\r\n"
	if d.n > 0 && (d.prev != '\r' || d.last != '\n') {
		end = "\r\n.\r\n"
	}
	_, err := io.WriteString(d.w, end)
	return err
}
