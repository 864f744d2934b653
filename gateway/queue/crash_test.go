package queue

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"bridgehead.dev/bridgehead/internal/logtest"
)

// crashDirEnv names the environment variable that turns the test binary
// into the crash test's child: a process committing messages to the queue
// in that directory, printing each id once Commit has returned.
const crashDirEnv = "BRIDGEHEAD_QUEUE_CRASH_DIR"

// nopDeliverer is never called: the crash test does not run the queue.
type nopDeliverer struct{}

func (nopDeliverer) Deliver(context.Context, *Message, []*Recipient) []Result { return nil }

// TestMain runs the test binary as the crash test's child when asked to,
// and the tests otherwise.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir)
	}
	if dir := os.Getenv(crashRunDirEnv); dir != "" {
		crashRunChild(dir)
	}
	os.Exit(m.Run())
}

// crashSpill is the crash child's SpillThreshold: its messages (200 to
// 20,200 bytes) take both the journal and the file path.
const crashSpill = 10_000

// crashChild commits messages until killed, reporting each committed id.
func crashChild(dir string) {
	q, err := Open(context.Background(), Options{Dir: dir, Deliverer: nopDeliverer{}, SpillThreshold: crashSpill})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var out sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	// Several committers at once, bounded in case the parent goes away.
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				id, size := childCommit(q, "b@example.test", g, i)
				out.Lock()
				fmt.Fprintf(w, "%s %d\n", id, size)
				_ = w.Flush()
				out.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(0)
}

// TestCrashKill9 kills a process that is committing messages with
// SIGKILL and checks that every message it reported committed is in the
// reopened queue, intact: small ones committed through the journal, big
// ones through their own files. It does not run in parallel: a child forked
// while another test closes a queue would hold that queue's flock until it
// execs, and the other test's reopen would fail.
func TestCrashKill9(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue")
	cmd, stdout, stderr := startCrashChild(t, crashDirEnv, dir)

	committed := map[string]int{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var id string
		var size int
		if _, err := fmt.Sscanf(sc.Text(), "%s %d", &id, &size); err != nil {
			t.Fatalf("child said %q: %v", sc.Text(), err)
		}
		committed[id] = size
		if len(committed) == 300 {
			break
		}
	}
	if len(committed) < 300 {
		_ = cmd.Wait()
		t.Fatalf("child stopped after %d messages: %v\n%s", len(committed), sc.Err(), stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Ids printed before the kill landed count too; a partial last line
	// does not.
	rest := new(bytes.Buffer)
	_, _ = rest.ReadFrom(stdout)
	_ = cmd.Wait()
	for line := range strings.SplitSeq(rest.String(), "\n") {
		var id string
		var size int
		if n, _ := fmt.Sscanf(line, "%s %d", &id, &size); n == 2 && len(id) == 16 {
			committed[id] = size
		}
	}

	small, big := 0, 0
	for _, size := range committed {
		if size <= crashSpill {
			small++
		} else {
			big++
		}
	}
	if small == 0 || big == 0 {
		t.Errorf("committed %d journal and %d file messages, want both", small, big)
	}

	var logs logtest.Buffer
	q := openQueue(t, Options{Dir: dir, Deliverer: nopDeliverer{}, Logger: testLogger(t, &logs)})
	for id, size := range committed {
		if _, err := q.Get(id); err != nil {
			t.Errorf("committed message %s lost: %v", id, err)
			continue
		}
		b, err := storedBody(dir, id)
		if err != nil || !bytes.Equal(b, testBody(id, size)) {
			t.Errorf("committed message %s damaged (err %v)", id, err)
		}
	}
	assertEmpty(t, dir, "tmp", "corrupt", "journal")
	t.Logf("%d messages reported committed, %d in the queue after kill -9", len(committed), q.Len())
}

// startCrashChild starts the test binary as a crash child for dir, the
// role chosen by the environment variable env; the child is killed at the
// end of the test if it is still running.
func startCrashChild(t *testing.T, env, dir string) (*exec.Cmd, io.ReadCloser, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, stdout, stderr
}

// childCommit commits the i-th message of committer g of a crash child to
// rcpt, 200 to 20,199 bytes, and returns its id and size; the child exits
// on any error.
func childCommit(q *Queue, rcpt string, g, i int) (string, int) {
	env := &Envelope{From: "a@example.test", Recipients: []*Recipient{{Address: rcpt}}}
	size := 200 + (g*7919+i*104729)%20000
	tx, err := q.Begin(env)
	if err == nil {
		_, err = tx.Write(testBody(env.ID, size))
	}
	if err == nil {
		err = tx.Commit(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "commit:", err)
		os.Exit(2)
	}
	return env.ID, size
}
