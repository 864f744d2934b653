package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	if len(c.Queue.Retry) != 4 || c.Queue.Retry[3].D() != 4*time.Hour || c.Queue.Expire.D() != 48*time.Hour {
		t.Errorf("queue: %+v", c.Queue)
	}
	if len(c.Routes) != 2 || c.Routes[0].To != "lmtp://10.0.0.5:24" || c.Routes[1].Domains[0] != "*" {
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
