package main

import (
	"testing"
	"time"
)

func TestConfigDNSAndMXRoute(t *testing.T) {
	t.Parallel()
	const cfg = `hostname: gw.example.test
state_dir: /var/lib/bridgehead
tls: {cert_file: tls.crt, key_file: tls.key}
listeners:
  - {name: submission, address: "0.0.0.0:587", mode: submission}
domains: [example.test]
directory:
  static: {file: users.yaml}
dns:
  server: "[::1]:5353"
  timeout: 2s
routes:
  - domains: ["*"]
    to: [mx, smtp://relay.example.net:587]
    mx_port: 2525
`
	c, err := ParseConfig("/etc/bridgehead/bridgehead.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if c.DNS.Server != "[::1]:5353" || c.DNS.Timeout.D() != 2*time.Second {
		t.Errorf("dns: %+v", c.DNS)
	}
	if r := c.Routes[0]; len(r.To) != 2 || r.To[0] != "mx" || r.MXPort != 2525 {
		t.Errorf("route: %+v", r)
	}
}
