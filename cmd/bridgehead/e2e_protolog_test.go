package main

import (
	"bufio"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// w3cLines parses a W3C extended log file: every data line as a map from
// the field names of the #Fields directive above it.
func w3cLines(t *testing.T, path string) (directives []string, lines []map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fields []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if d, ok := strings.CutPrefix(line, "#"); ok {
			directives = append(directives, d)
			if v, ok := strings.CutPrefix(d, "Fields: "); ok {
				fields = strings.Split(v, " ")
			}
			continue
		}
		if fields == nil {
			t.Fatalf("data line before #Fields: %q", line)
		}
		vals := strings.Split(line, " ")
		if len(vals) != len(fields) {
			t.Fatalf("line %q: %d values for %d fields", line, len(vals), len(fields))
		}
		m := map[string]string{}
		for i, name := range fields {
			m[name] = vals[i]
		}
		lines = append(lines, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return directives, lines
}

// TestE2EProtocolLog runs a swaks session (STARTTLS, AUTH PLAIN with the
// password, one message) through the binary with the submission
// listener's protocol log on, reads the log back field by field and checks
// the commands, their replies and that no secret was written.
func TestE2EProtocolLog(t *testing.T) {
	t.Parallel()
	testservers.Require(t, "swaks")
	sink := testservers.StartSink(t)
	s := relaySite(t, sink)
	cfgPath := filepath.Join(s.Dir, "bridgehead.yaml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// A relative directory: relative to the config file's.
	withLog := strings.Replace(string(cfg), "    mode: submission\n",
		"    mode: submission\n    protocol_log:\n      dir: logs/smtp-submission\n      retain: 7d\n", 1)
	if withLog == string(cfg) {
		t.Fatal("submission listener not found in the config")
	}
	if err := os.WriteFile(cfgPath, []byte(withLog), 0o600); err != nil {
		t.Fatal(err)
	}
	withAdmin(t, cfgPath) // not the default port, which other runs may hold
	s.serve(t)

	const password = "pw-alice"
	out, ok := swaks(t, "--server", s.Submission, "--tls", "--ehlo", "client.example.test",
		"--auth", "PLAIN", "--auth-user", "alice", "--auth-password", password,
		"--from", "alice@example.test", "--to", "bob@remote.example",
		"--header", "From: alice@example.test", "--header", "Subject: protocol log")
	if !ok {
		t.Fatalf("swaks failed:\n%s", out)
	}
	id := queuedRE.FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no queue id in swaks output:\n%s", out)
	}

	logDir := filepath.Join(s.Dir, "logs", "smtp-submission")
	file := filepath.Join(logDir, "ex"+time.Now().UTC().Format("060102")+".log")
	// Lines reach the file within a second; poll for the session's last.
	eventually(t, 20*time.Second, "the session's QUIT line in "+file, func() bool {
		b, _ := os.ReadFile(file)
		return strings.Contains(string(b), " QUIT ")
	})
	if names, _ := filepath.Glob(filepath.Join(logDir, "*")); len(names) != 1 {
		t.Errorf("log directory holds %v, want one exYYMMDD.log", names)
	}

	directives, lines := w3cLines(t, file)
	if len(directives) < 4 || directives[0] != "Software: bridgehead" || directives[1] != "Version: 1.0" ||
		!regexp.MustCompile(`^Date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`).MatchString(directives[2]) ||
		directives[3] != "Fields: date time c-ip cs-username s-sitename s-computername s-ip s-port cs-method cs-uri-query sc-status sc-bytes cs-bytes time-taken" {
		t.Errorf("directives %q", directives)
	}
	type cmd struct{ method, status string }
	want := []cmd{{"EHLO", "250"}, {"STARTTLS", "220"}, {"EHLO", "250"}, {"AUTH", "235"},
		{"MAIL", "250"}, {"RCPT", "250"}, {"DATA", "250"}, {"QUIT", "240"}}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d: %v", len(lines), len(want), lines)
	}
	_, subPort, _ := net.SplitHostPort(s.Submission)
	dateRE := regexp.MustCompile(`^\d{4}-\d\d-\d\d$`)
	timeRE := regexp.MustCompile(`^\d\d:\d\d:\d\d$`)
	for i, l := range lines {
		if l["cs-method"] != want[i].method || l["sc-status"] != want[i].status {
			t.Errorf("line %d: %s %s, want %s %s", i+1, l["cs-method"], l["sc-status"], want[i].method, want[i].status)
		}
		user := "-"
		if i >= 3 {
			user = "alice"
		}
		for field, v := range map[string]string{
			"c-ip": "127.0.0.1", "cs-username": user, "s-sitename": "submission",
			"s-computername": "gw.example.test", "s-ip": "127.0.0.1", "s-port": subPort,
		} {
			if l[field] != v {
				t.Errorf("line %d (%s): %s = %q, want %q", i+1, l["cs-method"], field, l[field], v)
			}
		}
		if !dateRE.MatchString(l["date"]) || !timeRE.MatchString(l["time"]) {
			t.Errorf("line %d: date %q time %q", i+1, l["date"], l["time"])
		}
		for _, f := range []string{"sc-bytes", "cs-bytes", "time-taken"} {
			if !regexp.MustCompile(`^\d+$`).MatchString(l[f]) {
				t.Errorf("line %d: %s = %q, want a number", i+1, f, l[f])
			}
		}
	}
	for i, q := range map[int]string{0: "client.example.test", 2: "client.example.test", 3: "PLAIN",
		4: "FROM:<alice@example.test>", 5: "TO:<bob@remote.example>", 6: id[1]} {
		if lines[i]["cs-uri-query"] != q {
			t.Errorf("line %d (%s): cs-uri-query %q, want %q", i+1, lines[i]["cs-method"], lines[i]["cs-uri-query"], q)
		}
	}

	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(raw), "\n") != strings.Count(string(raw), "\r\n") {
		t.Error("lines do not all end in CRLF")
	}
	for _, secret := range []string{
		password,
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + password)),
		base64.StdEncoding.EncodeToString([]byte("alice\x00alice\x00" + password)),
		base64.StdEncoding.EncodeToString([]byte(password)),
	} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("protocol log contains %q", secret)
		}
	}
}
