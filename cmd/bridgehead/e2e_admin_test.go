package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/admin"
	"bridgehead.dev/bridgehead/gateway/testservers"
)

// httpStatus returns the status of GET url, or 0 when nothing answers.
func httpStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// adminQueue returns the admin API's queue listing, via the CLI's -json.
func adminQueue(t *testing.T, addr string) []admin.Message {
	t.Helper()
	out, err := runCLI(t, "queue", "list", "-json", "-admin", addr)
	if err != nil {
		t.Fatalf("queue list: %v\n%s", err, out)
	}
	var ms []admin.Message
	if err := json.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("queue list -json: %v\n%s", err, out)
	}
	return ms
}

// greeting dials addr and returns the first line the server sends.
func greeting(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read greeting from %s: %v", addr, err)
	}
	return line
}

// TestE2EAdmin runs the binary with the admin API and administers a
// message whose back end is down, then up, with the CLI; pauses and
// resumes a listener with a session open across the pause; at SIGTERM the
// process turns not ready while that session keeps it draining.
func TestE2EAdmin(t *testing.T) {
	t.Parallel()
	testservers.Require(t, "swaks")
	sink := testservers.StartSink(t)
	sink.Stop(t)
	s := newSite(t)
	s.Retry = "[1h]"
	s.staticUsers(t, "alice", "pw-alice", "alice@example.test")
	s.Routes = fmt.Sprintf("  - domains: [\"*\"]\n    to: smtp://%s\n    tls: none", sink.Addr)
	cfgPath := s.writeConfig(t)
	adminAddr := freeAddr(t)
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "admin:\n  address: %s\n", adminAddr)
	f.Close()
	p := startBridgehead(t, s.Dir, []string{s.Submission, s.Submissions, adminAddr}, "serve", "-config", filepath.Join(s.Dir, "bridgehead.yaml"))
	base := "http://" + adminAddr

	if st := httpStatus(base + "/healthz"); st != 200 {
		t.Errorf("healthz: %d", st)
	}
	eventually(t, 10*time.Second, "readyz 200", func() bool { return httpStatus(base+"/readyz") == 200 })

	id := swaksSubmit(t, s.Submission, "--tls", "alice", "pw-alice", "alice@example.test", "bob@remote.example", "admin test")
	eventually(t, 20*time.Second, "the first attempt recorded", func() bool {
		ms := adminQueue(t, adminAddr)
		return len(ms) == 1 && ms[0].ID == id && ms[0].Attempts >= 1
	})
	if out, err := runCLI(t, "queue", "hold", id, "-admin", adminAddr); err != nil {
		t.Fatalf("hold: %v\n%s", err, out)
	}
	sink.Start(t)
	if out, err := runCLI(t, "queue", "retry", id, "-admin", adminAddr); err == nil {
		t.Errorf("retry of a held message succeeded:\n%s", out)
	}
	if out, err := runCLI(t, "queue", "release", id, "-admin", adminAddr); err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "queue", "retry", id, "-admin", adminAddr); err != nil {
		t.Fatalf("retry: %v\n%s", err, out)
	}
	eventually(t, 20*time.Second, "the message at the sink", func() bool { m := sink.Messages(t); return len(m) == 1 && allParse(m) })
	eventually(t, 10*time.Second, "an empty queue", func() bool { return len(adminQueue(t, adminAddr)) == 0 })

	// Delete a message whose back end is down.
	sink.Stop(t)
	id2 := swaksSubmit(t, s.Submission, "--tls", "alice", "pw-alice", "alice@example.test", "carol@remote.example", "to delete")
	eventually(t, 20*time.Second, "the first attempt recorded", func() bool {
		ms := adminQueue(t, adminAddr)
		return len(ms) == 1 && ms[0].Attempts >= 1
	})
	out, err := runCLI(t, "queue", "show", id2, "-admin", adminAddr)
	if err != nil || !strings.Contains(out, "Subject: to delete") || !strings.Contains(out, "attempts (since") ||
		!strings.Contains(out, "carol@remote.example") {
		t.Errorf("show: %v\n%s", err, out)
	}
	out, err = runCLI(t, "queue", "list", "-admin", adminAddr)
	if err != nil || !strings.Contains(out, "via smtp://"+sink.Addr) {
		t.Errorf("list shows no route: %v\n%s", err, out)
	}
	out, err = runCLI(t, "queue", "retry", "-route", "smtp://"+sink.Addr, "-admin", adminAddr)
	if err != nil || !strings.Contains(out, "1 messages") {
		t.Errorf("retry -route: %v\n%s", err, out)
	}
	eventually(t, 20*time.Second, "the retried attempt recorded", func() bool {
		ms := adminQueue(t, adminAddr)
		return len(ms) == 1 && ms[0].Attempts >= 2
	})
	out, err = runCLI(t, "queue", "retry", "-route", "smtp://elsewhere.example:25", "-admin", adminAddr)
	if err != nil || !strings.Contains(out, "0 messages") {
		t.Errorf("retry -route of another route: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "queue", "delete", id2, "-admin", adminAddr); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if ms := adminQueue(t, adminAddr); len(ms) != 0 {
		t.Errorf("queue after delete: %+v", ms)
	}

	// Bounce one: the sender's report is queued in its place.
	id3 := swaksSubmit(t, s.Submission, "--tls", "alice", "pw-alice", "alice@example.test", "dave@remote.example", "to bounce")
	eventually(t, 20*time.Second, "the first attempt recorded", func() bool {
		ms := adminQueue(t, adminAddr)
		return len(ms) == 1 && ms[0].Attempts >= 1
	})
	if out, err := runCLI(t, "queue", "bounce", id3, "-admin", adminAddr); err != nil {
		t.Fatalf("bounce: %v\n%s", err, out)
	}
	// Its first attempt over (the back end is down), it waits an hour.
	eventually(t, 20*time.Second, "the report queued and tried", func() bool {
		ms := adminQueue(t, adminAddr)
		return len(ms) == 1 && ms[0].ID != id3 && ms[0].From == "" && ms[0].Attempts >= 1
	})
	if out, err := runCLI(t, "queue", "delete", adminQueue(t, adminAddr)[0].ID, "-admin", adminAddr); err != nil {
		t.Fatalf("delete the report: %v\n%s", err, out)
	}

	// Delete with a report: the sender's report is queued in its place.
	id4 := swaksSubmit(t, s.Submission, "--tls", "alice", "pw-alice", "alice@example.test", "erin@remote.example", "to delete with a report")
	eventually(t, 20*time.Second, "the first attempt recorded", func() bool {
		ms := adminQueue(t, adminAddr)
		return len(ms) == 1 && ms[0].Attempts >= 1
	})
	if out, err := runCLI(t, "queue", "delete", "-ndr", id4, "-admin", adminAddr); err != nil {
		t.Fatalf("delete -ndr: %v\n%s", err, out)
	}
	eventually(t, 10*time.Second, "the report queued", func() bool {
		ms := adminQueue(t, adminAddr)
		return len(ms) == 1 && ms[0].ID != id4 && ms[0].From == "" &&
			len(ms[0].Recipients) == 1 && ms[0].Recipients[0].Address == "alice@example.test"
	})

	// A session open across SIGTERM keeps the process draining: not ready.
	// Opened before the pause, it also shows the pause leaves it alone.
	c, err := net.Dial("tcp", s.Submission)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cr := bufio.NewReader(c)
	if line, err := cr.ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 ") {
		t.Fatalf("greeting %q, %v", line, err)
	}

	if out, err := runCLI(t, "listener", "pause", "submission", "-admin", adminAddr); err != nil {
		t.Fatalf("listener pause: %v\n%s", err, out)
	}
	if got := greeting(t, s.Submission); !strings.HasPrefix(got, "421 4.3.2 ") {
		t.Errorf("new connection while paused: %q, want 421 4.3.2", got)
	}
	fmt.Fprintf(c, "EHLO client.example\r\n")
	if line, err := cr.ReadString('\n'); err != nil || !strings.HasPrefix(line, "250") {
		t.Errorf("EHLO in the session opened before the pause: %q, %v", line, err)
	}
	for line := ""; !strings.HasPrefix(line, "250 "); {
		if line, err = cr.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	out, err = runCLI(t, "listener", "list", "-admin", adminAddr)
	if err != nil || !strings.Contains(out, "paused") || !strings.Contains(out, s.Submissions) {
		t.Errorf("listener list: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "listener", "resume", "submission", "-admin", adminAddr); err != nil {
		t.Fatalf("listener resume: %v\n%s", err, out)
	}
	if got := greeting(t, s.Submission); !strings.HasPrefix(got, "220 ") {
		t.Errorf("new connection after resume: %q, want 220", got)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "readyz 503 while draining", func() bool {
		return httpStatus(base+"/readyz") == http.StatusServiceUnavailable
	})
	if st := httpStatus(base + "/healthz"); st != 200 {
		t.Errorf("healthz while draining: %d", st)
	}
}
