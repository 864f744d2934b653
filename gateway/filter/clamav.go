package filter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// NotScannedHeader is added when a scanner failed and OnError is Accept.
const NotScannedHeader = "X-Bridgehead-Virus-Scan: not scanned"

// ClamAVOptions configure the clamd filter.
type ClamAVOptions struct {
	// Address is clamd's host:port, or the path of its Unix socket (any
	// address containing a "/").
	Address string
	// Timeout bounds one scan, connection included. Default 30s.
	Timeout time.Duration
	// OnError is what happens when clamd is down or too slow.
	OnError OnError
	// ChunkSize is the size of the INSTREAM chunks. Default 64 KiB; it
	// must stay below clamd's StreamMaxLength.
	ChunkSize int
	// Dial connects to clamd. Default a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// ClamAV scans messages with clamd's INSTREAM command. clamd decodes the
// MIME structure itself (ScanMail), nested messages included.
type ClamAV struct{ o ClamAVOptions }

var _ Filter = (*ClamAV)(nil)

// NewClamAV builds the filter.
func NewClamAV(o ClamAVOptions) (*ClamAV, error) {
	if o.Address == "" {
		return nil, errors.New("clamav: no address")
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 64 << 10
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	return &ClamAV{o: o}, nil
}

// Name returns "clamav".
func (c *ClamAV) Name() string { return "clamav" }

// Check scans msg. Infected: 554 5.7.1 with the signature name. clamd
// failing: 451 4.7.1, or the NotScannedHeader when OnError is Accept.
func (c *ClamAV) Check(ctx context.Context, _ *Envelope, msg []byte) (Result, error) {
	found, sig, err := c.Scan(ctx, msg)
	switch {
	case err != nil && c.o.OnError == Accept:
		return Result{Headers: []string{NotScannedHeader}, Verdict: "not scanned", Reason: err.Error()}, nil
	case err != nil:
		return Result{}, &Rejection{Code: 451, Enhanced: [3]int{4, 7, 1},
			Message: "Virus scanner unavailable, try again later", Reason: err.Error()}
	case found:
		return Result{}, &Rejection{Code: 554, Enhanced: [3]int{5, 7, 1},
			Message: "Message refused: virus found: " + printable(sig, 120), Reason: "clamd: " + sig + " FOUND"}
	}
	return Result{Verdict: "clean"}, nil
}

// Scan sends data to clamd with INSTREAM and reports whether it found a
// signature, and its name.
func (c *ClamAV) Scan(ctx context.Context, data []byte) (found bool, signature string, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	network := "tcp"
	if strings.Contains(c.o.Address, "/") {
		network = "unix"
	}
	conn, err := c.o.Dial(ctx, network, c.o.Address)
	if err != nil {
		return false, "", fmt.Errorf("clamd: connect %s: %w", c.o.Address, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	w := bufio.NewWriterSize(conn, c.o.ChunkSize+4)
	w.WriteString("zINSTREAM\x00")
	var size [4]byte
	for len(data) > 0 {
		n := min(len(data), c.o.ChunkSize)
		binary.BigEndian.PutUint32(size[:], uint32(n))
		w.Write(size[:])
		w.Write(data[:n])
		data = data[n:]
	}
	binary.BigEndian.PutUint32(size[:], 0)
	w.Write(size[:])
	if err := w.Flush(); err != nil {
		// clamd closes early when the stream is over its limit; its
		// reply, if any, says so.
		if reply, rerr := readClamdReply(conn); rerr == nil && reply != "" {
			return false, "", fmt.Errorf("clamd: %s", reply)
		}
		return false, "", fmt.Errorf("clamd: send: %w", err)
	}
	reply, err := readClamdReply(conn)
	if err != nil {
		return false, "", fmt.Errorf("clamd: read reply: %w", err)
	}
	return parseClamdReply(reply)
}

// readClamdReply reads one NUL-terminated reply.
func readClamdReply(conn net.Conn) (string, error) {
	line, err := bufio.NewReaderSize(conn, 1024).ReadBytes(0)
	if err != nil && len(line) == 0 {
		return "", err
	}
	return string(bytes.TrimRight(line, "\x00\r\n")), nil
}

// parseClamdReply reads "stream: OK", "stream: NAME FOUND" or an error.
func parseClamdReply(reply string) (bool, string, error) {
	r := strings.TrimPrefix(reply, "stream: ")
	switch {
	case r == "OK":
		return false, "", nil
	case strings.HasSuffix(r, " FOUND"):
		return true, strings.TrimSuffix(r, " FOUND"), nil
	}
	return false, "", fmt.Errorf("clamd: %s", reply)
}
