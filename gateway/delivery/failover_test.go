package delivery

import (
	"strings"
	"testing"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

func TestFailoverNextTargetWhenFirstIsDown(t *testing.T) {
	t.Parallel()
	dead := testservers.StartSink(t)
	dead.Stop(t)
	live := testservers.StartSink(t)
	d := newDeliverer(t, Options{Routes: []Route{{Domains: []string{"*"},
		Targets: []string{"smtp://" + dead.Addr, "smtp://" + live.Addr}, TLS: PolicyNone}}})
	res := deliver(t, d, newMessage("f1", testBody), rcpts("bob@example.test"))
	if r := res["bob@example.test"]; !r.Delivered() {
		t.Fatalf("not delivered through the second target: %+v", r)
	}
	if n := len(sinkData(t, live)); n != 1 {
		t.Fatalf("second target got %d messages, want 1", n)
	}
}

func TestFailoverReplyIsFinal(t *testing.T) {
	t.Parallel()
	refusing := testservers.StartSink(t, "-f", "rcpt", "-B", "550 5.1.1 No such user")
	other := testservers.StartSink(t)
	d := newDeliverer(t, Options{Routes: []Route{{Domains: []string{"*"},
		Targets: []string{"smtp://" + refusing.Addr, "smtp://" + other.Addr}, TLS: PolicyNone}}})
	res := deliver(t, d, newMessage("f2", testBody), rcpts("bob@example.test"))
	if r := res["bob@example.test"]; r.Delivered() {
		t.Fatalf("delivered despite a RCPT refusal from the first target: %+v", r)
	}
	if n := len(sinkData(t, other)); n != 0 {
		t.Fatalf("second target got %d messages after a final reply, want 0", n)
	}
}

func TestFailoverAllDownDefers(t *testing.T) {
	t.Parallel()
	a, b := testservers.StartSink(t), testservers.StartSink(t)
	a.Stop(t)
	b.Stop(t)
	d := newDeliverer(t, Options{Routes: []Route{{Domains: []string{"*"},
		Targets: []string{"smtp://" + a.Addr, "smtp://" + b.Addr}, TLS: PolicyNone}}})
	r := deliver(t, d, newMessage("f3", testBody), rcpts("bob@example.test"))["bob@example.test"]
	if r.Delivered() || r.Permanent || !strings.Contains(r.Text, b.Addr) {
		t.Fatalf("want a deferral naming the last target %s: %+v", b.Addr, r)
	}
}

func TestRouteTargetsValidate(t *testing.T) {
	t.Parallel()
	for _, r := range []Route{
		{Domains: []string{"*"}, To: "smtp://a", Targets: []string{"smtp://b"}},
		{Domains: []string{"*"}},
		{Domains: []string{"*"}, Targets: []string{"smtp://a", "ftp://b"}},
	} {
		if err := (&Options{Routes: []Route{r}}).Validate(); err == nil {
			t.Errorf("route %+v: no error", r)
		}
	}
}
