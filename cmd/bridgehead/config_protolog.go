package main

import (
	"path/filepath"
	"time"
)

// defaultProtocolLogRetain is how long protocol log files are kept when
// protocol_log.retain is left out.
const defaultProtocolLogRetain = Duration(30 * 24 * time.Hour)

// ProtocolLogConfig is a listener's protocol_log.
type ProtocolLogConfig struct {
	// Dir is where the daily W3C log files go; "" = no protocol log. A
	// relative path is relative to the config file's directory.
	Dir string `yaml:"dir"`
	// Retain is how long log files are kept (by the day in their names);
	// default 30d.
	Retain Duration `yaml:"retain"`
}

// resolveProtocolLogPaths makes the protocol log directories relative to
// the config file's directory, as resolvePaths does for the other paths.
func (c *Config) resolveProtocolLogPaths(abs func(*string)) {
	for i := range c.Listeners {
		pl := &c.Listeners[i].ProtocolLog
		abs(&pl.Dir)
		if pl.Dir != "" {
			pl.Dir = filepath.Clean(pl.Dir)
		}
	}
}

// validateProtocolLogs checks the listeners' protocol_log: a retention
// that is not negative, and no directory shared by two listeners (their
// lines would mix in one file).
func (c *Config) validateProtocolLogs(add adder) {
	owner := map[string]string{}
	for i, l := range c.Listeners {
		pl := l.ProtocolLog
		if pl.Retain < 0 {
			add(p("listeners", i, "protocol_log", "retain"), "listener %q: protocol_log.retain must not be negative", l.Name)
		}
		if pl.Dir == "" {
			if pl.Retain != 0 {
				add(p("listeners", i, "protocol_log", "retain"), "listener %q: protocol_log.retain needs protocol_log.dir", l.Name)
			}
			continue
		}
		if other, ok := owner[pl.Dir]; ok {
			add(p("listeners", i, "protocol_log", "dir"), "listener %q: protocol_log.dir is listener %q's already (%s)", l.Name, other, pl.Dir)
			continue
		}
		owner[pl.Dir] = l.Name
	}
}

// retain is the retention to give the protocol log.
func (c ProtocolLogConfig) retain() time.Duration {
	if c.Retain == 0 {
		return defaultProtocolLogRetain.D()
	}
	return c.Retain.D()
}
