package testservers

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sink is a Postfix smtp-sink on 127.0.0.1 writing one file per message.
type Sink struct {
	// Addr is the host:port the sink listens on.
	Addr string
	// Dir is the instance directory: messages under Dir/msg, output in
	// Dir/smtp-sink.log.
	Dir string

	args []string
	mu   sync.Mutex
	p    *proc
}

// StartSink starts smtp-sink on a free loopback port; t.Cleanup stops it.
// extraArgs go before the address, e.g. "-f", "rcpt", "-B", "550 5.1.1 No
// such user" to refuse every RCPT, "-r", "rcpt", "-b", "451 4.3.0 Try later"
// for a 4xx, or "-L" to speak LMTP. A missing smtp-sink fails the test under
// $CI and skips it otherwise.
func StartSink(t testing.TB, extraArgs ...string) *Sink {
	t.Helper()
	Require(t, "smtp-sink")
	dir := t.TempDir()
	s := &Sink{Addr: "127.0.0.1:" + strconv.Itoa(FreePort(t)), Dir: dir}
	args := []string{"-u", "root", "-d", filepath.Join(dir, "msg", "%Y%m%d%H%M%S.")}
	args = append(args, extraArgs...)
	s.args = append(args, s.Addr, "100")
	t.Cleanup(func() { s.stop() })
	s.Start(t)
	return s
}

// Start starts a stopped sink again on the same port; it is a no-op when it
// runs. It is the Restart of down-then-up tests.
func (s *Sink) Start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		return
	}
	logPath := filepath.Join(s.Dir, "smtp-sink.log")
	p, err := startProc(logPath, lookBin("smtp-sink"), s.args...)
	if err != nil {
		t.Fatalf("testservers: smtp-sink: %v", err)
	}
	if err := WaitListening(s.Addr, p.done, 10*time.Second); err != nil {
		p.stop(time.Second)
		t.Fatalf("testservers: smtp-sink: %v\n%s", err, logTail(logPath))
	}
	s.p = p
}

// Restart is Start: it brings a stopped sink back on the same port.
func (s *Sink) Restart(t testing.TB) {
	t.Helper()
	s.Start(t)
}

// Stop stops the sink and waits until its port refuses connections, for
// back-end-down tests. Messages already written stay readable.
func (s *Sink) Stop(t testing.TB) {
	t.Helper()
	s.stop()
	if err := waitClosed(s.Addr, 5*time.Second); err != nil {
		t.Fatalf("testservers: smtp-sink: %v", err)
	}
}

func (s *Sink) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return
	}
	s.p.stop(2 * time.Second)
	s.p = nil
}

// Messages returns every message file the sink has written so far, oldest
// first (by modification time, then name).
//
// Each file is smtp-sink's dump format, lines ending in a bare LF:
// smtp-sink's own header lines (X-Client-Addr, X-Client-Proto, X-Helo-Args,
// X-Mail-Args with the MAIL arguments, one X-Rcpt-Args per RCPT), a
// three-line "Received: ... by host (smtp-sink) ..." header, then the message
// as received with dot-stuffing undone, then one extra empty line. Bare CR
// characters inside lines are dropped by smtp-sink. Use ParseSink to split a
// file into envelope and message.
func (s *Sink) Messages(t testing.TB) [][]byte {
	t.Helper()
	root := filepath.Join(s.Dir, "msg")
	type file struct {
		path string
		mod  time.Time
	}
	var files []file
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == root {
				return fs.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, file{p, fi.ModTime()})
		return nil
	})
	if err != nil {
		t.Fatalf("testservers: read sink messages: %v", err)
	}
	sort.Slice(files, func(i, j int) bool {
		if !files[i].mod.Equal(files[j].mod) {
			return files[i].mod.Before(files[j].mod)
		}
		return files[i].path < files[j].path
	})
	out := make([][]byte, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatalf("testservers: read sink message: %v", err)
		}
		out = append(out, b)
	}
	return out
}

// SinkMessage is one smtp-sink dump file taken apart.
type SinkMessage struct {
	// MailArgs is the argument of MAIL, e.g. "<a@example.test> RET=HDRS".
	MailArgs string
	// RcptArgs holds the argument of each RCPT in order.
	RcptArgs []string
	// Proto is "SMTP", "ESMTP" or "LMTP".
	Proto string
	// Data is the message as received (after dot-unstuffing), with its
	// line ends turned back into CRLF and smtp-sink's trailing empty line
	// removed: for a CRLF message without bare CRs it equals the bytes the
	// client meant to send.
	Data []byte
}

// ParseSink splits a file returned by Messages into the envelope smtp-sink
// recorded and the message data.
func ParseSink(raw []byte) (SinkMessage, error) {
	var m SinkMessage
	rest := raw
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return m, fmt.Errorf("sink dump: no Received header")
		}
		line := string(rest[:i])
		rest = rest[i+1:]
		k, v, _ := cutHeader(line)
		switch k {
		case "X-Mail-Args":
			m.MailArgs = v
		case "X-Rcpt-Args":
			m.RcptArgs = append(m.RcptArgs, v)
		case "X-Client-Proto":
			m.Proto = v
		case "Received":
			// Two continuation lines follow.
			for range 2 {
				j := bytes.IndexByte(rest, '\n')
				if j < 0 || len(rest) == 0 || (rest[0] != '\t' && rest[0] != ' ') {
					return m, fmt.Errorf("sink dump: short Received header")
				}
				rest = rest[j+1:]
			}
			rest = bytes.TrimSuffix(rest, []byte("\n"))
			m.Data = bytes.ReplaceAll(rest, []byte("\n"), []byte("\r\n"))
			return m, nil
		}
	}
}

func cutHeader(line string) (key, value string, ok bool) {
	key, value, ok = strings.Cut(line, ":")
	return key, strings.TrimSpace(value), ok
}
