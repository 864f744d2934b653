package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/pickup"
)

func TestSendmailFlags(t *testing.T) {
	t.Parallel()
	f, err := parseSendmailFlags([]string{"-ti", "-odi", "-oem", "-bm", "-em", "-F", "Cron Daemon", "-v",
		"-fcron@example.test", "-N", "never", "-config", "/x.yaml", "bob", "-X", "/dev/null", "--", "-carol@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if !f.extract || !f.ignoreDots || !f.verbose || f.from != "cron@example.test" || !f.fromSet ||
		f.fullName != "Cron Daemon" || f.config != "/x.yaml" {
		t.Errorf("flags %+v", f)
	}
	if !slices.Equal(f.rcpts, []string{"bob", "-carol@example.test"}) {
		t.Errorf("rcpts %q", f.rcpts)
	}
	f, err = parseSendmailFlags([]string{"-oi", "-f", "", "--config=/y.yaml", "a@example.test"})
	if err != nil || !f.ignoreDots || !f.fromSet || f.from != "" || f.config != "/y.yaml" {
		t.Errorf("flags %+v, %v", f, err)
	}
	for _, bad := range [][]string{{"-bs"}, {"-q"}, {"-f"}, {"-k"}, {"-config"}} {
		if _, err := parseSendmailFlags(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSendmailReadMessageDots(t *testing.T) {
	t.Parallel()
	in := "Subject: s\n\nbefore\n.\nafter\n"
	m, err := readMessage(strings.NewReader(in), false, 1000)
	if err != nil || string(m) != "Subject: s\n\nbefore\n" {
		t.Errorf("without -i: %q, %v", m, err)
	}
	m, err = readMessage(strings.NewReader("a\r\n.\r\nb\r\n"), false, 1000)
	if err != nil || string(m) != "a\r\n" {
		t.Errorf("CRLF dot without -i: %q, %v", m, err)
	}
	m, err = readMessage(strings.NewReader(in), true, 1000)
	if err != nil || string(m) != in {
		t.Errorf("with -i: %q, %v", m, err)
	}
	m, err = readMessage(strings.NewReader("..\n. \n"), false, 1000)
	if err != nil || string(m) != "..\n. \n" {
		t.Errorf("dot-like lines: %q, %v", m, err)
	}
	var se *sendmailError
	if _, err := readMessage(strings.NewReader(strings.Repeat("x\n", 100)), false, 50); !errors.As(err, &se) || se.code != exDataErr {
		t.Errorf("too large: %v", err)
	}
}

// sendmailSite is a config file and its pickup directory.
func sendmailSite(t *testing.T) (cfgPath, pickupDir string) {
	t.Helper()
	dir := t.TempDir()
	pickupDir = filepath.Join(dir, "state", "pickup")
	if err := os.MkdirAll(pickupDir, 0o750); err != nil {
		t.Fatal(err)
	}
	cfgPath = filepath.Join(dir, "bridgehead.yaml")
	cfg := pickupTestBase + "pickup:\n  dir: " + pickupDir + "\n  origin: example.test\n  max_message_size: 10KiB\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, pickupDir
}

func testSendmailEnv(cfg string) sendmailEnv {
	return sendmailEnv{
		getenv: func(k string) string {
			if k == sendmailConfigEnv {
				return cfg
			}
			return ""
		},
		user: func() string { return "cronuser" },
		now:  time.Now,
	}
}

// runSendmail runs sendmail with args and returns the parsed pickup file.
func runSendmail(t *testing.T, env sendmailEnv, dir string, args []string, msg string) (*pickup.Message, string) {
	t.Helper()
	f, err := parseSendmailFlags(args)
	if err != nil {
		t.Fatal(err)
	}
	name, err := sendmail(context.Background(), env, f, strings.NewReader(msg))
	if err != nil {
		t.Fatalf("sendmail %q: %v", args, err)
	}
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") {
		t.Fatalf("pickup file name %q would be skipped", name)
	}
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(dir, name))
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("pickup file mode %v, want 0640", fi.Mode().Perm())
	}
	m, err := pickup.Parse(raw)
	if err != nil {
		t.Fatalf("pickup file does not parse: %v\n%s", err, raw)
	}
	return m, string(raw)
}

func TestSendmailWritesPickupFile(t *testing.T) {
	t.Parallel()
	cfg, dir := sendmailSite(t)
	env := testSendmailEnv(cfg)

	// -t with Bcc and an argument; From given: it is the sender.
	m, raw := runSendmail(t, env, dir, []string{"-t", "-i", "extra@example.test"},
		"From: App <app@example.test>\nTo: bob@example.test\nCc: root\nBcc: eve@example.test\nSubject: s\n\nbody\n.\nmore\n")
	if m.From != "app@example.test" {
		t.Errorf("sender %q, want the From address", m.From)
	}
	want := []string{"extra@example.test", "bob@example.test", "root@example.test", "eve@example.test"}
	if !slices.Equal(m.Recipients, want) {
		t.Errorf("recipients %q, want %q", m.Recipients, want)
	}
	if !strings.HasSuffix(raw, "body\n.\nmore\n") {
		t.Errorf("-i: message cut at the dot:\n%s", raw)
	}

	// Arguments only, no From: the invoking user at origin, From added.
	m, raw = runSendmail(t, env, dir, []string{"-F", "Cron Daemon", "root", "admin@example.test"}, "Subject: cron\n\nout\n.\nlost\n")
	if m.From != "cronuser@example.test" || !slices.Equal(m.Recipients, []string{"root@example.test", "admin@example.test"}) {
		t.Errorf("envelope %q -> %q", m.From, m.Recipients)
	}
	if !strings.Contains(raw, "From: Cron Daemon <cronuser@example.test>\n") || strings.Contains(raw, "lost") {
		t.Errorf("unexpected file:\n%s", raw)
	}

	// -f wins; "<>" is the null sender.
	m, _ = runSendmail(t, env, dir, []string{"-f", "bounce@example.test", "bob@example.test"}, "From: x@example.test\n\nb\n")
	if m.From != "bounce@example.test" {
		t.Errorf("-f: sender %q", m.From)
	}
	m, raw = runSendmail(t, env, dir, []string{"-f<>", "bob@example.test"}, "From someone Mon Nov 23 12:00:00 2026\nSubject: s\n\nb\n")
	if m.From != "" || strings.Contains(raw, "From someone") || !strings.Contains(raw, "\nSubject: s\n\nb\n") {
		t.Errorf("-f<> with an mbox From line: sender %q, file:\n%s", m.From, raw)
	}
}

func TestSendmailErrors(t *testing.T) {
	t.Parallel()
	cfg, dir := sendmailSite(t)
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte("hostname: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  sendmailEnv
		args []string
		msg  string
		code int
	}{
		{"no recipients", testSendmailEnv(cfg), nil, "Subject: s\n\nb\n", exUsage},
		{"-t without any", testSendmailEnv(cfg), []string{"-t"}, "Subject: s\n\nb\n", exUsage},
		{"-t without header", testSendmailEnv(cfg), []string{"-t"}, "just text\n", exDataErr},
		{"bad argument", testSendmailEnv(cfg), []string{"a b c@"}, "Subject: s\n\nb\n", exUsage},
		{"too large", testSendmailEnv(cfg), []string{"bob"}, strings.Repeat("x", 20000), exDataErr},
		{"broken header", testSendmailEnv(cfg), []string{"bob"}, "Subject: s\nno colon here\n\nb\n", exDataErr},
		{"no config", testSendmailEnv(filepath.Join(t.TempDir(), "missing.yaml")), []string{"bob"}, "", exNoInput},
		{"unreadable config", testSendmailEnv(dir), []string{"bob"}, "", exNoInput}, // a directory
		{"invalid config", testSendmailEnv(broken), []string{"bob"}, "", exConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := parseSendmailFlags(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			_, err = sendmail(context.Background(), tc.env, f, strings.NewReader(tc.msg))
			var se *sendmailError
			if !errors.As(err, &se) || se.code != tc.code {
				t.Errorf("error %v, want exit code %d", err, tc.code)
			}
		})
	}
	// Nothing but finished files is left in the pickup directory.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("pickup directory holds %d files after failures", len(entries))
	}
}

func TestSendmailPickupDirMissing(t *testing.T) {
	t.Parallel()
	cfg, dir := sendmailSite(t)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	f, _ := parseSendmailFlags([]string{"bob"})
	_, err := sendmail(context.Background(), testSendmailEnv(cfg), f, strings.NewReader("Subject: s\n\nb\n"))
	var se *sendmailError
	if !errors.As(err, &se) || se.code != exTempFail {
		t.Errorf("error %v, want EX_TEMPFAIL", err)
	}
}
