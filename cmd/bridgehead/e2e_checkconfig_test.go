package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// checkConfig runs "bridgehead check-config -config path" and returns
// stdout, stderr and the exit code.
func checkConfig(t testing.TB, path string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bridgeheadBin(t), "check-config", "-config", path)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("check-config: %v", err)
	return "", "", 0
}

// TestE2ECheckConfig runs the binary's check-config on a good config and on
// one with an unknown key.
func TestE2ECheckConfig(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.staticUsers(t, "alice", "pw", "alice@example.test")
	s.Routes = "  - domains: [\"*\"]\n    to: smtp://127.0.0.1:2525\n    tls: none"
	good := s.writeConfig(t)

	out, errOut, code := checkConfig(t, good)
	if code != 0 || strings.TrimSpace(out) != good+": ok" {
		t.Errorf("good config: exit %d, stdout %q, stderr %q; want exit 0 and %q", code, out, errOut, good+": ok")
	}

	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	// An unknown key inside the second listener.
	at := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "mode: submissions" {
			at = i + 1
		}
	}
	if at < 0 {
		t.Fatalf("no second listener in:\n%s", data)
	}
	lines = append(lines[:at], append([]string{"    max_conections: 5"}, lines[at:]...)...)
	bad := filepath.Join(s.Dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	want := bad + ":" + strconv.Itoa(at+1) + ":"
	out, errOut, code = checkConfig(t, bad)
	if code != 1 {
		t.Errorf("unknown key: exit %d, want 1", code)
	}
	if !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, "max_conections") {
		t.Errorf("unknown key: stderr %q, want it to start %q and name the key", errOut, want)
	}
	if strings.Contains(out, "ok") {
		t.Errorf("unknown key: stdout %q", out)
	}

	// A file the config names that is not there.
	if err := os.Remove(filepath.Join(s.Dir, "users.yaml")); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = checkConfig(t, good)
	if code != 1 || !strings.HasPrefix(errOut, good+":") || !strings.Contains(errOut, "users.yaml") {
		t.Errorf("missing users file: exit %d, stderr %q", code, errOut)
	}
}
