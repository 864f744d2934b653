package main

import (
	"path/filepath"
	"testing"
	"time"
)

const pickupTestBase = `hostname: gw.example.test
state_dir: /var/lib/bridgehead
listeners:
  - name: inbound
    address: 0.0.0.0:25
    mode: inbound
domains: [example.test]
directory:
  static: {file: users.yaml}
routes:
  - domains: ["*"]
    to: smtp://smarthost.example.net:587
`

func TestConfigPickupDefaults(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig("/etc/bridgehead/bridgehead.yaml", []byte(pickupTestBase))
	if err != nil {
		t.Fatal(err)
	}
	pk := c.Pickup
	if pk.Dir != "/var/lib/bridgehead/pickup" || pk.BadmailDir != "/var/lib/bridgehead/badmail" {
		t.Errorf("dirs %q, %q; want state_dir/pickup and state_dir/badmail", pk.Dir, pk.BadmailDir)
	}
	if pk.Interval.D() != 2*time.Second || pk.MaxMessageSize != 25<<20 || pk.Origin != "gw.example.test" {
		t.Errorf("defaults: interval %v, max size %v, origin %q", pk.Interval, pk.MaxMessageSize, pk.Origin)
	}
}

func TestConfigPickupSet(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig("/etc/bridgehead/bridgehead.yaml", []byte(pickupTestBase+
		"pickup:\n  dir: spool/pickup/\n  badmail_dir: /srv/bad\n  interval: 500ms\n  max_message_size: 1MiB\n  origin: example.test\n"))
	if err != nil {
		t.Fatal(err)
	}
	pk := c.Pickup
	if pk.Dir != filepath.Join("/etc/bridgehead", "spool/pickup") || pk.BadmailDir != "/srv/bad" {
		t.Errorf("dirs %q, %q", pk.Dir, pk.BadmailDir)
	}
	if pk.Interval.D() != 500*time.Millisecond || pk.MaxMessageSize != 1<<20 || pk.Origin != "example.test" {
		t.Errorf("interval %v, max size %v, origin %q", pk.Interval, pk.MaxMessageSize, pk.Origin)
	}
}
