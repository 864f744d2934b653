package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// pickupSite starts the binary with routes to an smtp-sink and a quick
// pickup poll; it returns the site, the sink and the config's path.
func pickupSite(t *testing.T) (*site, *testservers.Sink, string) {
	t.Helper()
	sink := testservers.StartSink(t)
	s := newSite(t)
	s.staticUsers(t, "alice", "pw-alice", "alice@example.test")
	s.Routes = fmt.Sprintf("  - domains: [\"*\"]\n    to: smtp://%s\n    tls: none", sink.Addr)
	cfg := s.writeConfig(t)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("pickup:\n  interval: 100ms\n  origin: example.test\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	s.serve(t)
	return s, sink, cfg
}

// sinkMessages waits for n messages at the sink and returns them parsed.
func sinkMessages(t *testing.T, sink *testservers.Sink, n int) []testservers.SinkMessage {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("%d messages at the sink", n), func() bool {
		m := sink.Messages(t)
		return len(m) >= n && allParse(m)
	})
	var out []testservers.SinkMessage
	for _, raw := range sink.Messages(t) {
		m, err := testservers.ParseSink(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// rcptAddrs are the addresses of a sink message's RCPT arguments.
func rcptAddrs(m testservers.SinkMessage) []string {
	var out []string
	for _, a := range m.RcptArgs {
		addr, _, _ := strings.Cut(a, " ")
		out = append(out, strings.Trim(addr, "<>"))
	}
	slices.Sort(out)
	return out
}

// TestE2EPickup drops files into the pickup directory of the running
// binary and runs "bridgehead sendmail": good mail reaches the smtp-sink
// back end, a malformed file ends in badmail with its reason.
func TestE2EPickup(t *testing.T) {
	t.Parallel()
	s, sink, cfg := pickupSite(t)
	pickupDir := filepath.Join(s.Dir, "state", "pickup")
	badmail := filepath.Join(s.Dir, "state", "badmail")

	// An IIS-style file with bare LF line ends, written and renamed in.
	tmp := filepath.Join(pickupDir, ".drop.tmp")
	file := "x-sender: app@example.test\nx-receiver: bob@remote.example\nFrom: App <app@example.test>\nTo: bob@remote.example\nSubject: from pickup\n\nHello from a file.\n"
	if err := os.WriteFile(tmp, []byte(file), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(pickupDir, "drop.eml")); err != nil {
		t.Fatal(err)
	}
	msgs := sinkMessages(t, sink, 1)
	m := msgs[0]
	if !strings.Contains(m.MailArgs, "<app@example.test>") || !slices.Equal(rcptAddrs(m), []string{"bob@remote.example"}) {
		t.Errorf("envelope MAIL %q RCPT %q", m.MailArgs, m.RcptArgs)
	}
	for _, want := range []string{"Received: from pickup (uid ", "by gw.example.test (bridgehead) with local id ", "\r\nSubject: from pickup\r\n", "\r\nMessage-ID: <", "\r\nDate: ", "Hello from a file.\r\n"} {
		if !bytes.Contains(m.Data, []byte(want)) {
			t.Errorf("delivered message lacks %q:\n%s", want, m.Data)
		}
	}
	if bytes.Contains(bytes.ToLower(m.Data), []byte("x-receiver")) {
		t.Errorf("X-Receiver line delivered:\n%s", m.Data)
	}
	eventually(t, 10*time.Second, "the pickup file to be removed", func() bool {
		_, err := os.Stat(filepath.Join(pickupDir, "drop.eml"))
		return os.IsNotExist(err)
	})

	// bridgehead sendmail -t, config from BRIDGEHEAD_CONFIG, Bcc recipient.
	cmd := exec.Command(bridgeheadBin(t), "sendmail", "-t", "-oi", "-odi")
	cmd.Env = append(os.Environ(), "BRIDGEHEAD_CONFIG="+cfg)
	cmd.Stdin = strings.NewReader("From: Cron <cron@example.test>\nTo: carol@remote.example\nBcc: eve@remote.example\nSubject: via sendmail\n\nline\n.\nafter the dot\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sendmail -t: %v\n%s", err, out)
	}
	msgs = sinkMessages(t, sink, 2)
	m = msgs[1]
	if !slices.Equal(rcptAddrs(m), []string{"carol@remote.example", "eve@remote.example"}) {
		t.Errorf("sendmail -t: RCPT %q, want carol and the Bcc recipient eve", m.RcptArgs)
	}
	if !strings.Contains(m.MailArgs, "<cron@example.test>") {
		t.Errorf("sendmail -t: MAIL %q", m.MailArgs)
	}
	if bytes.Contains(m.Data, []byte("Bcc")) || bytes.Contains(m.Data, []byte("eve@")) {
		t.Errorf("Bcc visible in the delivered message:\n%s", m.Data)
	}
	if !bytes.Contains(m.Data, []byte("Subject: via sendmail\r\n")) || !bytes.Contains(m.Data, []byte("\r\n.\r\nafter the dot\r\n")) {
		t.Errorf("sendmail -t -oi: unexpected message:\n%s", m.Data)
	}

	// sendmail with -config and no recipients: EX_USAGE.
	cmd = exec.Command(bridgeheadBin(t), "sendmail", "-config", cfg)
	cmd.Stdin = strings.NewReader("Subject: s\n\nb\n")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exUsage {
		t.Errorf("sendmail without recipients: %v, want exit %d\n%s", err, exUsage, out)
	}

	// A malformed file (no recipients anywhere) goes to badmail.
	tmp = filepath.Join(pickupDir, "bad.tmp")
	if err := os.WriteFile(tmp, []byte("From: app@example.test\nSubject: nobody\n\nlost\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(pickupDir, "bad.eml")); err != nil {
		t.Fatal(err)
	}
	var reason []byte
	eventually(t, 10*time.Second, "bad.eml.reason in badmail", func() bool {
		reason, err = os.ReadFile(filepath.Join(badmail, "bad.eml.reason"))
		return err == nil
	})
	if !bytes.Contains(reason, []byte("no recipients")) {
		t.Errorf("reason file says %q", reason)
	}
	if b, err := os.ReadFile(filepath.Join(badmail, "bad.eml")); err != nil || !bytes.Contains(b, []byte("Subject: nobody")) {
		t.Errorf("bad file not kept in badmail: %v", err)
	}
	if _, err := os.Stat(filepath.Join(pickupDir, "bad.eml")); !os.IsNotExist(err) {
		t.Errorf("bad file still in the pickup directory: %v", err)
	}
	// Nothing was queued for it, so nothing more can reach the sink.
	if n := len(sink.Messages(t)); n != 2 {
		t.Errorf("sink holds %d messages, want 2", n)
	}
}
