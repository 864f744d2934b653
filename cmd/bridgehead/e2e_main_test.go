package main

// End-to-end tests of the real bridgehead binary: built once per test run,
// started as a child process on free loopback ports, driven by real clients
// (swaks, go-smtp, Python's imaplib) against real back ends (Dovecot,
// smtp-sink, slapd).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// e2eBin holds the binary built for this run; TestMain removes its directory.
type e2eBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

var binary e2eBin // set up once per process by TestMain; read-only in tests

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		_ = os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// bridgeheadBin builds the binary on first use and returns its path.
func bridgeheadBin(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		binary.dir, binary.err = os.MkdirTemp("", "bh-e2e-bin")
		if binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "bridgehead")
		out, err := exec.Command("go", "build", "-race", "-o", binary.path, ".").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatalf("build bridgehead: %v", binary.err)
	}
	return binary.path
}

// proc is one running bridgehead process.
type proc struct {
	cmd     *exec.Cmd
	done    chan struct{}
	stderr  string // file with the process's stderr (its log)
	stdout  string // file with its stdout
	waitErr error  // set when done is closed
}

// startBridgehead starts the binary with args, its output going to files in
// logDir, and waits until every address in ready accepts connections. The
// process is killed at cleanup; on failure its log is printed.
func startBridgehead(t testing.TB, logDir string, ready []string, args ...string) *proc {
	t.Helper()
	bin := bridgeheadBin(t)
	n := 0
	for {
		if _, err := os.Stat(filepath.Join(logDir, fmt.Sprintf("stderr.%d.log", n))); errors.Is(err, os.ErrNotExist) {
			break
		}
		n++
	}
	p := &proc{done: make(chan struct{}),
		stderr: filepath.Join(logDir, fmt.Sprintf("stderr.%d.log", n)),
		stdout: filepath.Join(logDir, fmt.Sprintf("stdout.%d.log", n))}
	errf, err := os.Create(p.stderr)
	if err != nil {
		t.Fatal(err)
	}
	outf, err := os.Create(p.stdout)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = outf, errf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start bridgehead: %v", err)
	}
	_ = errf.Close()
	_ = outf.Close()
	go func() { p.waitErr = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("bridgehead %v\n--- stdout ---\n%s\n--- stderr ---\n%s", args, readFile(p.stdout), tail(readFile(p.stderr), 12000))
		}
	})
	for _, addr := range ready {
		if err := testservers.WaitListening(addr, p.done, 30*time.Second); err != nil {
			t.Fatalf("bridgehead not ready: %v\n--- stderr ---\n%s", err, readFile(p.stderr))
		}
	}
	return p
}

// kill sends SIGKILL and waits for the process to be reaped.
func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// log returns what the process has logged so far.
func (p *proc) log() string { return readFile(p.stderr) }

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "...\n" + s[len(s)-n:]
	}
	return s
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond) // poll: the back ends give no signal
	}
}

// freeAddr returns a free 127.0.0.1:PORT.
func freeAddr(t testing.TB) string {
	return "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
}

// hashPassword runs "bridgehead hash-password -cost 4".
func hashPassword(t testing.TB, pw string) string {
	t.Helper()
	cmd := exec.Command(bridgeheadBin(t), "hash-password", "-cost", "4")
	cmd.Stdin = strings.NewReader(pw + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hash-password: %v\n%s", err, stderr.String())
	}
	h := strings.TrimSpace(string(out))
	if !strings.HasPrefix(h, "$2a$04$") && !strings.HasPrefix(h, "$2b$04$") {
		t.Fatalf("hash-password printed %q, want a cost-4 bcrypt hash", h)
	}
	return h
}

// site is a gateway config under test: its files live in Dir.
type site struct {
	Dir         string
	Submission  string // listener addresses
	Submissions string
	Retry       string // queue.retry, e.g. "[1s]"
	Directory   string // the directory: block, indented by two spaces
	Routes      string // the routes: list, indented by two spaces
	Backends    string // optional backends: block
	Limits      string // optional limits: block of the submission listener, indented by six spaces
}

var siteTemplate = template.Must(template.New("cfg").Parse(`hostname: gw.example.test
state_dir: {{.Dir}}/state
tls:
  cert_file: {{.Dir}}/tls.crt
  key_file: {{.Dir}}/tls.key
listeners:
  - name: submission
    address: {{.Submission}}
    mode: submission
{{- if .Limits}}
    limits:
{{.Limits}}
{{- end}}
  - name: submissions
    address: {{.Submissions}}
    mode: submissions
domains: [example.test]
directory:
{{.Directory}}
queue:
  retry: {{.Retry}}
routes:
{{.Routes}}
{{- if .Backends}}
backends:
{{.Backends}}
{{- end}}
`))

// newSite makes a directory with a self-signed certificate and free
// listener addresses; fill in the rest and call writeConfig.
func newSite(t testing.TB) *site {
	t.Helper()
	dir := t.TempDir()
	if err := writeSelfSigned(dir, "localhost"); err != nil {
		t.Fatal(err)
	}
	return &site{Dir: dir, Submission: freeAddr(t), Submissions: freeAddr(t), Retry: "[1s]"}
}

// staticUsers writes a users file with login alice (address
// alice@example.test) and returns the directory: block for it.
func (s *site) staticUsers(t testing.TB, login, password string, addresses ...string) {
	t.Helper()
	users := fmt.Sprintf("users:\n  - login: %s\n    password: %q\n    addresses: [%s]\n",
		login, hashPassword(t, password), strings.Join(addresses, ", "))
	f := filepath.Join(s.Dir, "users.yaml")
	if err := os.WriteFile(f, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Directory = "  static:\n    file: " + f
}

// writeConfig writes the config file and returns its path.
func (s *site) writeConfig(t testing.TB) string {
	t.Helper()
	var b bytes.Buffer
	if err := siteTemplate.Execute(&b, s); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.Dir, "bridgehead.yaml")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serve starts "bridgehead serve" on the site's config.
func (s *site) serve(t testing.TB) *proc {
	t.Helper()
	return startBridgehead(t, s.Dir, []string{s.Submission, s.Submissions}, "serve", "-config", filepath.Join(s.Dir, "bridgehead.yaml"))
}

// swaks runs swaks with args and returns its output and whether it exited 0.
func swaks(t testing.TB, args ...string) (string, bool) {
	t.Helper()
	testservers.Require(t, "swaks")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "swaks", args...).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	return string(out), err == nil
}
