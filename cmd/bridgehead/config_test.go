package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestConfigDesignExample(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(filepath.Join("testdata", "design.yaml"))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if c.Hostname != "gw.example.test" || c.StateDir != "/var/lib/bridgehead" {
		t.Errorf("hostname %q state_dir %q", c.Hostname, c.StateDir)
	}
	if len(c.Listeners) != 3 {
		t.Fatalf("listeners: %d, want 3", len(c.Listeners))
	}
	sub := c.Listeners[0]
	if sub.Name != "submission" || sub.Mode != ModeSubmission || sub.Address != "0.0.0.0:587" {
		t.Errorf("listener 0: %+v", sub)
	}
	if sub.Limits.MaxMessageSize != 25<<20 || sub.Limits.IdleTimeout.D() != 5*time.Minute || sub.Limits.MaxConnectionsPerIP != 20 {
		t.Errorf("listener 0 limits: %+v", sub.Limits)
	}
	if got := c.Listeners[1].Limits; got != defaultLimits() {
		t.Errorf("listener 1 limits %+v, want the defaults %+v", got, defaultLimits())
	}
	if got := strings.Join(c.Listeners[2].Filters, ","); got != "attachments,clamav,rspamd" {
		t.Errorf("inbound filters %q", got)
	}
	if c.Directory.Static == nil || c.Directory.Static.File != "/etc/bridgehead/users.yaml" || c.Directory.LDAP != nil {
		t.Errorf("directory: %+v", c.Directory)
	}
	if c.Auth.IMAP.TLS != "implicit" || c.Auth.OIDC.Audience != "bridgehead" {
		t.Errorf("auth: %+v", c.Auth)
	}
	if len(c.Filters.Attachments.Reject) != 9 || c.Filters.ClamAV.OnError != OnErrorTempfail || c.Filters.Rspamd.URL != "http://127.0.0.1:11333" {
		t.Errorf("filters: %+v", c.Filters)
	}
	if !c.NDR.CopyToPostmaster || c.NDR.Language != "en" || c.NDR.Postmaster != "postmaster@example.test" {
		t.Errorf("ndr: %+v", c.NDR)
	}
	if c.Mailboxstore.IMAPAddress != "127.0.0.1:1143" || c.Admin.Address != "127.0.0.1:8025" {
		t.Errorf("mailboxstore %+v admin %+v", c.Mailboxstore, c.Admin)
	}
	if len(c.Queue.Retry) != 4 || c.Queue.Retry[3].D() != 4*time.Hour || c.Queue.Expire.D() != 48*time.Hour ||
		c.Queue.JournalMessageSize != 256<<10 {
		t.Errorf("queue: %+v", c.Queue)
	}
	if len(c.Routes) != 2 || len(c.Routes[0].To) != 1 || c.Routes[0].To[0] != "lmtp://10.0.0.5:24" || c.Routes[1].Domains[0] != "*" {
		t.Errorf("routes: %+v", c.Routes)
	}
}

// TestConfigDeployExamples loads every example config shipped in deploy/.
func TestConfigDeployExamples(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join("..", "..", "deploy", "*", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join("..", "..", "deploy", "*.yaml"))
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte("\nlisteners:")) {
			continue // not a bridgehead config (users file, Kubernetes manifest)
		}
		if _, err := LoadConfig(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestConfigBad loads each file of testdata/badconfigs and checks that one
// line of the error is FILE:WANT, WANT being the file's first-line comment
// "# want: LINE: what" (or the content of a sibling .err file).
func TestConfigBad(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "badconfigs", "*.yaml"))
	if err != nil || len(files) < 15 {
		t.Fatalf("bad configs: %d files, %v", len(files), err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			t.Parallel()
			want := wantOf(t, f)
			_, err := LoadConfig(f)
			if err == nil {
				t.Fatalf("no error, want %s:%s", f, want)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, f+":"+want) {
					return
				}
			}
			t.Errorf("error:\n%v\nwant a line starting %s:%s", err, f, want)
		})
	}
}

