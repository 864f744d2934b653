package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pires/go-proxyproto"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// inboundSite is a gateway with inbound listeners only, for mail from "the
// Internet", delivering example.test to Dovecot over LMTP.
type inboundSite struct {
	Dir  string
	LMTP string // Dovecot's LMTP address
	// Listener addresses: plain inbound (127.0.0.3 denied), behind a
	// trusted balancer (127.0.0.1), behind a balancer that is not us
	// (127.0.0.2 trusted), and rate-limited.
	Inbound, Proxied, Untrusted, Rated string
	Users                              string // users file
	Admin                              string // admin API address
}

var inboundTemplate = template.Must(template.New("cfg").Parse(`hostname: gw.example.test
state_dir: {{.Dir}}/state
tls:
  cert_file: {{.Dir}}/tls.crt
  key_file: {{.Dir}}/tls.key
listeners:
  - name: inbound
    address: {{.Inbound}}
    mode: inbound
    access:
      - deny: 127.0.0.3
  - name: proxied
    address: {{.Proxied}}
    mode: inbound
    proxy_protocol:
      trusted: [127.0.0.1/32]
  - name: untrusted
    address: {{.Untrusted}}
    mode: inbound
    proxy_protocol:
      trusted: [127.0.0.2/32]
  - name: rated
    address: {{.Rated}}
    mode: inbound
    limits:
      connection_rate_per_ip: 3
      message_rate_per_ip: 1
domains: [example.test]
admin:
  address: {{.Admin}}
directory:
  static:
    file: {{.Users}}
queue:
  retry: [1s]
routes:
  - domains: [example.test]
    to: lmtp://{{.LMTP}}
    tls: none
`))

