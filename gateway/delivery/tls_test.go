package delivery

import (
	"context"
	"crypto/tls"
	"io"
	"strings"
	"sync"
	"testing"

	"bridgehead.dev/bridgehead/gateway/queue"
)

func TestTLSPolicies(t *testing.T) {
	t.Parallel()
	srvConf, caFile := testCA(t)
	r := startRecorder(t, recorderConfig{tls: srvConf})
	for _, tc := range []struct {
		name      string
		route     Route
		delivered bool
		tls       bool
	}{
		{"opportunistic", Route{TLS: PolicyOpportunistic}, true, true},
		{"default", Route{}, true, true},
		{"required", Route{TLS: PolicyRequired}, true, true},
		{"verify with CA", Route{TLS: PolicyVerify, CAFile: caFile}, true, true},
		{"verify with system roots", Route{TLS: PolicyVerify}, false, false},
		{"none", Route{TLS: PolicyNone}, true, false},
	} {
		before := len(r.received())
		tc.route.Domains, tc.route.To = []string{"*"}, "smtp://"+r.Addr
		d := newDeliverer(t, Options{Routes: []Route{tc.route}})
		res := deliver(t, d, newMessage("t1", testBody), rcpts("bob@example.test"))["bob@example.test"]
		if res.Delivered() != tc.delivered || res.Permanent {
			t.Errorf("%s: %+v, want delivered=%v (never permanent)", tc.name, res, tc.delivered)
			continue
		}
		got := r.received()
		if !tc.delivered {
			if len(got) != before {
				t.Errorf("%s: message sent though TLS failed", tc.name)
			}
			continue
		}
		if len(got) != before+1 || got[before].tls != tc.tls || string(got[before].data) != testBody {
			t.Errorf("%s: server got %d messages, last tls=%v", tc.name, len(got)-before, got[len(got)-1].tls)
		}
	}
}

func TestOpportunisticHandshakeFailureFallsBack(t *testing.T) {
	t.Parallel()
	srvConf, _ := testCA(t)
	srvConf.ClientAuth = tls.RequireAnyClientCert // our client has none: every handshake fails
	r := startRecorder(t, recorderConfig{tls: srvConf})
	d := newDeliverer(t, Options{Routes: []Route{{Domains: []string{"*"}, To: "smtp://" + r.Addr}}})
	if res := deliver(t, d, newMessage("t2", testBody), rcpts("bob@example.test"))["bob@example.test"]; !res.Delivered() {
		t.Fatalf("opportunistic: %+v", res)
	}
	if got := r.received(); len(got) != 1 || got[0].tls {
		t.Fatalf("want one message in plain text, got %+v", got)
	}
	d = newDeliverer(t, Options{Routes: []Route{{Domains: []string{"*"}, To: "smtp://" + r.Addr, TLS: PolicyRequired}}})
	res := deliver(t, d, newMessage("t2", testBody), rcpts("bob@example.test"))["bob@example.test"]
	if res.Delivered() || res.Permanent || !strings.Contains(res.Text, "TLS handshake") {
		t.Fatalf("required: %+v, want temporary handshake failure", res)
	}
}

func TestMaxPerRoute(t *testing.T) {
	t.Parallel()
	r := startRecorder(t, recorderConfig{})
	d := newDeliverer(t, Options{MaxPerRoute: 1, Routes: []Route{{Domains: []string{"*"}, To: "smtp://" + r.Addr}}})
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, res := range d.Deliver(context.Background(), newMessage("t3", testBody), rcpts("bob@example.test")) {
				if !res.Delivered() {
					t.Errorf("%+v", res)
				}
			}
		}()
	}
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) != 6 || r.maxActive != 1 {
		t.Errorf("%d messages, at most %d transactions at once; want 6 and 1", len(r.msgs), r.maxActive)
	}
}

type fakeMailbox struct {
	mu  sync.Mutex
	got map[string]string
	err map[string]error
}

func (f *fakeMailbox) DeliverMailbox(_ context.Context, rcpt string, msg io.Reader) error {
	b, err := io.ReadAll(msg)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.err[rcpt]; err != nil {
		return err
	}
	f.got[rcpt] = string(b)
	return nil
}

func TestMailboxTarget(t *testing.T) {
	t.Parallel()
	mb := &fakeMailbox{got: map[string]string{}, err: map[string]error{
		"full@dev.test": &PermanentError{Err: io.ErrShortWrite},
		"busy@dev.test": io.ErrUnexpectedEOF,
	}}
	d := newDeliverer(t, Options{Mailbox: mb, Routes: []Route{{Domains: []string{"dev.test"}, To: "mailbox:"}}})
	res := deliver(t, d, newMessage("m1", testBody), rcpts("ok@dev.test", "full@dev.test", "busy@dev.test"))
	want := map[string]func(queue.Result) bool{
		"ok@dev.test":   func(r queue.Result) bool { return r.Delivered() },
		"full@dev.test": func(r queue.Result) bool { return r.Permanent && r.Code == 550 },
		"busy@dev.test": func(r queue.Result) bool { return !r.Permanent && r.Code == 451 },
	}
	for addr, ok := range want {
		if !ok(res[addr]) {
			t.Errorf("%s: %+v", addr, res[addr])
		}
	}
	if mb.got["ok@dev.test"] != testBody {
		t.Errorf("stored %q", mb.got["ok@dev.test"])
	}
}

func TestSMTPS(t *testing.T) {
	t.Parallel()
	srvConf, caFile := testCA(t)
	r := startRecorder(t, recorderConfig{tls: srvConf, implicit: true})
	d := newDeliverer(t, Options{Routes: []Route{{Domains: []string{"*"}, To: "smtps://" + r.Addr, TLS: PolicyVerify, CAFile: caFile}}})
	if res := deliver(t, d, newMessage("t4", testBody), rcpts("bob@example.test"))["bob@example.test"]; !res.Delivered() {
		t.Fatalf("%+v", res)
	}
	if got := r.received(); len(got) != 1 || !got[0].tls || string(got[0].data) != testBody {
		t.Fatalf("server got %+v", got)
	}
}
