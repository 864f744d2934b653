package main

import (
	"fmt"
	"strings"
	"testing"

	"bridgehead.dev/bridgehead/autoconfig"
)

// autoconfigBase is a config with both submission listeners; tests append
// an autoconfig: block.
const autoconfigBase = `hostname: gw.example.test
state_dir: /var/lib/bridgehead
tls: {cert_file: tls.crt, key_file: tls.key}
listeners:
  - {name: submission, address: 0.0.0.0:1587, mode: submission}
  - {name: submissions, address: 0.0.0.0:1465, mode: submissions}
  - {name: inbound, address: 0.0.0.0:25, mode: inbound}
domains: [example.test]
directory: {static: {file: users.yaml}}
`

func TestConfigAutoconfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig("c.yaml", []byte(autoconfigBase+`auth:
  methods: [imap]
  imap: {address: "store.example.test:143", tls: starttls}
autoconfig:
  address: 0.0.0.0:8080
  pop3: {host: pop.example.test, tls: starttls}
`))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.autoconfigOptions()
	got := fmt.Sprintf("%+v %+v %+v %s %s", *o.IMAP, *o.POP3, o.Submission, o.Username, o.DisplayName)
	want := "{Host:store.example.test Port:143 Security:starttls} {Host:pop.example.test Port:110 Security:starttls} " +
		"[{Host:gw.example.test Port:1465 Security:implicit} {Host:gw.example.test Port:1587 Security:starttls}] address "
	if got != want {
		t.Errorf("options\n%s\nwant\n%s", got, want)
	}
	if _, err := autoconfig.New(o); err != nil {
		t.Errorf("handler: %v", err)
	}
}

func TestConfigAutoconfigExplicit(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig("c.yaml", []byte(autoconfigBase+`auth:
  oidc: {issuer: "https://idp.example.test/realms/corp", audience: bridgehead}
autoconfig:
  address: 0.0.0.0:443
  tls: true
  display_name: Example Corp
  imap: {host: imap.example.test}
  submission: {host: smtp.example.test, tls_port: 465, starttls_port: 587}
  username: localpart
`))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.autoconfigOptions()
	got := fmt.Sprintf("%+v %v %+v %s %s %v", *o.IMAP, o.POP3 == nil, o.Submission, o.Username, o.DisplayName, o.OAuth2)
	want := "{Host:imap.example.test Port:993 Security:implicit} true " +
		"[{Host:smtp.example.test Port:465 Security:implicit} {Host:smtp.example.test Port:587 Security:starttls}] localpart Example Corp true"
	if got != want {
		t.Errorf("options\n%s\nwant\n%s", got, want)
	}
}

func TestConfigAutoconfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ block, want string }{
		{"autoconfig:\n  address: nowhere\n  imap: {host: i.example.test}\n", "c.yaml:11: autoconfig.address"},
		{"autoconfig:\n  address: :80\n  username: upn\n  imap: {host: i.example.test}\n", "c.yaml:12: autoconfig.username \"upn\""},
		{"autoconfig:\n  address: :80\n  imap: {host: \"bad host\"}\n", "c.yaml:12: autoconfig.imap.host"},
		{"autoconfig:\n  address: :80\n  imap: {host: i.example.test, port: 70000}\n", "c.yaml:12: autoconfig.imap.port 70000"},
		{"autoconfig:\n  address: :80\n  imap: {port: 993}\n", "c.yaml:12: autoconfig.imap.host is required"},
		{"autoconfig:\n  address: :80\n  imap: {host: i.example.test}\n  submission: {tls_port: -1}\n", "c.yaml:13: autoconfig.submission.tls_port -1"},
		{"autoconfig:\n  address: :80\n  imap: {host: i.example.test}\n  colour: red\n", "c.yaml:13: unknown key \"colour\""},
	} {
		_, err := ParseConfig("c.yaml", []byte(autoconfigBase+c.block))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.block, err, c.want)
		}
	}
	// No submission listener: the ports must be given.
	noSub := strings.Replace(autoconfigBase, "  - {name: submission, address: 0.0.0.0:1587, mode: submission}\n  - {name: submissions, address: 0.0.0.0:1465, mode: submissions}\n", "", 1)
	_, err := ParseConfig("c.yaml", []byte(noSub+"autoconfig:\n  address: :80\n  imap: {host: i.example.test}\n"))
	if err == nil || !strings.Contains(err.Error(), "no listener of mode submission") {
		t.Errorf("no submission listener: %v", err)
	}
	// Off: nothing is required.
	if _, err := ParseConfig("c.yaml", []byte(autoconfigBase)); err != nil {
		t.Errorf("autoconfig off: %v", err)
	}
}