// wantOf returns the expected error of a bad config file.
func wantOf(t *testing.T, f string) string {
	t.Helper()
	if b, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".err"); err == nil {
		return strings.TrimSpace(string(b))
	}
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := bufio.NewReader(bytes.NewReader(data)).ReadString('\n')
	want, ok := strings.CutPrefix(strings.TrimSpace(first), "# want: ")
	if !ok {
		t.Fatalf("%s: no .err file and no \"# want: \" first line", f)
	}
	return want
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Size{
		"0": 0, "1048576": 1 << 20, "25MiB": 25 << 20, "10MB": 10e6, "512KiB": 512 << 10,
		"1GiB": 1 << 30, "2gb": 2e9, "7 KB": 7000, "100B": 100,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "25MeB", "1.5MiB", "99999999999GiB", "x"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
	if s := Size(25 << 20).String(); s != "25MiB" {
		t.Errorf("String = %q", s)
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"5m": 5 * time.Minute, "48h": 48 * time.Hour, "2d": 48 * time.Hour, "1h30m": 90 * time.Minute, "0": 0,
	} {
		if got, err := ParseDuration(in); err != nil || got.D() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "5", "1y", "d", "1.5d", "5 minutes"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestLineOf(t *testing.T) {
	t.Parallel()
	const doc = `a: 1
b:
  c:
    - x
    - y: 2
      z: 3
`
	c, err := ParseConfig("x.yaml", []byte("hostname: h\n"))
	if err == nil || c != nil {
		t.Fatalf("ParseConfig of an incomplete config: %v", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path []any
		want int
	}{
		{nil, 1}, {p("a"), 1}, {p("b"), 2}, {p("b", "c"), 3}, {p("b", "c", 0), 4},
		{p("b", "c", 1), 5}, {p("b", "c", 1, "z"), 6}, {p("b", "c", 1, "nope"), 5},
		{p("b", "c", 7), 3}, {p("nope", "deeper"), 1},
	} {
		if got := lineOf(&root, tc.path...); got != tc.want {
			t.Errorf("lineOf(%v) = %d, want %d", tc.path, got, tc.want)
		}
	}
}

// minimal is a valid config; tests append to it.
const minimal = `hostname: gw.example.test
state_dir: state
tls: {cert_file: tls.crt, key_file: keys/tls.key}
listeners:
  - {name: submission, address: "127.0.0.1:1587", mode: submission}
domains: [example.test]
`

func TestConfigRelativePaths(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig("/etc/bh/bridgehead.yaml", []byte(minimal+`directory:
  ldap:
    urls: [ldaps://ldap.example.test]
    base_dn: dc=example,dc=test
    bind_dn: cn=gw,dc=example,dc=test
    bind_password_file: secret
    ca_file: /abs/ca.crt
routes:
  - {domains: [example.test], to: mailbox}
  - {domains: ["*"], to: "smtp://relay.example.net", tls: verify, ca_file: relay-ca.crt}
`))
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		c.StateDir:                        "/etc/bh/state",
		c.TLS.CertFile:                    "/etc/bh/tls.crt",
		c.TLS.KeyFile:                     "/etc/bh/keys/tls.key",
		c.Directory.LDAP.BindPasswordFile: "/etc/bh/secret",
		c.Directory.LDAP.CAFile:           "/abs/ca.crt",
		c.Routes[1].CAFile:                "/etc/bh/relay-ca.crt",
		c.Routes[0].To[0]:                 "mailbox:",
		c.Auth.Methods[0]:                 AuthDirectory,
		c.NDR.Postmaster:                  "postmaster@example.test",
		c.Listeners[0].Limits.MaxMessageSize.String(): "25MiB",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestConfigLDAPOptions(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig("l.yaml", []byte(minimal+`directory:
  ldap:
    urls: [ldap://dc1.example.test, ldap://dc2.example.test]
    bind_dn: CN=gw,CN=Users,DC=example,DC=test
    bind_password_file: /run/secrets/ldap
    base_dn: DC=example,DC=test
    schema: activedirectory
    start_tls: true
    timeout: 3s
    pool_size: 8
    group_filter: "(member:1.2.840.113556.1.4.1941:=%s)"
    send_as_groups: true
    disabled_bits: 2
    address_attributes: [mail]
    cache: {size: 500, ttl: 2m, negative_ttl: 30s, stale_for: 1h}
`))
	if err != nil {
		t.Fatal(err)
	}
	o := c.Directory.LDAP.options()
	if len(o.URLs) != 2 || o.Schema != "activedirectory" || !o.StartTLS || o.Timeout != 3*time.Second ||
		o.PoolSize != 8 || !o.SendAsGroups || o.DisabledBits != 2 || o.BindPasswordFile != "/run/secrets/ldap" ||
		o.Cache.Size != 500 || o.Cache.TTL != 2*time.Minute || o.Cache.NegativeTTL != 30*time.Second || o.Cache.StaleFor != time.Hour {
		t.Errorf("options: %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestConfigAllErrors checks that every problem is reported, not only the
// first, each on its own line.
func TestConfigAllErrors(t *testing.T) {
	t.Parallel()
	_, err := ParseConfig("m.yaml", []byte(`state_dir: /x
listeners:
  - {name: a, address: "nohost", mode: submission}
domains: [example.test]
directory: {static: {file: u.yaml}}
ndr: {language: fr}
`))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		"m.yaml:1: hostname is required",
		`m.yaml:3: listener "a": address:`,
		`m.yaml:3: listener "a": mode submission needs`,
		`m.yaml:6: ndr.language "fr"`,
	}
	got := strings.Split(err.Error(), "\n")
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no line %q in:\n%v", w, err)
		}
	}
}

func TestConfigCheckFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "bh.yaml")
	body := minimal + "directory:\n  static:\n    file: users.yaml\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckFiles()
	if err == nil {
		t.Fatal("CheckFiles: no error for missing files")
	}
	for _, w := range []string{path + ":3: tls.cert_file: open ", path + ":3: tls.key_file: open ", path + ":9: directory.static.file: open "} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("CheckFiles error %q does not contain %q", err, w)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte("users: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.TLS = TLSConfig{}
	if err := c.CheckFiles(); err != nil {
		t.Errorf("CheckFiles with the users file present: %v", err)
	}
}

// FuzzParseConfig checks that no input panics and that every error line
// names the file.
func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "badconfigs", "*.yaml"))
	for _, name := range append(files, filepath.Join("testdata", "design.yaml")) {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseConfig("f.yaml", data)
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "f.yaml:") {
				t.Fatalf("error line %q does not name the file", line)
			}
		}
	})
}
