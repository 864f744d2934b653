package testservers

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestVirus is a string the signature database of StartClamd detects, as
// Bridgehead.Test.Virus.UNOFFICIAL, wherever it appears in a scanned file
// (including base64-encoded MIME parts, which clamd decodes).
const TestVirus = "BRIDGEHEAD-TEST-VIRUS-SIGNATURE-4b1d"

// TestVirusName is the signature name clamd reports for TestVirus.
const TestVirusName = "Bridgehead.Test.Virus.UNOFFICIAL"

// Clamd is ClamAV's clamd on 127.0.0.1 and a Unix socket, with only a
// custom signature database (no freshclam, no official signatures).
type Clamd struct {
	// Addr is the host:port clamd listens on.
	Addr string
	// Socket is the path of its Unix socket.
	Socket string
	// Dir is the instance directory: clamd.conf, db/, clamd.log.
	Dir string

	mu sync.Mutex
	p  *proc
}

// StartClamd starts clamd on a free loopback port; t.Cleanup stops it. A
// missing clamd fails the test under $CI and skips it otherwise.
func StartClamd(t testing.TB) *Clamd {
	t.Helper()
	Require(t, "clamd")
	dir := t.TempDir()
	// Unix socket paths are short: keep the socket out of the long
	// test directory name.
	sockDir, err := os.MkdirTemp("", "clamd")
	if err != nil {
		t.Fatalf("testservers: clamd: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	c := &Clamd{Addr: "127.0.0.1:" + strconv.Itoa(FreePort(t)), Socket: filepath.Join(sockDir, "clamd.sock"), Dir: dir}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o755); err != nil {
		t.Fatalf("testservers: clamd: %v", err)
	}
	sig := fmt.Sprintf("Bridgehead.Test.Virus:0:*:%s\n", hex.EncodeToString([]byte(TestVirus)))
	conf := fmt.Sprintf(`Foreground yes
DatabaseDirectory %s
TCPSocket %s
TCPAddr 127.0.0.1
LocalSocket %s
LogFile %s
PidFile %s
ScanMail yes
SelfCheck 0
`, filepath.Join(dir, "db"), c.Addr[len("127.0.0.1:"):], c.Socket, filepath.Join(dir, "clamd.log"), filepath.Join(dir, "clamd.pid"))
	if err := os.WriteFile(filepath.Join(dir, "db", "test.ndb"), []byte(sig), 0o644); err != nil {
		t.Fatalf("testservers: clamd: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "clamd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatalf("testservers: clamd: %v", err)
	}
	t.Cleanup(func() { c.stop() })
	c.Start(t)
	return c
}

// Start starts a stopped clamd again on the same port; a no-op when it runs.
func (c *Clamd) Start(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != nil {
		return
	}
	_ = os.Remove(c.Socket)
	logPath := filepath.Join(c.Dir, "clamd.out")
	p, err := startProc(logPath, lookBin("clamd"), "-c", filepath.Join(c.Dir, "clamd.conf"))
	if err != nil {
		t.Fatalf("testservers: clamd: %v", err)
	}
	if err := WaitListening(c.Addr, p.done, 60*time.Second); err != nil {
		p.stop(time.Second)
		t.Fatalf("testservers: clamd: %v\n%s\n%s", err, logTail(logPath), logTail(filepath.Join(c.Dir, "clamd.log")))
	}
	c.p = p
}

// Stop stops clamd and waits until its port refuses connections.
func (c *Clamd) Stop(t testing.TB) {
	t.Helper()
	c.stop()
	if err := waitClosed(c.Addr, 5*time.Second); err != nil {
		t.Fatalf("testservers: clamd: %v", err)
	}
}

func (c *Clamd) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != nil {
		c.p.stop(0)
		c.p = nil
	}
}
