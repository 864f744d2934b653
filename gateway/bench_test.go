package gateway

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// benchMessage is a 1 KiB message from alice.
func benchMessage() string {
	hdr := "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: benchmark\r\n\r\n"
	line := strings.Repeat("x", 62) + "\r\n"
	return hdr + strings.Repeat(line, (1024-len(hdr))/len(line))
}

// startBenchGateway runs a gateway with a real, fsynced queue on disk whose
// deliverer discards every message, and no logging.
func startBenchGateway(b *testing.B) *testGateway {
	b.Helper()
	return startGateway(b, func(s *setup) {
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		s.Opts.Logger, s.Queue.Logger = quiet, quiet
		s.Queue.Deliverer = discarder{}
		s.RunQueue = true
		s.Limits.MaxConnectionsPerIP = 10000
		s.Limits.MaxConnections = 10000
	})
}

// submitOne is the accept path: connect, STARTTLS, AUTH PLAIN, one message
// written to the queue and fsynced before the 250, QUIT.
func submitOne(b *testing.B, tg *testGateway, msg string) {
	c, err := smtp.DialStartTLS(tg.addrs[lnSubmission], tg.clientTLS)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", aliceLogin, alicePass)); err != nil {
		b.Fatal(err)
	}
	if err := c.SendMail(alice, []string{bob}, strings.NewReader(msg)); err != nil {
		b.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkAcceptPath(b *testing.B) {
	tg := startBenchGateway(b)
	msg := benchMessage()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		submitOne(b, tg, msg)
	}
}

func BenchmarkAcceptPathParallel(b *testing.B) {
	tg := startBenchGateway(b)
	msg := benchMessage()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			submitOne(b, tg, msg)
		}
	})
}

// BenchmarkStrictReader checks a 100 KiB message for bare CR, bare LF and
// long lines, as every message's DATA is.
func BenchmarkStrictReader(b *testing.B) {
	line := strings.Repeat("y", 76) + "\r\n"
	msg := []byte(strings.Repeat(line, 100<<10/len(line)))
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		sr := &strictReader{r: bytes.NewReader(msg), maxLine: 1000}
		for {
			if _, err := sr.Read(buf); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
