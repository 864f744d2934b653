package main

import (
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
