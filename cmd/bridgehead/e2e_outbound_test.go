package main

// End-to-end tests of outbound routing through the real binary: direct MX
// delivery against a DNS server started in the test, a smart host that
// wants AUTH (a second bridgehead), TLS verification, failover and
// sender-dependent routes.

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/gateway/testservers"
)

// outboundSite is a gateway with alice (password pw-alice) as its user, an
// admin API on a free port, and the given routes: and extra top-level
// config.
type outboundSite struct {
	*site
	Admin string
}

func newOutboundSite(t *testing.T, routes, extra string, addresses ...string) *outboundSite {
	t.Helper()
	testservers.Require(t, "swaks", "smtp-sink")
	s := &outboundSite{site: newSite(t), Admin: freeAddr(t)}
	if len(addresses) == 0 {
		addresses = []string{"alice@example.test"}
	}
	s.staticUsers(t, "alice", "pw-alice", addresses...)
	s.Routes = routes
	p := s.writeConfig(t)
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "admin:\n  address: %s\n%s", s.Admin, extra)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return s
}

// send submits one message from alice's from to rcpt with subject.
func (s *outboundSite) send(t *testing.T, from, rcpt, subject string) string {
	t.Helper()
	return swaksSubmit(t, s.Submission, "--tls", "alice", "pw-alice", from, rcpt, subject)
}

// waitSubject waits until sink holds a message with subject.
func waitSubject(t *testing.T, sink *testservers.Sink, subject string) {
	t.Helper()
	eventually(t, 30*time.Second, "message "+subject+" at the sink", func() bool {
		return sinkSubjects(t, sink)[subject] > 0
	})
}

// TestE2EOutboundMX delivers by MX lookup: the better exchanger's address
// is dead, the second one is the sink.
func TestE2EOutboundMX(t *testing.T) {
	t.Parallel()
	sink := testservers.StartSink(t)
	_, port, _ := net.SplitHostPort(sink.Addr)
	d := testservers.StartDNS(t,
		"remote.test. 60 IN MX 10 mx1.remote.test.",
		"remote.test. 60 IN MX 20 mx2.remote.test.",
		"mx1.remote.test. 60 IN A 127.0.0.2", // nothing listens there
		"mx2.remote.test. 60 IN A 127.0.0.1",
	)
	s := newOutboundSite(t, "  - domains: [\"*\"]\n    to: mx\n    mx_port: "+port,
		"dns:\n  server: "+d.Addr+"\n")
	p := s.serve(t)
	s.send(t, "alice@example.test", "bob@remote.test", "via-mx")
	waitSubject(t, sink, "via-mx")
	if log := p.log(); !strings.Contains(log, "MX host unreachable") || !strings.Contains(log, "mx1.remote.test") {
		t.Errorf("the preferred exchanger was not tried first:\n%s", tail(log, 4000))
	}
}

// startSmartHost starts a second bridgehead as a smart host: submission
// with AUTH for login gw (password gw-secret, may send as
// alice@example.test), relaying everything to sink.
func startSmartHost(t *testing.T, sink *testservers.Sink) *outboundSite {
	t.Helper()
	h := &outboundSite{site: newSite(t), Admin: freeAddr(t)}
	users := fmt.Sprintf("users:\n  - login: gw\n    password: %q\n    addresses: [alice@example.test]\n", hashPassword(t, "gw-secret"))
	f := filepath.Join(h.Dir, "users.yaml")
	if err := os.WriteFile(f, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	h.Directory = "  static:\n    file: " + f
	h.Routes = fmt.Sprintf("  - domains: [\"*\"]\n    to: smtp://%s\n    tls: none", sink.Addr)
	p := h.writeConfig(t)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, "admin:\n  address: "+h.Admin+"\n"...)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	h.serve(t)
	return h
}

