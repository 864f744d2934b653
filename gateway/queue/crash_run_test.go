package queue

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashRunDirEnv names the environment variable that turns the test
// binary into the running-queue crash test's child: it commits messages
// to the queue in that directory while running it, so that messages are
// delivered (done logs), deferred (migrated to msg/ and env/) and journal
// segments rotated and removed when the kill comes.
const crashRunDirEnv = "BRIDGEHEAD_QUEUE_CRASH_RUN_DIR"

// crashRunDeliverer defers recipients named defer@ and delivers the
// others, printing "D <id>" before it reports the delivery.
type crashRunDeliverer struct {
	mu *sync.Mutex
	w  *bufio.Writer
}

func (d crashRunDeliverer) Deliver(_ context.Context, msg *Message, rcpts []*Recipient) []Result {
	rc, err := msg.Open()
	if err != nil {
		fmt.Fprintln(os.Stderr, "open body:", err)
		os.Exit(2)
	}
	_, _ = io.Copy(io.Discard, rc)
	_ = rc.Close()
	out := make([]Result, 0, len(rcpts))
	for _, r := range rcpts {
		if strings.HasPrefix(r.Address, "defer@") {
			out = append(out, Result{Recipient: r.Address, Code: 451, Text: "later"})
			continue
		}
		d.mu.Lock()
		fmt.Fprintf(d.w, "D %s\n", msg.Envelope.ID)
		_ = d.w.Flush()
		d.mu.Unlock()
		out = append(out, Result{Recipient: r.Address, Code: 250, Text: "ok"})
	}
	return out
}

// crashRunChild runs a queue and commits to it until killed, printing
// "C <id> <size> <rcpt>" once each Commit has returned.
func crashRunChild(dir string) {
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	q, err := Open(context.Background(), Options{
		Dir: dir, Deliverer: crashRunDeliverer{mu: &mu, w: w},
		SpillThreshold: crashSpill, JournalSegmentSize: 64 << 10,
		Retry: []time.Duration{time.Hour}, Workers: 8,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	go func() { _ = q.Run(context.Background()) }()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				rcpt := "ok@example.test"
				if i%3 == 0 {
					rcpt = "defer@example.test"
				}
				id, size := childCommit(q, rcpt, g, i)
				mu.Lock()
				fmt.Fprintf(w, "C %s %d %s\n", id, size, rcpt)
				_ = w.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(0)
}

// crashCommit is a message the child reported committed.
type crashCommit struct {
	size     int
	deferred bool
}

// TestCrashKill9Running kills a process that commits to a running queue
// (deliveries marking journal records done, deferrals migrating messages
// to msg/, segments rotating): every message it reported committed must
// be in the reopened queue, intact, unless it reported it delivered; every
// deferred one must be there. Not parallel, for the reason given at
// TestCrashKill9.
func TestCrashKill9Running(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue")
	cmd, stdout, stderr := startCrashChild(t, crashRunDirEnv, dir)

	committed := map[string]crashCommit{}
	delivered := map[string]bool{}
	parse := func(line string) {
		f := strings.Fields(line)
		switch {
		case len(f) == 4 && f[0] == "C" && len(f[1]) == 16:
			var size int
			if _, err := fmt.Sscanf(f[2], "%d", &size); err == nil {
				committed[f[1]] = crashCommit{size: size, deferred: strings.HasPrefix(f[3], "defer@")}
			}
		case len(f) == 2 && f[0] == "D" && len(f[1]) == 16:
			delivered[f[1]] = true
		}
	}
	// Whole lines only: the last one may be cut short by the kill.
	br := bufio.NewReader(stdout)
	var readErr error
	readLine := func() bool {
		line, err := br.ReadString('\n')
		if err != nil {
			readErr = err
			return false
		}
		parse(line)
		return true
	}
	for len(committed) < 600 && readLine() {
	}
	if len(committed) < 600 {
		_ = cmd.Wait()
		t.Fatalf("child stopped after %d messages: %v\n%s", len(committed), readErr, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for readLine() {
	}
	_ = cmd.Wait()

	q := openQueue(t, Options{Dir: dir, Deliverer: nopDeliverer{}, Logger: testLogger(t, io.Discard)})
	kept, deferred := 0, 0
	for id, c := range committed {
		if _, err := q.Get(id); err != nil {
			if !delivered[id] {
				t.Errorf("committed message %s lost: %v", id, err)
			}
			if c.deferred {
				t.Errorf("deferred message %s gone", id)
			}
			continue
		}
		kept++
		if c.deferred {
			deferred++
		}
		b, err := storedBody(dir, id)
		if err != nil || !bytes.Equal(b, testBody(id, c.size)) {
			t.Errorf("committed message %s damaged (err %v)", id, err)
		}
	}
	assertEmpty(t, dir, "tmp", "corrupt", "journal")
	t.Logf("%d committed, %d reported delivered, %d in the queue after kill -9 (%d deferred)",
		len(committed), len(delivered), kept, deferred)
}
