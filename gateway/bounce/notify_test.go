package bounce

import (
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/queue"
)

func TestWants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		notify         []string
		failure, delay bool
	}{
		{nil, true, true},
		{[]string{"NEVER"}, false, false},
		{[]string{"FAILURE"}, true, false},
		{[]string{"DELAY"}, false, true},
		{[]string{"SUCCESS"}, false, false},
		{[]string{"success", "failure", "delay"}, true, true},
		{[]string{"NEVER", "FAILURE"}, false, false},
	}
	for _, tt := range tests {
		if got := wants(tt.notify, notifyFailure); got != tt.failure {
			t.Errorf("wants(%v, FAILURE) = %v", tt.notify, got)
		}
		if got := wants(tt.notify, notifyDelay); got != tt.delay {
			t.Errorf("wants(%v, DELAY) = %v", tt.notify, got)
		}
	}
}

func TestFailedStatus(t *testing.T) {
	t.Parallel()
	r := &Reporter{}
	tests := []struct {
		reply, status, diag string
	}{
		{"550 5.1.1 No such user", "", "550 5.1.1 No such user"},
		{"expired: not delivered within 48h0m0s; last reply: 451 4.3.0 Try later", "5.4.7", "451 4.3.0 Try later"},
		{"expired: not delivered within 48h0m0s", "5.4.7", "expired: not delivered within 48h0m0s"},
	}
	for _, tt := range tests {
		s := r.failedStatus(&queue.Recipient{Address: "a@b.test", LastReply: tt.reply})
		if s.Status != tt.status || s.DiagnosticCode != tt.diag {
			t.Errorf("%q: status %q diagnostic %q, want %q %q", tt.reply, s.Status, s.DiagnosticCode, tt.status, tt.diag)
		}
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	r, err := New(Options{Hostname: "gw.test", DomainLanguage: map[string]string{"Example.DE": "de"}, Expire: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for sender, want := range map[string]string{
		"a@example.de": "de", "a@EXAMPLE.de": "de", "a@example.com": "en", "local": "en",
	} {
		if got := r.language(sender); got != want {
			t.Errorf("language(%q) = %q, want %q", sender, got, want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]Options{
		"no hostname":        {},
		"bad postmaster":     {Hostname: "gw.test", Postmaster: "nobody"},
		"copy without store": {Hostname: "gw.test", CopyToPostmaster: true},
		"negative expire":    {Hostname: "gw.test", Expire: -time.Second},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	r, err := New(Options{Hostname: "gw.test"})
	if err != nil {
		t.Fatal(err)
	}
	if r.opts.Postmaster != "postmaster@gw.test" || r.opts.Language != "en" || r.opts.Expire != queue.DefaultExpire {
		t.Errorf("defaults %+v", r.opts)
	}
}
