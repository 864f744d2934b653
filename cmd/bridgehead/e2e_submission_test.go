package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// queuedRE finds the queue id in a 250 reply.
var queuedRE = regexp.MustCompile(`250 2\.0\.0 OK queued as (\S+)`)

// swaksSubmit sends one message as alice over the given listener mode
// ("--tls" for STARTTLS, "--tlsc" for implicit TLS) and returns the queue id.
func swaksSubmit(t testing.TB, server, tlsFlag, user, password, from, to, subject string) string {
	t.Helper()
	out, ok := swaks(t, "--server", server, tlsFlag, "--auth", "LOGIN",
		"--auth-user", user, "--auth-password", password,
		"--from", from, "--to", to,
		"--header", "From: "+from, "--header", "Subject: "+subject,
		"--body", "Hello from the end-to-end test.")
	m := queuedRE.FindStringSubmatch(out)
	if !ok || m == nil {
		t.Fatalf("swaks %s to %s: no 250 queued reply\n%s", tlsFlag, server, out)
	}
	return m[1]
}

// TestE2ESubmissionIntoDovecot submits on both listener modes with a static
// users file and reads the messages back from Dovecot over IMAP.
func TestE2ESubmissionIntoDovecot(t *testing.T) {
	t.Parallel()
	testservers.Require(t, "swaks")
	dc := testservers.StartDovecot(t, map[string]string{"alice@example.test": "imap-pw"})
	s := newSite(t)
	s.staticUsers(t, "alice", "s3cret pass", "alice@example.test")
	s.Routes = fmt.Sprintf("  - domains: [example.test]\n    to: lmtp://%s\n    tls: none", dc.LMTPAddr)
	s.writeConfig(t)
	s.serve(t)

	ids := map[string]string{
		"via submission":  swaksSubmit(t, s.Submission, "--tls", "alice", "s3cret pass", "alice@example.test", "alice@example.test", "via submission"),
		"via submissions": swaksSubmit(t, s.Submissions, "--tlsc", "alice", "s3cret pass", "alice@example.test", "alice@example.test", "via submissions"),
	}

	var msgs [][]byte
	eventually(t, 30*time.Second, "two messages in Dovecot", func() bool {
		msgs = dc.Fetch(t, "alice@example.test", "imap-pw")
		return len(msgs) >= 2
	})
	if len(msgs) != 2 {
		t.Fatalf("INBOX holds %d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		subject := ""
		for subj := range ids {
			if bytes.Contains(m, []byte("Subject: "+subj+"\r\n")) {
				subject = subj
			}
		}
		if subject == "" {
			t.Errorf("message without a known subject:\n%s", m)
			continue
		}
		id := ids[subject]
		delete(ids, subject)
		want := "by gw.example.test (bridgehead) with ESMTPSA id " + id
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("%s: no Received header with %q:\n%s", subject, want, m)
		}
		if !bytes.Contains(m, []byte("(using TLS")) {
			t.Errorf("%s: Received header does not name the TLS version:\n%s", subject, m)
		}
		if !bytes.Contains(m, []byte("\r\nMessage-Id: ")) && !bytes.Contains(m, []byte("\r\nMessage-ID: ")) {
			t.Errorf("%s: no Message-ID:\n%s", subject, m)
		}
	}
}

// TestE2EBadPassword checks that a wrong password gets 535 5.7.8 from the
// binary and nothing is queued.
func TestE2EBadPassword(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.staticUsers(t, "alice", "right", "alice@example.test")
	s.Routes = "  - domains: [\"*\"]\n    to: smtp://127.0.0.1:1\n    tls: none"
	s.writeConfig(t)
	s.serve(t)
	out, ok := swaks(t, "--server", s.Submissions, "--tlsc", "--auth", "PLAIN",
		"--auth-user", "alice", "--auth-password", "wrong",
		"--from", "alice@example.test", "--to", "bob@elsewhere.example")
	if ok || !strings.Contains(out, "535 5.7.8") {
		t.Fatalf("wrong password: want 535 5.7.8, swaks said:\n%s", out)
	}
}

// TestE2EBackendDownThenUp submits while smtp-sink is down; once it is
// back the message arrives exactly once.
func TestE2EBackendDownThenUp(t *testing.T) {
	t.Parallel()
	testservers.Require(t, "swaks")
	sink := testservers.StartSink(t)
	sink.Stop(t)
	s := newSite(t)
	s.staticUsers(t, "alice", "pw-alice", "alice@example.test")
	s.Routes = fmt.Sprintf("  - domains: [\"*\"]\n    to: smtp://%s\n    tls: none", sink.Addr)
	s.writeConfig(t)
	p := s.serve(t)

	id := swaksSubmit(t, s.Submission, "--tls", "alice", "pw-alice", "alice@example.test", "bob@remote.example", "down then up")
	// The first attempt must have failed before the sink comes back.
	eventually(t, 20*time.Second, "the first attempt to be deferred", func() bool {
		for _, line := range strings.Split(p.log(), "\n") {
			if strings.Contains(line, "message deferred") && strings.Contains(line, id) {
				return true
			}
		}
		return false
	})
	sink.Start(t)
	eventually(t, 30*time.Second, "the message at the sink", func() bool { m := sink.Messages(t); return len(m) >= 1 && allParse(m) })
	time.Sleep(2500 * time.Millisecond) // more than a retry interval: a second copy would have come by now
	msgs := sink.Messages(t)
	if len(msgs) != 1 {
		t.Fatalf("sink holds %d messages, want exactly 1", len(msgs))
	}
	m, err := testservers.ParseSink(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(m.Data, []byte("Subject: down then up\r\n")) || !bytes.Contains(m.Data, []byte("id "+id)) {
		t.Errorf("unexpected message at the sink:\n%s", m.Data)
	}
}
