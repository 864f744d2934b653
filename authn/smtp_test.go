package authn_test

import (
	"encoding/base64"
	"log/slog"
	"net/textproto"
	"os"
	"os/exec"
	"strings"
	"testing"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/internal/logtest"
)

// startTestServer runs the example's go-smtp server with failure delays
// recorded instead of waited, and the audit log captured.
func startTestServer(t *testing.T) (addr string, log *logtest.Buffer) {
	t.Helper()
	log = &logtest.Buffer{}
	var rec sleeps
	addr, stop, err := startServer(authn.Options{
		Logger: slog.New(slog.NewTextHandler(log, nil)),
		Sleep:  rec.sleep,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr, log
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestSMTPReplies drives AUTH over a real socket line by line and checks
// the reply each Kind becomes.
func TestSMTPReplies(t *testing.T) {
	t.Parallel()
	addr, _ := startTestServer(t)
	tests := []struct {
		name  string
		lines []string // sent one by one after EHLO
		want  []string // reply to each, code and start of text
	}{
		{"PLAIN ok", []string{"AUTH PLAIN " + b64("\x00alice\x00alice-pw")}, []string{"235 2.0.0"}},
		{"PLAIN prompted", []string{"AUTH PLAIN", b64("\x00alice\x00alice-pw")}, []string{"334 ", "235 2.0.0"}},
		{"PLAIN wrong password", []string{"AUTH PLAIN " + b64("\x00alice\x00nope")}, []string{"535 5.7.8 Authentication credentials invalid"}},
		{"PLAIN unknown user", []string{"AUTH PLAIN " + b64("\x00mallory\x00alice-pw")}, []string{"535 5.7.8 Authentication credentials invalid"}},
		{"PLAIN foreign authzid", []string{"AUTH PLAIN " + b64("bob\x00alice\x00alice-pw")}, []string{"535 5.7.8"}},
		{"PLAIN without NULs", []string{"AUTH PLAIN " + b64("alice-pw")}, []string{"501 5.5.2 Cannot decode authentication data"}},
		{"LOGIN ok", []string{"AUTH LOGIN", b64("alice"), b64("alice-pw")}, []string{"334 " + b64("Username:"), "334 " + b64("Password:"), "235 2.0.0"}},
		{"LOGIN initial response", []string{"AUTH LOGIN " + b64("alice"), b64("alice-pw")}, []string{"334 " + b64("Password:"), "235 2.0.0"}},
		{"LOGIN wrong password", []string{"AUTH LOGIN " + b64("alice"), b64("x")}, []string{"334 " + b64("Password:"), "535 5.7.8"}},
		{"unsupported mechanism", []string{"AUTH CRAM-MD5"}, []string{"504 5.5.4 Unrecognized authentication type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := textproto.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, _, err := c.ReadResponse(220); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Cmd("EHLO client.test"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.ReadResponse(250); err != nil {
				t.Fatal(err)
			}
			for i, line := range tt.lines {
				if err := c.PrintfLine("%s", line); err != nil {
					t.Fatal(err)
				}
				got, err := c.ReadLine()
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(got, tt.want[i]) {
					t.Fatalf("after %q: got %q, want %q...", line, got, tt.want[i])
				}
			}
		})
	}
}

// TestSwaks checks a real client's PLAIN and LOGIN against the servers.
func TestSwaks(t *testing.T) {
	t.Parallel()
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("swaks not installed")
		}
		t.Skip("swaks not installed")
	}
	addr, log := startTestServer(t)
	host, port, _ := strings.Cut(addr, ":")
	tests := []struct {
		mech, password string
		ok             bool
	}{
		{"PLAIN", "alice-pw", true},
		{"LOGIN", "alice-pw", true},
		{"LOGIN", "wrong-pw", false},
	}
	for _, tt := range tests {
		out, err := exec.Command(swaks, "--server", host, "--port", port,
			"--auth", tt.mech, "--auth-user", "alice", "--auth-password", tt.password,
			"--from", "alice@example.test", "--to", "bob@example.test", "--quit-after", "AUTH").CombinedOutput()
		if tt.ok != (err == nil) || (tt.ok && !strings.Contains(string(out), "<-  235 ")) || (!tt.ok && !strings.Contains(string(out), "<** 535 5.7.8")) {
			t.Errorf("swaks %s %s: err = %v\n%s", tt.mech, tt.password, err, out)
		}
	}
	if got := log.String(); strings.Count(got, `msg="auth ok"`) != 2 || strings.Count(got, `msg="auth failed"`) != 1 || strings.Contains(got, "wrong-pw") {
		t.Errorf("audit log:\n%s", got)
	}
}
