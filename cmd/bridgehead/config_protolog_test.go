package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestProtocolLogConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte("users: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "bh.yaml")
	cfg := `hostname: gw.example.test
state_dir: state
listeners:
  - name: inbound
    address: 127.0.0.1:2525
    mode: inbound
    protocol_log: {dir: logs/smtp}
  - name: other
    address: 127.0.0.1:2526
    mode: inbound
    protocol_log: {dir: /var/log/bh, retain: 7d}
  - name: none
    address: 127.0.0.1:2527
    mode: inbound
domains: [example.test]
directory:
  static: {file: users.yaml}
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		dir    string
		retain time.Duration
	}{
		{filepath.Join(dir, "logs", "smtp"), 30 * 24 * time.Hour},
		{"/var/log/bh", 7 * 24 * time.Hour},
		{"", 30 * 24 * time.Hour},
	} {
		pl := c.Listeners[i].ProtocolLog
		if pl.Dir != want.dir || pl.retain() != want.retain {
			t.Errorf("listener %d: dir %q retain %v, want %q %v", i, pl.Dir, pl.retain(), want.dir, want.retain)
		}
	}
}
