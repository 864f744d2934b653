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
		if regexp.MustCompile(`^directory:`).Match(b[1]) {
			// A fragment replacing the directory: load it into a whole config.
			base := "hostname: gw.example.test\nstate_dir: /var/lib/bridgehead\n" +
				"listeners: [{name: in, address: 0.0.0.0:25, mode: inbound}]\ndomains: [example.test]\n"
			if _, err := ParseConfig("README.md", append([]byte(base), b[1]...)); err != nil {
				t.Errorf("README directory fragment: %v", err)
			}
			continue
		}
		if !regexp.MustCompile(`(?m)^listeners:`).Match(b[1]) {
			continue // the users file
		}
		found++
		if _, err := ParseConfig("README.md", b[1]); err != nil {
			t.Errorf("README config: %v", err)
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
