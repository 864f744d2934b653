package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/testservers"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// sinkSubjectRE finds the Subject of a message at the sink.
var sinkSubjectRE = regexp.MustCompile(`(?m)^Subject: (\S+)\r?$`)

// sinkSubjects counts the messages at the sink by Subject. A file the sink
// is still writing is counted under the empty subject.
func sinkSubjects(t testing.TB, sink *testservers.Sink) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, raw := range sink.Messages(t) {
		m, err := testservers.ParseSink(raw)
		if err != nil {
			n[""]++
			continue
		}
		if s := sinkSubjectRE.FindSubmatch(m.Data); s != nil {
			n[string(s[1])]++
		}
	}
	return n
}

// relaySite is a gateway relaying everything to sink, with alice as the
// only user.
func relaySite(t testing.TB, sink *testservers.Sink) *site {
	t.Helper()
	s := newSite(t)
	s.staticUsers(t, "alice", "pw-alice", "alice@example.test")
	s.Routes = fmt.Sprintf("  - domains: [\"*\"]\n    to: smtp://%s\n    tls: none", sink.Addr)
	s.writeConfig(t)
	return s
}

// dialAlice opens a STARTTLS session to addr logged in as alice.
func dialAlice(addr string) (*smtp.Client, error) {
	c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice", "pw-alice")); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dialAliceTLS opens an implicit-TLS session to addr logged in as alice.
func dialAliceTLS(addr string) (*smtp.Client, error) {
	c, err := smtp.DialTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice", "pw-alice")); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// sendOne sends one message with the given subject on an open session and
// returns the 250 reply text.
func sendOne(c *smtp.Client, subject string) (string, error) {
	if err := c.Mail("alice@example.test", nil); err != nil {
		return "", err
	}
	if err := c.Rcpt("bob@remote.example", nil); err != nil {
		return "", err
	}
	return sendData(c, subject)
}

// sendData sends DATA with the given subject.
func sendData(c *smtp.Client, subject string) (string, error) {
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	msg := "From: alice@example.test\r\nTo: bob@remote.example\r\nSubject: " + subject + "\r\n\r\nload test body\r\n"
	if _, err := w.Write([]byte(msg)); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	return resp.StatusText, nil
}

// TestE2EKill9DuringLoad kills the gateway with SIGKILL while 8 clients
// submit, restarts it on the same state_dir and checks that every message
// that got a 250 reaches the back end.
func TestE2EKill9DuringLoad(t *testing.T) {
	t.Parallel()
	sink := testservers.StartSink(t)
	s := relaySite(t, sink)
	p := s.serve(t)

	const clients, perClient, killAfter = 8, 25, 80
	var (
		mu       sync.Mutex
		accepted = map[string]string{} // subject -> 250 text
		count    atomic.Int32
		killNow  = make(chan struct{})
		once     sync.Once
		wg       sync.WaitGroup
	)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialAlice(s.Submission)
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			defer c.Close()
			for j := range perClient {
				subject := fmt.Sprintf("load-%d-%d", i, j)
				text, err := sendOne(c, subject)
				if err != nil {
					return // the kill cut the session (or the server refused): not accepted
				}
				if !strings.Contains(text, "OK queued as ") {
					t.Errorf("%s: 250 text %q", subject, text)
				}
				mu.Lock()
				accepted[subject] = text
				mu.Unlock()
				if count.Add(1) >= killAfter {
					once.Do(func() { close(killNow) })
				}
			}
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	select {
	case <-killNow:
	case <-allDone:
		t.Fatalf("all clients finished with %d messages accepted before the kill point %d", count.Load(), killAfter)
	}
	p.kill()
	<-allDone
	if t.Failed() {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d messages got a 250 before SIGKILL", len(accepted))

	s.serve(t)
	var got map[string]int
	eventually(t, 60*time.Second, "every accepted message at the sink", func() bool {
		got = sinkSubjects(t, sink)
		if got[""] > 0 {
			return false // a file still being written
		}
		for subj := range accepted {
			if got[subj] == 0 {
				return false
			}
		}
		return true
	})
	dups := 0
	for subj, n := range got {
		if n > 1 {
			dups++
			t.Logf("%s delivered %d times (in flight at the kill)", subj, n)
		}
	}
	t.Logf("sink holds %d distinct messages, %d of them more than once", len(got), dups)
}

// TestE2ESigterm stops the gateway with SIGTERM while a session is in the
// middle of a transaction: the session may finish, the process exits 0 and,
// after a restart, each accepted message has reached the back end once.
func TestE2ESigterm(t *testing.T) {
	t.Parallel()
	sink := testservers.StartSink(t)
	s := relaySite(t, sink)
	p := s.serve(t)

	before, err := dialAlice(s.Submission)
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	if text, err := sendOne(before, "before-sigterm"); err != nil {
		t.Fatalf("before SIGTERM: %v", err)
	} else if !strings.Contains(text, "OK queued as ") {
		t.Fatalf("before SIGTERM: %q", text)
	}
	// A second session is between RCPT and DATA when the signal comes.
	open, err := dialAliceTLS(s.Submissions)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := open.Mail("alice@example.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := open.Rcpt("bob@remote.example", nil); err != nil {
		t.Fatal(err)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Stopped accepting: new connections are refused.
	eventually(t, 10*time.Second, "the listener to close after SIGTERM", func() bool {
		c, err := net.DialTimeout("tcp", s.Submission, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	inFlightOK := false
	if text, err := sendData(open, "during-sigterm"); err != nil {
		t.Logf("session open at SIGTERM could not finish its message: %v", err)
	} else if strings.Contains(text, "OK queued as ") {
		inFlightOK = true
	}
	_ = open.Quit()
	_ = before.Quit()

	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		t.Fatal("still running 40s after SIGTERM (grace is 30s)")
	}
	if p.waitErr != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0", p.waitErr)
	}

	s.serve(t)
	want := []string{"before-sigterm"}
	if inFlightOK {
		want = append(want, "during-sigterm")
	}
	eventually(t, 30*time.Second, "the accepted messages at the sink", func() bool {
		got := sinkSubjects(t, sink)
		if got[""] > 0 {
			return false // a file still being written
		}
		for _, w := range want {
			if got[w] == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(2500 * time.Millisecond) // more than a retry interval: a second copy would have come by now
	got := sinkSubjects(t, sink)
	for _, w := range want {
		if got[w] != 1 {
			t.Errorf("%s delivered %d times, want once (clean restart)", w, got[w])
		}
	}
	if !inFlightOK {
		t.Errorf("a session between RCPT and DATA at SIGTERM was not let finish")
	}
}
