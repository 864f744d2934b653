package filter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// fakeClamd answers one INSTREAM connection with reply and sends what it
// received (the stream, chunks joined) and the chunk sizes on got.
func fakeClamd(t *testing.T, reply string) (addr string, got <-chan []int, data <-chan []byte) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sizes, stream := make(chan []int, 1), make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		cmd, err := br.ReadString(0)
		if err != nil || cmd != "zINSTREAM\x00" {
			c.Write([]byte("UNKNOWN COMMAND\x00"))
			return
		}
		var all []byte
		var ns []int
		for {
			var n uint32
			if err := binary.Read(br, binary.BigEndian, &n); err != nil {
				return
			}
			if n == 0 {
				break
			}
			buf := make([]byte, n)
			if _, err := io.ReadFull(br, buf); err != nil {
				return
			}
			ns = append(ns, int(n))
			all = append(all, buf...)
		}
		sizes <- ns
		stream <- all
		c.Write([]byte(reply + "\x00"))
	}()
	return l.Addr().String(), sizes, stream
}

func TestClamAVProtocol(t *testing.T) {
	t.Parallel()
	addr, sizes, stream := fakeClamd(t, "stream: Eicar-Signature FOUND")
	c, err := NewClamAV(ClamAVOptions{Address: addr, ChunkSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	found, sig, err := c.Scan(context.Background(), []byte("0123456789"))
	if err != nil || !found || sig != "Eicar-Signature" {
		t.Fatalf("Scan = %v %q %v", found, sig, err)
	}
	if got := <-sizes; len(got) != 3 || got[0] != 4 || got[2] != 2 {
		t.Errorf("chunks %v, want 4,4,2", got)
	}
	if got := <-stream; string(got) != "0123456789" {
		t.Errorf("stream %q", got)
	}
}

func TestClamAVVerdicts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		reply   string
		onErr   OnError
		code    int
		headers int
	}{
		{"stream: OK", Tempfail, 0, 0},
		{"stream: Win.Test.EICAR_HDB-1 FOUND", Tempfail, 554, 0},
		{"INSTREAM size limit exceeded. ERROR", Tempfail, 451, 0},
		{"INSTREAM size limit exceeded. ERROR", Accept, 0, 1},
	} {
		addr, _, _ := fakeClamd(t, tc.reply)
		c, _ := NewClamAV(ClamAVOptions{Address: addr, OnError: tc.onErr})
		res, err := c.Check(context.Background(), &Envelope{}, []byte("x"))
		if tc.code != 0 {
			wantRejection(t, err, tc.code, "")
			continue
		}
		if err != nil || len(res.Headers) != tc.headers {
			t.Errorf("%q: %+v %v", tc.reply, res, err)
		}
		if tc.headers == 1 && res.Headers[0] != NotScannedHeader {
			t.Errorf("header %q", res.Headers[0])
		}
	}
}

func TestClamAVDownAndSlow(t *testing.T) {
	t.Parallel()
	// Down: nothing listens.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	c, _ := NewClamAV(ClamAVOptions{Address: addr})
	_, err := c.Check(context.Background(), &Envelope{}, []byte("x"))
	wantRejection(t, err, 451, "try again later")

	// Slow: accepts and never answers; the timeout ends the scan.
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	c, _ = NewClamAV(ClamAVOptions{Address: l.Addr().String(), Timeout: 50 * time.Millisecond, OnError: Accept})
	res, err := c.Check(context.Background(), &Envelope{}, []byte("x"))
	if err != nil || len(res.Headers) != 1 || res.Verdict != "not scanned" {
		t.Errorf("slow scanner with accept: %+v %v", res, err)
	}
}

// TestClamdReal scans with a real clamd over TCP and its Unix socket.
func TestClamdReal(t *testing.T) {
	t.Parallel()
	cd := testservers.StartClamd(t)
	virusPart := "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=a.bin\n"
	nested := "Subject: fwd\nContent-Type: multipart/mixed; boundary=YY\n\n--YY\n" + virusPart + "\n" + b64("xx "+testservers.TestVirus+" yy") + "--YY--\n"
	for _, addr := range []string{cd.Addr, cd.Socket} {
		c, err := NewClamAV(ClamAVOptions{Address: addr, ChunkSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		clean := mixed(virusPart, b64(strings.Repeat("harmless ", 500)))
		if res, err := c.Check(context.Background(), &Envelope{}, clean); err != nil || res.Verdict != "clean" {
			t.Errorf("%s: clean message: %+v %v", addr, res, err)
		}
		for name, msg := range map[string][]byte{
			"attachment": mixed(virusPart, b64(strings.Repeat("pad ", 400)+testservers.TestVirus)),
			"nested":     mixed("Content-Type: message/rfc822\n", nested),
		} {
			_, err := c.Check(context.Background(), &Envelope{}, msg)
			wantRejection(t, err, 554, testservers.TestVirusName)
			if !bytes.Contains(msg, []byte("Content-Transfer-Encoding: base64")) {
				t.Errorf("%s: the virus should travel encoded", name)
			}
		}
	}
}
