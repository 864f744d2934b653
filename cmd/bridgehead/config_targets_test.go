package main

import (
	"os"
	"slices"
	"testing"
)

func TestConfigRouteTargetList(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig("/etc/bh/bridgehead.yaml", []byte(minimal+`directory:
  static: {file: users.yaml}
routes:
  - {domains: [example.test], to: "lmtp://10.0.0.5:24"}
  - domains: ["*"]
    to: [smtp://relay1.example.net, "smtps://relay2.example.net"]
    tls: required
    senders: [Example.Test]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Routes[0].To; !slices.Equal(got, TargetList{"lmtp://10.0.0.5:24"}) {
		t.Errorf("string form: %q", got)
	}
	if got := c.Routes[1].To; !slices.Equal(got, TargetList{"smtp://relay1.example.net", "smtps://relay2.example.net"}) {
		t.Errorf("list form: %q", got)
	}
	if got := lowerAll(c.Routes[1].Senders); !slices.Equal(got, []string{"example.test"}) {
		t.Errorf("senders: %q", got)
	}
}

func TestConfigRouteAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pass := dir + "/relay.pass"
	if err := os.WriteFile(pass, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(dir+"/bridgehead.yaml", []byte(minimal+`directory:
  static: {file: users.yaml}
routes:
  - domains: ["*"]
    to: smtps://relay.example.net
    auth: {username: gw, password_file: relay.pass}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := routeAuth(c.Routes[0].Auth)
	if err != nil {
		t.Fatal(err)
	}
	if a.Username != "gw" || a.Password != "s3cret" {
		t.Errorf("auth = %+v", a)
	}
}
