package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// fail2banFilter reads deploy/fail2ban/filter.d/bridgehead.conf and returns
// its failregex lines as Go regexps: %(name)s interpolated from the
// [Definition] section and <HOST> turned into a named group "host".
func fail2banFilter(t *testing.T) []*regexp.Regexp {
	t.Helper()
	f, err := os.Open(filepath.Join(deployDir, "fail2ban", "filter.d", "bridgehead.conf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string][]string{}
	key := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "["):
			key = ""
		case line[0] == ' ' || line[0] == '\t':
			if key != "" {
				vars[key] = append(vars[key], trimmed)
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("filter line %q", line)
			}
			key = strings.TrimSpace(k)
			if v = strings.TrimSpace(v); v != "" {
				vars[key] = append(vars[key], v)
			}
		}
	}
	interp := regexp.MustCompile(`%\((\w+)\)s`)
	var out []*regexp.Regexp
	for _, fr := range vars["failregex"] {
		fr = interp.ReplaceAllStringFunc(fr, func(m string) string {
			return strings.Join(vars[interp.FindStringSubmatch(m)[1]], "")
		})
		fr = strings.ReplaceAll(fr, "<HOST>", `(?P<host>[0-9A-Fa-f.:]+)`)
		re, err := regexp.Compile(fr)
		if err != nil {
			t.Fatalf("failregex %q: %v", fr, err)
		}
		out = append(out, re)
	}
	if len(out) == 0 {
		t.Fatal("filter has no failregex")
	}
	return out
}

// f2bHost returns the address the filter bans for line, or "".
func f2bHost(res []*regexp.Regexp, line string) string {
	for _, re := range res {
		if m := re.FindStringSubmatch(line); m != nil {
			return m[re.SubexpIndex("host")]
		}
	}
	return ""
}

// TestDeployFail2ban makes the binary log a failed and a successful AUTH,
// in text and in JSON, and checks that the filter bans the client of the
// failure only; fail2ban-regex runs on the same log when installed.
func TestDeployFail2ban(t *testing.T) {
	t.Parallel()
	res := fail2banFilter(t)

	// Lines the filter must leave alone whatever the client sends.
	for _, line := range []string{
		`time=2026-11-23T12:00:01.000Z level=WARN msg="auth failed" client_ip=203.0.113.8 login=alice mechanism=PLAIN listener=submission tls=true reason="directory unavailable" kind=unavailable`,
		`time=2026-11-23T12:00:01.000Z level=WARN msg="auth failed" client_ip=203.0.113.8 login="x kind=invalid_credentials" mechanism=PLAIN listener=submission tls=true reason="directory unavailable" kind=unavailable`,
		`{"time":"2026-11-23T12:00:02.000Z","level":"WARN","msg":"auth failed","client_ip":"203.0.113.8","login":"x\",\"kind\":\"invalid_credentials","kind":"unavailable"}`,
	} {
		if h := f2bHost(res, line); h != "" {
			t.Errorf("filter bans %s for %s", h, line)
		}
	}

	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			s := newSite(t)
			s.staticUsers(t, "alice", "right", "alice@example.test")
			s.Routes = "  - domains: [\"*\"]\n    to: smtp://127.0.0.1:1\n    tls: none"
			cfg := s.writeConfig(t)
			p := startBridgehead(t, s.Dir, []string{s.Submission, s.Submissions}, "serve", "-config", cfg, "-log-format", format)
			out, ok := swaks(t, "--server", s.Submissions, "--tlsc", "--auth", "PLAIN",
				"--auth-user", "alice", "--auth-password", "wrong", "--quit-after", "AUTH")
			if ok || !strings.Contains(out, "535 5.7.8") {
				t.Fatalf("wrong password: want 535 5.7.8, swaks said:\n%s", out)
			}
			out, ok = swaks(t, "--server", s.Submissions, "--tlsc", "--auth", "PLAIN",
				"--auth-user", "alice", "--auth-password", "right", "--quit-after", "AUTH")
			if !ok || !strings.Contains(out, "235 ") {
				t.Fatalf("right password: want 235, swaks said:\n%s", out)
			}
			var failed, succeeded []string
			for _, line := range strings.Split(p.log(), "\n") {
				switch {
				case strings.Contains(line, "auth failed"):
					failed = append(failed, line)
				case strings.Contains(line, "auth ok"):
					succeeded = append(succeeded, line)
				}
			}
			if len(failed) != 1 || len(succeeded) != 1 {
				t.Fatalf("log has %d failure and %d success lines, want 1 each:\n%s", len(failed), len(succeeded), p.log())
			}
			if h := f2bHost(res, failed[0]); h != "127.0.0.1" {
				t.Errorf("filter bans %q for the failure, want 127.0.0.1:\n%s", h, failed[0])
			}
			if h := f2bHost(res, succeeded[0]); h != "" {
				t.Errorf("filter bans %s for a success:\n%s", h, succeeded[0])
			}

			f2b := testservers.Binary(t, "fail2ban-regex")
			if f2b == "" {
				return // outside CI, the Go translation above is the test
			}
			logFile := filepath.Join(t.TempDir(), "auth.log")
			if err := os.WriteFile(logFile, []byte(failed[0]+"\n"+succeeded[0]+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			filter, err := filepath.Abs(filepath.Join(deployDir, "fail2ban", "filter.d", "bridgehead.conf"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := exec.Command(f2b, "--print-all-matched", "--print-all-missed", logFile, filter).CombinedOutput()
			if err != nil {
				t.Fatalf("fail2ban-regex: %v\n%s", err, got)
			}
			if !regexp.MustCompile(`Lines: 2 lines, 0 ignored, 1 matched, 1 missed`).Match(got) {
				t.Errorf("fail2ban-regex: want 1 matched, 1 missed:\n%s", got)
			}
		})
	}
}
