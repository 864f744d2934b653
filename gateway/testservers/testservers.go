// Package testservers starts real mail servers on loopback for tests: Postfix's
// smtp-sink as a scriptable SMTP/LMTP back end and Dovecot as a back-end store
// with LMTP and IMAP. It is an ordinary package so that tests of several
// packages can share it; only tests import it.
//
// Every server listens on 127.0.0.1 on a free port, lives in a directory of
// its own, writes its output to files there (named in failure messages) and
// is killed, waited for and removed by t.Cleanup.
package testservers

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 where nothing listened a moment
// ago (listen on :0, close, return the port).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testservers: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Require fails the test when one of the binaries is missing and the
// environment variable CI is set, and skips it otherwise. Binaries are looked
// up in $PATH, then /usr/sbin and /usr/bin.
func Require(t testing.TB, binaries ...string) {
	t.Helper()
	for _, b := range binaries {
		if lookBin(b) != "" {
			continue
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("testservers: %s is not installed", b)
		}
		t.Skipf("testservers: %s is not installed", b)
	}
}

// Binary returns the path of an optional tool a test uses for an extra
// check. When it is missing, the test fails if the environment variable CI
// is set, and otherwise Binary returns "" (the caller leaves that check
// out).
func Binary(t testing.TB, name string) string {
	t.Helper()
	p := lookBin(name)
	if p == "" && os.Getenv("CI") != "" {
		t.Fatalf("testservers: %s is not installed", name)
	}
	return p
}

func lookBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// WaitListening polls addr until it accepts a connection, the process
// behind done exits, or the deadline passes. The servers give no other
// readiness signal.
func WaitListening(addr string, done <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			return errors.New("process exited during start")
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listening on %s after %v: %w", addr, timeout, err)
		}
	}
}

// waitClosed polls addr until it refuses connections or the deadline passes.
func waitClosed(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still accepting after %v", addr, timeout)
		}
		time.Sleep(10 * time.Millisecond) // poll: no signal for a closed port
	}
}

// logTail returns the last few KiB of a log file for failure messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%s: %v)", path, err)
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return fmt.Sprintf("--- %s ---\n%s", path, b)
}

// StartSilent starts a TCP server on a free loopback port that accepts
// connections and never answers, to exercise timeouts; it returns its
// host:port. It and its connections are closed at cleanup.
func StartSilent(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