// TestE2EOutboundSmartHostAuth relays through a smart host that wants
// AUTH over STARTTLS, the password read from a file.
func TestE2EOutboundSmartHostAuth(t *testing.T) {
	t.Parallel()
	sink := testservers.StartSink(t)
	host := startSmartHost(t, sink)
	pwFile := filepath.Join(t.TempDir(), "relay.pw")
	if err := os.WriteFile(pwFile, []byte("gw-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newOutboundSite(t, fmt.Sprintf("  - domains: [\"*\"]\n    to: smtp://%s\n    tls: required\n    auth: {username: gw, password_file: %s}",
		host.Submission, pwFile), "")
	s.serve(t)
	s.send(t, "alice@example.test", "bob@remote.test", "via-smarthost")
	waitSubject(t, sink, "via-smarthost")
}

// TestE2EOutboundVerifyWrongCertDefers: with tls verify and a CA that
// did not sign the smart host's certificate, the message stays queued.
func TestE2EOutboundVerifyWrongCertDefers(t *testing.T) {
	t.Parallel()
	sink := testservers.StartSink(t)
	host := startSmartHost(t, sink)
	pwFile := filepath.Join(t.TempDir(), "relay.pw")
	if err := os.WriteFile(pwFile, []byte("gw-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongCA := filepath.Join(t.TempDir(), "ca")
	if err := os.Mkdir(wrongCA, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeSelfSigned(wrongCA, "localhost"); err != nil {
		t.Fatal(err)
	}
	s := newOutboundSite(t, fmt.Sprintf("  - domains: [\"*\"]\n    to: smtp://%s\n    tls: verify\n    ca_file: %s\n    auth: {username: gw, password_file: %s}",
		host.Submission, filepath.Join(wrongCA, "tls.crt"), pwFile), "")
	s.serve(t)
	id := s.send(t, "alice@example.test", "bob@remote.test", "not-verified")
	var last string
	eventually(t, 30*time.Second, "a failed attempt in the queue", func() bool {
		for _, m := range adminQueue(t, s.Admin) {
			if m.ID == id && m.Attempts > 0 && len(m.Recipients) == 1 {
				last = m.Recipients[0].LastReply
				return m.Recipients[0].State == queue.StatePending && last != ""
			}
		}
		return false
	})
	if !strings.Contains(last, "certificate") {
		t.Errorf("last reply %q does not name the certificate", last)
	}
	if n := len(sink.Messages(t)); n != 0 {
		t.Fatalf("sink got %d messages over an unverified connection", n)
	}
}

// TestE2EOutboundFailover: the first target is down, the second delivers.
func TestE2EOutboundFailover(t *testing.T) {
	t.Parallel()
	dead := freeAddr(t)
	sink := testservers.StartSink(t)
	s := newOutboundSite(t, fmt.Sprintf("  - domains: [\"*\"]\n    to: [smtp://%s, smtp://%s]\n    tls: none", dead, sink.Addr), "")
	s.serve(t)
	s.send(t, "alice@example.test", "bob@remote.test", "via-failover")
	waitSubject(t, sink, "via-failover")
}

// TestE2EOutboundSenderRoute: mail from a sender domain listed in senders
// takes its own route, other mail the default one.
func TestE2EOutboundSenderRoute(t *testing.T) {
	t.Parallel()
	special, general := testservers.StartSink(t), testservers.StartSink(t)
	s := newOutboundSite(t, fmt.Sprintf(
		"  - domains: [\"*\"]\n    senders: [branch.test]\n    to: smtp://%s\n    tls: none\n  - domains: [\"*\"]\n    to: smtp://%s\n    tls: none",
		special.Addr, general.Addr), "", "alice@example.test", "alice@branch.test")
	s.serve(t)
	s.send(t, "alice@branch.test", "bob@remote.test", "from-branch")
	s.send(t, "alice@example.test", "bob@remote.test", "from-main")
	waitSubject(t, special, "from-branch")
	waitSubject(t, general, "from-main")
	if n := sinkSubjects(t, special)["from-main"] + sinkSubjects(t, general)["from-branch"]; n != 0 {
		t.Errorf("%d messages took the other route", n)
	}
}
