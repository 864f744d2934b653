package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// imaplibScript logs in with Python's imaplib and prints every message of
// INBOX, separated by a marker line.
const imaplibScript = `
import imaplib, sys
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
m = imaplib.IMAP4(host, port)
m.login(user, pw)
typ, data = m.select("INBOX", readonly=True)
assert typ == "OK", data
typ, data = m.search(None, "ALL")
for num in data[0].split():
    typ, parts = m.fetch(num, "(RFC822)")
    assert typ == "OK", parts
    sys.stdout.write("=== message %s\n" % num.decode())
    sys.stdout.write(parts[0][1].decode("utf-8", "replace"))
m.logout()
`

// TestE2EDev runs "bridgehead dev" on free ports, sends with the swaks line
// it prints and reads the message back with Python's imaplib.
func TestE2EDev(t *testing.T) {
	t.Parallel()
	testservers.Require(t, "swaks", "python3")
	dir := t.TempDir()
	sub, subs, imapAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	p := startBridgehead(t, dir, []string{sub, subs, imapAddr}, "dev",
		"-dir", filepath.Join(dir, "dev"), "-submission", sub, "-submissions", subs, "-imap", imapAddr)

	out := readFile(p.stdout)
	pwm := regexp.MustCompile(`(?m)^\s*password:\s*(\S+)\s*$`).FindStringSubmatch(out)
	if pwm == nil {
		t.Fatalf("no password line in dev's output:\n%s", out)
	}
	password := pwm[1]
	var swaksLine string
	for _, line := range strings.Split(out, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "swaks ") {
			swaksLine = l
		}
	}
	if swaksLine == "" || !strings.Contains(swaksLine, sub) || !strings.Contains(swaksLine, password) {
		t.Fatalf("no swaks line for %s with the password in dev's output:\n%s", sub, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sw, err := exec.CommandContext(ctx, "sh", "-c", swaksLine+" --header 'Subject: dev e2e'").CombinedOutput()
	if err != nil || !queuedRE.Match(sw) {
		t.Fatalf("the printed swaks line failed: %v\n%s\n%s", err, swaksLine, sw)
	}

	host, port, _ := strings.Cut(imapAddr, ":")
	var mbox string
	eventually(t, 30*time.Second, "the message in demo's INBOX over IMAP", func() bool {
		o, err := exec.CommandContext(ctx, "python3", "-c", imaplibScript, host, port, "demo", password).CombinedOutput()
		if err != nil {
			t.Fatalf("imaplib: %v\n%s", err, o)
		}
		mbox = string(o)
		return strings.Contains(mbox, "Subject: dev e2e")
	})
	if n := strings.Count(mbox, "=== message "); n != 1 {
		t.Errorf("INBOX holds %d messages, want 1:\n%s", n, mbox)
	}
	if !strings.Contains(mbox, "(bridgehead) with ESMTPSA id ") {
		t.Errorf("no bridgehead Received header:\n%s", mbox)
	}

	// An unknown local user is refused at RCPT.
	o, ok := swaks(t, "--server", sub, "--tls", "--auth", "LOGIN", "--auth-user", "demo", "--auth-password", password,
		"--from", "demo@example.test", "--to", "nobody@example.test")
	if ok || !strings.Contains(o, "550 5.1.1") {
		t.Errorf("RCPT to an unknown local user: want 550 5.1.1, swaks said:\n%s", o)
	}
}
