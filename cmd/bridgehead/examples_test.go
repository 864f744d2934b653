package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestDocumentedConfigsParse keeps the configs in README.md and deploy/
// true to the loader: every one must load without error.
func TestDocumentedConfigsParse(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../deploy/examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs found: %v", err)
	}
	for _, f := range files {
		if filepath.Base(f) == "users.yaml" {
			continue
		}
		if _, err := LoadConfig(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1)
	found := 0
	for _, b := range blocks {
		block := b[1]
		if regexp.MustCompile(`(?m)^users:`).Match(block) {
			continue // the users file
		}
		found++
		if !regexp.MustCompile(`(?m)^hostname:`).Match(block) {
			block = completeFragment(block)
		}
		if _, err := ParseConfig("README.md", block); err != nil {
			t.Errorf("README config block %d: %v\n%s", found, err, block)
		}
	}
	if found == 0 {
		t.Error("README has no config block")
	}
}

// TestDevConfigParses checks the embedded default of dev mode.
func TestDevConfigParses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg, err := ParseConfig("dev", []byte(devConfig(dir, "127.0.0.1:1587", "127.0.0.1:1465", "127.0.0.1:1143")))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 2 || cfg.Mailboxstore.IMAPAddress != "127.0.0.1:1143" {
		t.Errorf("dev config: %d listeners, imap %q", len(cfg.Listeners), cfg.Mailboxstore.IMAPAddress)
	}
}

// completeFragment adds to a README fragment the top-level keys a whole
// config needs and the fragment does not set.
func completeFragment(frag []byte) []byte {
	base := []struct{ key, text string }{
		{"hostname", "hostname: gw.example.test\n"},
		{"state_dir", "state_dir: /var/lib/bridgehead\n"},
		{"tls", "tls: {cert_file: /etc/bridgehead/tls.crt, key_file: /etc/bridgehead/tls.key}\n"},
		{"listeners", "listeners: [{name: submission, address: 0.0.0.0:587, mode: submission}]\n"},
		{"domains", "domains: [example.test]\n"},
		{"directory", "directory: {static: {file: users.yaml}}\n"},
	}
	var out []byte
	for _, b := range base {
		if !regexp.MustCompile(`(?m)^` + b.key + `:`).Match(frag) {
			out = append(out, b.text...)
		}
	}
	return append(out, frag...)
}
