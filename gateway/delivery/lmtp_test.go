package delivery

import (
	"bytes"
	"testing"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

func TestLMTPPerRecipient(t *testing.T) {
	t.Parallel()
	dc := testservers.StartDovecot(t, map[string]string{"bob@example.test": "pw"})
	d := newDeliverer(t, Options{Routes: []Route{{Domains: []string{"example.test"}, To: "lmtp://" + dc.LMTPAddr}}})
	res := deliver(t, d, newMessage("l1", testBody), rcpts("bob@example.test", "nobody@example.test"))
	if r := res["bob@example.test"]; !r.Delivered() || r.RemoteMTA != "127.0.0.1" {
		t.Errorf("known user: %+v", r)
	}
	if r := res["nobody@example.test"]; r.Code != 550 || r.Enhanced != "5.1.1" || !r.Permanent {
		t.Errorf("unknown user: %+v, want permanent 550 5.1.1", r)
	}
	got := dc.Fetch(t, "bob@example.test", "pw")
	if len(got) != 1 || !bytes.HasSuffix(got[0], []byte(testBody)) {
		t.Fatalf("INBOX: %q", got)
	}
}

func TestLMTPDownThenUp(t *testing.T) {
	t.Parallel()
	dc := testservers.StartDovecot(t, map[string]string{"bob@example.test": "pw"})
	d := newDeliverer(t, Options{Backends: map[string]string{"store1": "lmtp://" + dc.LMTPAddr}})
	rs := rcpts("bob@example.test")
	rs[0].Backend = "store1"
	dc.Stop(t)
	if r := deliver(t, d, newMessage("l2", testBody), rs)["bob@example.test"]; r.Permanent || r.Delivered() {
		t.Errorf("store down: %+v, want temporary", r)
	}
	dc.Start(t)
	if r := deliver(t, d, newMessage("l2", testBody), rs)["bob@example.test"]; !r.Delivered() {
		t.Errorf("store up: %+v", r)
	}
	if got := dc.Fetch(t, "bob@example.test", "pw"); len(got) != 1 {
		t.Errorf("INBOX has %d messages, want 1", len(got))
	}
}

func TestLMTPRepliesAfterData(t *testing.T) {
	t.Parallel()
	r := startRecorder(t, recorderConfig{lmtp: true, status: map[string]error{
		"full@example.test": &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"},
		"gone@example.test": &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 2, 1}, Message: "Mailbox disabled"},
	}})
	d := newDeliverer(t, Options{Routes: []Route{{Domains: []string{"*"}, To: "lmtp://" + r.Addr}}})
	res := deliver(t, d, newMessage("l3", testBody), rcpts("ok@example.test", "full@example.test", "gone@example.test", "ok@example.test"))
	if got := res["ok@example.test"]; !got.Delivered() {
		t.Errorf("ok: %+v", got)
	}
	if got := res["full@example.test"]; got.Code != 452 || got.Enhanced != "4.2.2" || got.Permanent {
		t.Errorf("full: %+v, want temporary 452 4.2.2", got)
	}
	if got := res["gone@example.test"]; got.Code != 550 || got.Enhanced != "5.2.1" || !got.Permanent {
		t.Errorf("gone: %+v, want permanent 550 5.2.1", got)
	}
}
