package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// reloadSite is a config rewritten between reloads.
type reloadSite struct {
	*site
	admin string
	extra string // address of the inbound listener "extra"
}

// write writes the config with the route to sink at, the listeners named
// and admin extra (more admin: keys, indented by two spaces).
func (rs *reloadSite) write(t *testing.T, routeTo string, listeners []string, adminExtra string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "hostname: gw.example.test\nstate_dir: %s/state\ntls:\n  cert_file: %[2]s/tls.crt\n  key_file: %[2]s/tls.key\nlisteners:\n", rs.Dir, rs.Dir)
	for _, l := range listeners {
		switch l {
		case "submission":
			fmt.Fprintf(&b, "  - name: submission\n    address: %s\n    mode: submission\n", rs.Submission)
		case "submissions":
			fmt.Fprintf(&b, "  - name: submissions\n    address: %s\n    mode: submissions\n", rs.Submissions)
		case "extra":
			fmt.Fprintf(&b, "  - name: extra\n    address: %s\n    mode: inbound\n", rs.extra)
		}
	}
	fmt.Fprintf(&b, "domains: [example.test]\ndirectory:\n%s\nqueue:\n  retry: [1s]\nadmin:\n  address: %s\n%sroutes:\n  - domains: [\"*\"]\n    to: smtp://%s\n    tls: none\n",
		rs.Directory, rs.admin, adminExtra, routeTo)
	if err := os.WriteFile(filepath.Join(rs.Dir, "bridgehead.yaml"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// openSubmission opens an authenticated session on addr (STARTTLS, AUTH
// PLAIN as alice).
func openSubmission(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // self-signed test certificate
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Auth(sasl.NewPlainClient("", "alice", "pw-alice")); err != nil {
		t.Fatal(err)
	}
	return c
}

// sendOn sends one message on an open session.
func sendOn(t *testing.T, c *smtp.Client, subject string) {
	t.Helper()
	if err := c.Mail("alice@example.test", nil); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	if err := c.Rcpt("bob@remote.example", nil); err != nil {
		t.Fatalf("RCPT: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	fmt.Fprintf(w, "From: alice@example.test\r\nTo: bob@remote.example\r\nSubject: %s\r\n\r\nbody\r\n", subject)
	if err := w.Close(); err != nil {
		t.Fatalf("end of DATA: %v", err)
	}
}

// count returns how often re matches the process's log.
func (p *proc) count(re string) int {
	return len(regexp.MustCompile(re).FindAllStringIndex(p.log(), -1))
}

// connRefused reports whether a TCP connection to addr is refused.
func connRefused(addr string) bool {
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// TestE2EReload changes the route, adds and removes listeners by SIGHUP
// with a session open across it; a broken config by SIGHUP and by POST
// /reload changes nothing and says why; stop and start a listener with a
// session open across the stop; a paused listener stays paused across a
// reload.
func TestE2EReload(t *testing.T) {
	t.Parallel()
	testservers.Require(t, "swaks", "smtp-sink")
	sinkA, sinkB := testservers.StartSink(t), testservers.StartSink(t)
	rs := &reloadSite{site: newSite(t)}
	rs.admin, rs.extra = freeAddr(t), freeAddr(t)
	rs.staticUsers(t, "alice", "pw-alice", "alice@example.test")
	rs.write(t, sinkA.Addr, []string{"submission", "submissions"}, "")
	p := startBridgehead(t, rs.Dir, []string{rs.Submission, rs.Submissions, rs.admin}, "serve", "-config", filepath.Join(rs.Dir, "bridgehead.yaml"))

	swaksSubmit(t, rs.Submission, "--tls", "alice", "pw-alice", "alice@example.test", "bob@remote.example", "before")
	eventually(t, 20*time.Second, "the first message at sink A", func() bool { return len(sinkA.Messages(t)) == 1 })

	// (a, d) SIGHUP: route to B, "extra" added, "submissions" removed,
	// with a session open across it.
	open := openSubmission(t, rs.Submission)
	rs.write(t, sinkB.Addr, []string{"submission", "extra"}, "")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the reload", func() bool { return p.count(`msg=reloaded`) == 1 })
	sendOn(t, open, "across the reload")
	if err := open.Quit(); err != nil {
		t.Errorf("QUIT: %v", err)
	}
	swaksSubmit(t, rs.Submission, "--tls", "alice", "pw-alice", "alice@example.test", "bob@remote.example", "after")
	eventually(t, 20*time.Second, "both messages at sink B", func() bool { return len(sinkB.Messages(t)) == 2 })
	if n := len(sinkA.Messages(t)); n != 1 {
		t.Errorf("sink A has %d messages after the route moved, want 1", n)
	}
	if g := greeting(t, rs.extra); !strings.HasPrefix(g, "220 ") {
		t.Errorf("added listener: greeting %q", g)
	}
	eventually(t, 20*time.Second, "the removed listener's port closed", func() bool { return connRefused(rs.Submissions) })

	// (b) A broken config by SIGHUP changes nothing and the log says why.
	cfgPath := filepath.Join(rs.Dir, "bridgehead.yaml")
	good, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(good), "    tls: none\n", "    tls: sometimes\n", 1)
	if err := os.WriteFile(cfgPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the failed reload logged", func() bool { return p.count(`msg="reload failed, nothing changed"`) == 1 })
	if !regexp.MustCompile(`reload failed.*bridgehead\.yaml:\d+: `).MatchString(p.log()) {
		t.Errorf("the failed reload's log names no FILE:LINE:\n%s", tail(p.log(), 3000))
	}
	swaksSubmit(t, rs.Submission, "--tls", "alice", "pw-alice", "alice@example.test", "bob@remote.example", "after the broken reload")
	eventually(t, 20*time.Second, "the third message at sink B", func() bool { return len(sinkB.Messages(t)) == 3 })

	// (c) POST /reload reports the error, then applies a good config.
	out, err := runCLI(t, "reload", "-admin", rs.admin)
	if err == nil || !regexp.MustCompile(`bridgehead\.yaml:\d+: .*HTTP 400`).MatchString(out+err.Error()) {
		t.Errorf("reload of a broken config: %v\n%s", err, out)
	}

	// (e) stop with a session open across it; pause survives a reload.
	c, err := net.Dial("tcp", rs.Submission)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cr := bufio.NewReader(c)
	if line, err := cr.ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 ") {
		t.Fatalf("greeting %q, %v", line, err)
	}
	if out, err := runCLI(t, "listener", "stop", "submission", "-admin", rs.admin); err != nil {
		t.Fatalf("listener stop: %v\n%s", err, out)
	}
	if !connRefused(rs.Submission) {
		t.Error("a stopped listener's port still accepts")
	}
	fmt.Fprintf(c, "EHLO client.example\r\n")
	for line := ""; !strings.HasPrefix(line, "250 "); {
		if line, err = cr.ReadString('\n'); err != nil {
			t.Fatalf("EHLO in the session opened before the stop: %v", err)
		}
	}
	fmt.Fprintf(c, "QUIT\r\n")
	if line, err := cr.ReadString('\n'); err != nil || !strings.HasPrefix(line, "221") {
		t.Errorf("QUIT: %q, %v", line, err)
	}
	if out, err := runCLI(t, "listener", "pause", "extra", "-admin", rs.admin); err != nil {
		t.Fatalf("listener pause: %v\n%s", err, out)
	}
	rs.write(t, sinkA.Addr, []string{"submission", "extra"}, "")
	if out, err := runCLI(t, "reload", "-admin", rs.admin); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	if g := greeting(t, rs.extra); !strings.HasPrefix(g, "421 4.3.2") {
		t.Errorf("paused listener after a reload: greeting %q", g)
	}
	if !connRefused(rs.Submission) {
		t.Error("a stopped listener started by a reload")
	}
	out, err = runCLI(t, "status", "-admin", rs.admin)
	if err != nil || !regexp.MustCompile(`submission\s+\S+\s+submission\s+stopped`).MatchString(out) ||
		!regexp.MustCompile(`extra\s+\S+\s+inbound\s+paused`).MatchString(out) {
		t.Errorf("status: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "listener", "start", "submission", "-admin", rs.admin); err != nil {
		t.Fatalf("listener start: %v\n%s", err, out)
	}
	swaksSubmit(t, rs.Submission, "--tls", "alice", "pw-alice", "alice@example.test", "bob@remote.example", "after POST /reload")
	eventually(t, 20*time.Second, "the message at sink A again", func() bool { return len(sinkA.Messages(t)) == 2 })
}

// TestE2EAdminToken runs the admin API off loopback: HTTPS and a bearer
// token, the probes open; and a config off loopback without a token file
// fails its check with FILE:LINE. Not parallel: it sets the environment.
func TestE2EAdminToken(t *testing.T) {
	testservers.Require(t, "smtp-sink")
	sink := testservers.StartSink(t)
	rs := &reloadSite{site: newSite(t)}
	port := testservers.FreePort(t)
	rs.admin = "0.0.0.0:" + strconv.Itoa(port)
	rs.staticUsers(t, "alice", "pw-alice", "alice@example.test")

	rs.write(t, sink.Addr, []string{"submission"}, "")
	out, err := runCLI(t, "check-config", "-config", filepath.Join(rs.Dir, "bridgehead.yaml"))
	if err == nil || !regexp.MustCompile(`bridgehead\.yaml:\d+: admin\.address .* admin\.token_file is required`).MatchString(out) {
		t.Errorf("check-config off loopback without a token: %v\n%s", err, out)
	}

	tokenFile := filepath.Join(rs.Dir, "admin.token")
	if err := os.WriteFile(tokenFile, []byte("e2e-admin-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rs.write(t, sink.Addr, []string{"submission"}, "  token_file: "+tokenFile+"\n")
	local := "localhost:" + strconv.Itoa(port)
	startBridgehead(t, rs.Dir, []string{rs.Submission, local}, "serve", "-config", filepath.Join(rs.Dir, "bridgehead.yaml"))
	base := "https://" + local
	ca := filepath.Join(rs.Dir, "tls.crt")

	if out, err := runCLI(t, "status", "-admin", base, "-ca-file", ca); err == nil || !strings.Contains(out+err.Error(), "HTTP 401") {
		t.Errorf("status without a token: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "status", "-admin", base, "-ca-file", ca, "-token-file", tokenFile); err != nil || !strings.Contains(out, "ready:") {
		t.Errorf("status with the token: %v\n%s", err, out)
	}
	t.Setenv("BRIDGEHEAD_ADMIN_TOKEN_FILE", tokenFile)
	if out, err := runCLI(t, "listener", "list", "-admin", base, "-insecure"); err != nil || !strings.Contains(out, "submission") {
		t.Errorf("listener list with the token from the environment: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "status", "-admin", "http://"+local); err == nil {
		t.Errorf("plain HTTP to the TLS admin port succeeded:\n%s", out)
	}
}
