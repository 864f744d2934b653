package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// startLoadGateway runs a gateway in-process relaying everything to a fresh
// smtp-sink, with user alice / the given password; it returns the
// submission and submissions addresses and the sink.
func startLoadGateway(t *testing.T, password string) (submission, submissions string, sink *testservers.Sink) {
	t.Helper()
	sink = testservers.StartSink(t)
	dir := t.TempDir()
	if err := writeSelfSigned(dir, "localhost"); err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := fmt.Sprintf("users:\n  - login: alice\n    password: %q\n    addresses: [alice@example.test]\n", hash)
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	submission = "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	submissions = "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	yaml := fmt.Sprintf(`hostname: gw.example.test
state_dir: %[1]s/state
tls:
  cert_file: %[1]s/tls.crt
  key_file: %[1]s/tls.key
listeners:
  - name: submission
    address: %[2]s
    mode: submission
  - name: submissions
    address: %[3]s
    mode: submissions
domains: [example.test]
directory:
  static:
    file: %[1]s/users.yaml
queue:
  retry: [1s]
routes:
  - domains: ["*"]
    to: smtp://%[4]s
    tls: none
`, dir, submission, submissions, sink.Addr)
	cfg, err := ParseConfig(filepath.Join(dir, "bridgehead.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := newServer(ctx, cfg, log, serverOptions{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-srv.ready:
	case err := <-done:
		t.Fatalf("gateway stopped before ready: %v", err)
	}
	return submission, submissions, sink
}

func TestLoadtest(t *testing.T) {
	t.Parallel()
	const n = 24
	submission, submissions, sink := startLoadGateway(t, "s3cret")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runs := []struct {
		name string
		args []string
		tls  string // how every connection's TLS must be negotiated, but for resumption
	}{
		{"starttls-plain-reused", []string{"-server", submission, "-tls", "starttls", "-auth", "plain", "-password", "s3cret", "-c", "4", "-per-conn", "5"}, "TLSv1.3 X25519MLKEM768"},
		{"implicit-login-new", []string{"-server", submissions, "-tls", "implicit", "-auth", "login", "-password-file", pwFile, "-c", "3", "-per-conn", "1", "-resume", "-curves", "x25519,P-256"}, "TLSv1.3 X25519"},
	}
	total := 0
	for _, r := range runs {
		args := append([]string{"-json", "-user", "alice", "-from", "alice@example.test",
			"-to", "bob@example.net,carol@example.org", "-n", strconv.Itoa(n), "-size", "3KiB"}, r.args...)
		var stdout, stderr bytes.Buffer
		if err := cmdLoadtest(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("%s: loadtest: %v\nstdout:\n%s\nstderr:\n%s", r.name, err, stdout.String(), stderr.String())
		}
		var res loadResult
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("%s: result is not JSON: %v\n%s", r.name, err, stdout.String())
		}
		if res.Accepted != n || res.Failed != 0 || len(res.Errors) != 0 {
			t.Errorf("%s: accepted %d failed %d errors %v, want %d accepted", r.name, res.Accepted, res.Failed, res.Errors, n)
		}
		wantConns := (n + 4) / 5
		if r.name == "implicit-login-new" {
			wantConns = n
		}
		if res.Connections < wantConns {
			t.Errorf("%s: %d connections, want at least %d", r.name, res.Connections, wantConns)
		}
		resumed := 0
		for k, v := range res.Handshakes {
			if base, ok := strings.CutSuffix(k, " resumed"); ok {
				resumed += v
				k = base
			}
			if k != r.tls {
				t.Errorf("%s: %d connections negotiated %q, want %q", r.name, v, k, r.tls)
			}
		}
		if len(res.Handshakes) == 0 {
			t.Errorf("%s: no TLS handshakes reported", r.name)
		}
		if r.name == "implicit-login-new" && resumed == 0 {
			t.Errorf("%s: with -resume no connection resumed its TLS session: %v", r.name, res.Handshakes)
		}
		if res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 || res.Setup.P50 <= 0 {
			t.Errorf("%s: percentiles latency %+v setup %+v, want positive and ordered", r.name, res.Latency, res.Setup)
		}
		total += n
	}

	// Every accepted message reaches the sink, once, whole.
	var msgs [][]byte
	deadline := time.Now().Add(60 * time.Second)
	for {
		msgs = sink.Messages(t)
		// smtp-sink writes a file while it receives: count only once every
		// dump parses, or the last one may be read half written.
		if len(msgs) >= total && allParse(msgs) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // poll: smtp-sink gives no signal
	}
	if len(msgs) != total {
		t.Fatalf("sink got %d messages, want %d", len(msgs), total)
	}
	seen := map[string]bool{}
	for _, raw := range msgs {
		m, err := testservers.ParseSink(raw)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.RcptArgs) != 2 {
			t.Errorf("sink message has recipients %v, want 2", m.RcptArgs)
		}
		if len(m.Data) < 3000 {
			t.Errorf("sink message is %d bytes, want about 3KiB", len(m.Data))
		}
		id := headerValue(string(m.Data), "Message-ID")
		if id == "" || seen[id] {
			t.Errorf("message id %q missing or seen twice", id)
		}
		seen[id] = true
	}
}

// headerValue returns the first value of header key in a message.
func headerValue(msg, key string) string {
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			return ""
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestLoadtestErrorsByCode(t *testing.T) {
	t.Parallel()
	submission, _, _ := startLoadGateway(t, "s3cret")
	args := []string{"-json", "-quiet", "-server", submission, "-user", "alice", "-password", "wrong",
		"-from", "alice@example.test", "-to", "bob@example.net", "-n", "3", "-c", "1"}
	var stdout, stderr bytes.Buffer
	err := cmdLoadtest(context.Background(), args, &stdout, &stderr)
	if err != errSilent {
		t.Fatalf("loadtest with a wrong password returned %v, want errSilent\n%s", err, stderr.String())
	}
	var res loadResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("result is not JSON: %v\n%s", err, stdout.String())
	}
	if res.Accepted != 0 || res.Failed != 3 || res.Errors["535 5.7.8"] != 3 {
		t.Errorf("accepted %d failed %d errors %v, want 3 under 535 5.7.8", res.Accepted, res.Failed, res.Errors)
	}
}

func TestLoadtestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-server", "127.0.0.1:1", "-from", "a@b", "-to", "c@d"},                              // no -user
		{"-server", "127.0.0.1:1", "-user", "u", "-to", "c@d", "-from", "a@b", "-tls", "ssl"}, // bad -tls
		{"-server", "127.0.0.1:1", "-user", "u", "-to", "c@d", "-size", "1XB"},                // bad -size
		{"-server", "nohost", "-user", "u", "-to", "c@d"},                                     // bad -server
		{"-server", "127.0.0.1:1", "-user", "u", "-to", "c@d", "-curves", "X448"},             // unknown -curves
	} {
		var stdout, stderr bytes.Buffer
		if err := cmdLoadtest(context.Background(), args, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("loadtest %v: %v, want a usage error", args, err)
		}
	}
}

func TestLoadtestPercentiles(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := percentilesOf(d)
	if p.P50 != 50 || p.P99 != 99 || p.Max != 100 {
		t.Errorf("percentiles of 1..100ms = %+v, want 50/99/100", p)
	}
	if p := percentilesOf(nil); p != (percentiles{}) {
		t.Errorf("percentiles of nothing = %+v", p)
	}
}

// allParse reports whether every sink dump is complete enough to parse.
func allParse(msgs [][]byte) bool {
	for _, raw := range msgs {
		if _, err := testservers.ParseSink(raw); err != nil {
			return false
		}
	}
	return true
}
