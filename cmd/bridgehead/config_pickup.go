package main

import (
	"path/filepath"
	"time"
)

// Defaults of pickup.
const (
	defaultPickupInterval = Duration(2 * time.Second)
	defaultPickupMaxSize  = Size(25 << 20)
)

// PickupConfig is pickup: RFC 5322 files dropped into Dir are queued, and
// "bridgehead sendmail" writes there.
type PickupConfig struct {
	// Dir is the pickup directory; default state_dir/pickup.
	Dir string `yaml:"dir"`
	// BadmailDir receives files that cannot be queued, each with a
	// NAME.reason file; default state_dir/badmail.
	BadmailDir string `yaml:"badmail_dir"`
	// Interval is the time between two polls of Dir; default 2s.
	Interval Duration `yaml:"interval"`
	// MaxMessageSize is the largest file taken; default 25MiB.
	MaxMessageSize Size `yaml:"max_message_size"`
	// Origin is the domain "bridgehead sendmail" appends to addresses
	// without one (root -> root@Origin); default hostname.
	Origin string `yaml:"origin"`
}

// resolvePickupPaths makes pickup's directories relative to the config
// file's directory and fills in their defaults under state_dir.
func (c *Config) resolvePickupPaths(abs func(*string)) {
	pk := &c.Pickup
	abs(&pk.Dir)
	abs(&pk.BadmailDir)
	if pk.Dir == "" && c.StateDir != "" {
		pk.Dir = filepath.Join(c.StateDir, "pickup")
	}
	if pk.BadmailDir == "" && c.StateDir != "" {
		pk.BadmailDir = filepath.Join(c.StateDir, "badmail")
	}
	if pk.Dir != "" {
		pk.Dir = filepath.Clean(pk.Dir)
	}
	if pk.BadmailDir != "" {
		pk.BadmailDir = filepath.Clean(pk.BadmailDir)
	}
	setZero(&pk.Interval, defaultPickupInterval)
	setZero(&pk.MaxMessageSize, defaultPickupMaxSize)
	setZero(&pk.Origin, c.Hostname)
}

// validatePickup checks pickup.
func (c *Config) validatePickup(add adder) {
	pk := c.Pickup
	if pk.Interval <= 0 {
		add(p("pickup", "interval"), "pickup.interval: %v must be positive", pk.Interval)
	}
	if pk.MaxMessageSize <= 0 {
		add(p("pickup", "max_message_size"), "pickup.max_message_size: %v must be positive", pk.MaxMessageSize)
	}
	if pk.Origin != "" && !validDomain(pk.Origin) {
		add(p("pickup", "origin"), "pickup.origin %q is not a valid domain name", pk.Origin)
	}
	if pk.Dir != "" && pk.Dir == pk.BadmailDir {
		add(p("pickup", "badmail_dir"), "pickup.badmail_dir must not be pickup.dir (%s)", pk.Dir)
	}
	if pk.Dir != "" && c.StateDir != "" {
		for _, sub := range []string{"queue", "mailboxes"} {
			if pk.Dir == filepath.Join(c.StateDir, sub) {
				add(p("pickup", "dir"), "pickup.dir %s is the %s directory", pk.Dir, sub)
			}
		}
	}
}
