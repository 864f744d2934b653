package delivery

import (
	"testing"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

func TestSenderRouteTaken(t *testing.T) {
	t.Parallel()
	special, general := testservers.StartSink(t), testservers.StartSink(t)
	d := newDeliverer(t, Options{Routes: []Route{
		{Domains: []string{"*"}, Senders: []string{"example.test"}, To: "smtp://" + special.Addr, TLS: PolicyNone},
		{Domains: []string{"*"}, To: "smtp://" + general.Addr, TLS: PolicyNone},
	}})
	fromOther := newMessage("s2", testBody)
	fromOther.Envelope.From = "carol@other.test"
	if r := deliver(t, d, newMessage("s1", testBody), rcpts("bob@remote.test"))["bob@remote.test"]; !r.Delivered() {
		t.Fatalf("from example.test: %+v", r)
	}
	if r := deliver(t, d, fromOther, rcpts("bob@remote.test"))["bob@remote.test"]; !r.Delivered() {
		t.Fatalf("from other.test: %+v", r)
	}
	if n := len(sinkData(t, special)); n != 1 {
		t.Errorf("sender route got %d messages, want 1 (from example.test)", n)
	}
	if n := len(sinkData(t, general)); n != 1 {
		t.Errorf("general route got %d messages, want 1 (from other.test)", n)
	}
	if err := (&Options{Routes: []Route{{Domains: []string{"*"}, Senders: []string{"Bad.Test"}, To: "smtp://x"}}}).Validate(); err == nil {
		t.Error("upper-case sender domain accepted")
	}
}