// TestE2EInbound runs the binary with inbound listeners in front of a real
// Dovecot: Internet mail for a local user is delivered and readable over
// IMAP, unknown users, foreign domains and denied clients are refused at
// the right step, the PROXY protocol names the real client in the log and
// the Received header (and is refused from an untrusted peer), and the
// per-IP rates answer as Postfix does.
func TestE2EInbound(t *testing.T) {
	t.Parallel()
	testservers.Require(t, "swaks")
	dc := testservers.StartDovecot(t, map[string]string{"alice@example.test": "imap-pw"})
	s := &inboundSite{Dir: t.TempDir(), LMTP: dc.LMTPAddr,
		Inbound: freeAddr(t), Proxied: freeAddr(t), Untrusted: freeAddr(t), Rated: freeAddr(t), Admin: freeAddr(t)}
	if err := writeSelfSigned(s.Dir, "localhost"); err != nil {
		t.Fatal(err)
	}
	s.Users = filepath.Join(s.Dir, "users.yaml")
	users := fmt.Sprintf("users:\n  - login: alice\n    password: %q\n    addresses: [alice@example.test]\n", hashPassword(t, "pw"))
	if err := os.WriteFile(s.Users, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg bytes.Buffer
	if err := inboundTemplate.Execute(&cfg, s); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(s.Dir, "bridgehead.yaml")
	if err := os.WriteFile(cfgPath, cfg.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBridgehead(t, s.Dir, []string{s.Inbound, s.Proxied, s.Untrusted, s.Rated}, "serve", "-config", cfgPath)

	// (a) Internet mail, no AUTH, STARTTLS as a sending MTA would.
	out, ok := swaks(t, "--server", s.Inbound, "--tls", "--helo", "mx.sender.example",
		"--from", "someone@sender.example", "--to", "alice@example.test",
		"--header", "Subject: from the Internet", "--body", "hello from outside")
	if !ok || !strings.Contains(out, "<~  250 2.0.0") {
		t.Fatalf("swaks to the inbound listener failed:\n%s", out)
	}
	if strings.Contains(out, "250-AUTH") || strings.Contains(out, "250 AUTH") {
		t.Errorf("inbound listener offers AUTH:\n%s", out)
	}

	// (c) Behind a trusted load balancer, v2 and v1 headers.
	for _, v := range []byte{2, 1} {
		client := fmt.Sprintf("203.0.113.%d:4%d000", 6+v, v)
		c := dialProxied(t, s.Proxied, "127.0.0.1", v, client)
		if err := c.SendMail("someone@sender.example", []string{"alice@example.test"},
			strings.NewReader(fmt.Sprintf("From: someone@sender.example\r\nSubject: proxied v%d\r\n\r\nvia a load balancer\r\n", v))); err != nil {
			t.Fatalf("v%d: send behind the balancer: %v", v, err)
		}
		_ = c.Quit()
	}

	msgs := map[string][]byte{}
	eventually(t, 30*time.Second, "three messages in Dovecot", func() bool {
		for _, m := range dc.Fetch(t, "alice@example.test", "imap-pw") {
			for _, subj := range []string{"from the Internet", "proxied v1", "proxied v2"} {
				if bytes.Contains(m, []byte("Subject: "+subj+"\r\n")) {
					msgs[subj] = m
				}
			}
		}
		return len(msgs) == 3
	})
	receivedFrom := func(subj, helo, client string) {
		t.Helper()
		rx := regexp.MustCompile(`Received: from ` + regexp.QuoteMeta(helo) + ` \(` + client + `\)\r\n\tby gw\.example\.test \(bridgehead\) with ESMTP`)
		if !rx.Match(msgs[subj]) {
			t.Errorf("%s: no Received header from %s (%s):\n%s", subj, helo, client, msgs[subj])
		}
	}
	// The system resolver may or may not confirm localhost from /etc/hosts.
	receivedFrom("from the Internet", "mx.sender.example", `(localhost|unknown) \[127\.0\.0\.1\]`)
	receivedFrom("proxied v2", "localhost", `unknown \[203\.0\.113\.8\]`)
	receivedFrom("proxied v1", "localhost", `unknown \[203\.0\.113\.7\]`)
	for _, ip := range []string{"203.0.113.8", "203.0.113.7"} {
		if !logHas(p.log(), "session end", "listener=proxied", "client_ip="+ip) {
			t.Errorf("no session log line of the proxied listener with client_ip=%s:\n%s", ip, p.log())
		}
	}

	// (b) Refused at the right step with the right code.
	c, err := smtp.Dial(s.Inbound)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("mx.sender.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("someone@sender.example", nil); err != nil {
		t.Fatal(err)
	}
	expectSMTPError(t, "unknown user", c.Rcpt("nobody@example.test", nil), 550, smtp.EnhancedCode{5, 1, 1})
	expectSMTPError(t, "foreign domain", c.Rcpt("victim@elsewhere.example", nil), 554, smtp.EnhancedCode{5, 7, 1})
	_ = c.Quit()
	if line := greetingFrom(t, s.Inbound, "127.0.0.3"); !strings.HasPrefix(line, "554 5.7.1 ") {
		t.Errorf("denied client's greeting = %q, want 554 5.7.1", line)
	}
	if !logHas(p.log(), "connection refused", "listener=inbound", "client_ip=127.0.0.3", "access denied") {
		t.Errorf("no log line for the denied client:\n%s", p.log())
	}

	// (c) A PROXY header from a peer that is not a trusted balancer is
	// refused: the connection ends before any command is answered.
	for _, v := range []byte{2, 1} {
		c := dialProxied(t, s.Untrusted, "127.0.0.1", v, "203.0.113.66:40000")
		if err := c.Hello("spoofer.example"); err == nil {
			t.Errorf("v%d: EHLO after a PROXY header from an untrusted peer succeeded", v)
		}
		c.Close()
	}
	eventually(t, 10*time.Second, "the untrusted header logged", func() bool {
		return strings.Count(p.log(), "PROXY header from an untrusted address") >= 2
	})
	if strings.Contains(p.log(), "203.0.113.66") {
		t.Errorf("the address of a refused PROXY header made it into the log:\n%s", p.log())
	}

	// (d) Per-IP rates: 450 4.7.1 at MAIL FROM, 421 4.7.0 at connect.
	c, err = smtp.Dial(s.Rated)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("mx.sender.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("someone@sender.example", nil); err != nil {
		t.Fatalf("first MAIL: %v", err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	expectSMTPError(t, "second MAIL within the minute", c.Mail("someone@sender.example", nil), 450, smtp.EnhancedCode{4, 7, 1})
	_ = c.Quit()
	// Three connections a minute; the readiness probe at start took one.
	const refused = "421 4.7.0 Error: too many connections from 127.0.0.1"
	for i := 2; ; i++ {
		line := greetingFrom(t, s.Rated, "127.0.0.1")
		if line == refused {
			break
		}
		if !strings.HasPrefix(line, "220 ") || i == 4 {
			t.Fatalf("connection %d within the minute = %q, want 220 up to the third, then %q", i, line, refused)
		}
	}
	if !logHas(p.log(), "connection refused", "listener=rated", "client_ip=127.0.0.1", "connection rate") {
		t.Errorf("no log line for the connection over the rate:\n%s", p.log())
	}
}

// dialProxied connects from local to addr, sends a PROXY header of version
// naming client, and returns an SMTP client on the connection.
func dialProxied(t *testing.T, addr, local string, version byte, client string) *smtp.Client {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, local, err)
	}
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	h := proxyproto.HeaderProxyFromAddrs(version,
		net.TCPAddrFromAddrPort(netip.MustParseAddrPort(client)),
		conn.RemoteAddr())
	if _, err := h.WriteTo(conn); err != nil {
		t.Fatalf("write PROXY v%d header: %v", version, err)
	}
	c := smtp.NewClient(conn)
	t.Cleanup(func() { c.Close() })
	return c
}

// greetingFrom connects from local to addr and returns the first reply
// line.
func greetingFrom(t *testing.T, addr, local string) string {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, local, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("greeting of %s: %v", addr, err)
	}
	return strings.TrimRight(line, "\r\n")
}

// expectSMTPError checks that err is an SMTP reply with code and enh.
func expectSMTPError(t *testing.T, what string, err error, code int, enh smtp.EnhancedCode) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != code || se.EnhancedCode != enh {
		t.Errorf("%s: got %v, want %d %d.%d.%d", what, err, code, enh[0], enh[1], enh[2])
	}
}

// logHas reports whether one line of log holds every part.
func logHas(log string, parts ...string) bool {
	for _, line := range strings.Split(log, "\n") {
		all := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}
