package delivery

import (
	"context"
	"strings"
	"testing"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

func TestSMTPDelivered(t *testing.T) {
	t.Parallel()
	s := testservers.StartSink(t)
	d := newDeliverer(t, Options{Routes: []Route{sinkRoute(s, "")}})
	msg := newMessage("q1", testBody)
	msg.Envelope.Ret, msg.Envelope.EnvID = "HDRS", "env-1"
	rs := rcpts("bob@example.test", "carol@example.test")
	rs[0].Notify, rs[0].ORCPT = []string{"FAILURE", "DELAY"}, "rfc822;Bob@Example.test"

	res := deliver(t, d, msg, rs)
	for _, r := range rs {
		got := res[r.Address]
		if !got.Delivered() || got.Code != 250 || got.Enhanced != "2.0.0" || got.RemoteMTA != "127.0.0.1" {
			t.Errorf("%s: %+v, want delivered 250 2.0.0 by 127.0.0.1", r.Address, got)
		}
	}
	msgs := sinkData(t, s)
	if len(msgs) != 1 {
		t.Fatalf("sink has %d messages, want 1 transaction", len(msgs))
	}
	m := msgs[0]
	if string(m.Data) != testBody {
		t.Errorf("message at the sink:\n%q\nwant\n%q", m.Data, testBody)
	}
	for _, want := range []string{"<alice@example.test>", "RET=HDRS", "ENVID=env-1"} {
		if !strings.Contains(m.MailArgs, want) {
			t.Errorf("MAIL args %q lack %q", m.MailArgs, want)
		}
	}
	if len(m.RcptArgs) != 2 || m.RcptArgs[0] != "<bob@example.test> NOTIFY=FAILURE,DELAY ORCPT=RFC822;Bob@Example.test" ||
		m.RcptArgs[1] != "<carol@example.test>" {
		t.Errorf("RCPT args %q", m.RcptArgs)
	}
}

func TestSMTPNoDSNWhenNotAdvertised(t *testing.T) {
	t.Parallel()
	s := testservers.StartSink(t, "-N") // hide DSN
	d := newDeliverer(t, Options{Routes: []Route{sinkRoute(s, "")}})
	msg := newMessage("q2", testBody)
	msg.Envelope.Ret = "FULL"
	rs := rcpts("bob@example.test")
	rs[0].Notify = []string{"NEVER"}
	if got := deliver(t, d, msg, rs)["bob@example.test"]; !got.Delivered() {
		t.Fatalf("%+v", got)
	}
	m := sinkData(t, s)[0]
	if strings.Contains(m.MailArgs, "RET=") || strings.Contains(m.RcptArgs[0], "NOTIFY") {
		t.Errorf("DSN parameters sent to a server without DSN: %q %q", m.MailArgs, m.RcptArgs)
	}
}

func TestSMTPRcptRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		enhanced  string
		permanent bool
	}{
		{"permanent", []string{"-f", "rcpt", "-B", "550 5.1.1 No such user"}, 550, "5.1.1", true},
		{"temporary", []string{"-r", "rcpt", "-b", "451 4.3.0 Try later"}, 451, "4.3.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := testservers.StartSink(t, tc.args...)
			d := newDeliverer(t, Options{Routes: []Route{sinkRoute(s, "")}})
			res := deliver(t, d, newMessage("q3", testBody), rcpts("bob@example.test", "carol@example.test"))
			for _, r := range res {
				if r.Code != tc.code || r.Enhanced != tc.enhanced || r.Permanent != tc.permanent || r.Delivered() {
					t.Errorf("%+v, want %d %s permanent=%v", r, tc.code, tc.enhanced, tc.permanent)
				}
			}
			if n := len(s.Messages(t)); n != 0 {
				t.Errorf("sink has %d messages, want none", n)
			}
		})
	}
}

func TestSMTPDataRefused(t *testing.T) {
	t.Parallel()
	s := testservers.StartSink(t, "-f", ".", "-B", "554 5.6.0 Content refused")
	d := newDeliverer(t, Options{Routes: []Route{sinkRoute(s, "")}})
	res := deliver(t, d, newMessage("q4", testBody), rcpts("bob@example.test", "carol@example.test"))
	for _, r := range res {
		if r.Code != 554 || !r.Permanent {
			t.Errorf("%+v, want permanent 554 for every recipient", r)
		}
	}
}

func TestSMTPBackendDown(t *testing.T) {
	t.Parallel()
	s := testservers.StartSink(t)
	d := newDeliverer(t, Options{Routes: []Route{sinkRoute(s, "")}})
	s.Stop(t)
	res := deliver(t, d, newMessage("q5", testBody), rcpts("bob@example.test"))
	if r := res["bob@example.test"]; r.Code != 0 || r.Permanent || r.Delivered() || r.Text == "" || r.RemoteMTA != "127.0.0.1" {
		t.Errorf("back end down: %+v, want temporary with Code 0", r)
	}
	s.Restart(t)
	if r := deliver(t, d, newMessage("q5", testBody), rcpts("bob@example.test"))["bob@example.test"]; !r.Delivered() {
		t.Errorf("after restart: %+v", r)
	}
}

func TestTLSRequiredWithoutSTARTTLS(t *testing.T) {
	t.Parallel()
	s := testservers.StartSink(t) // smtp-sink offers no STARTTLS
	for _, p := range []TLSPolicy{PolicyRequired, PolicyVerify} {
		d := newDeliverer(t, Options{Routes: []Route{sinkRoute(s, p)}})
		r := deliver(t, d, newMessage("q6", testBody), rcpts("bob@example.test"))["bob@example.test"]
		if r.Code != 0 || r.Permanent || !strings.Contains(r.Text, "STARTTLS not offered") {
			t.Errorf("%s: %+v, want temporary STARTTLS failure", p, r)
		}
	}
	if n := len(s.Messages(t)); n != 0 {
		t.Errorf("sink has %d messages, want none", n)
	}
	// Opportunistic goes on in plain text.
	d := newDeliverer(t, Options{Routes: []Route{sinkRoute(s, PolicyOpportunistic)}})
	if r := deliver(t, d, newMessage("q6", testBody), rcpts("bob@example.test"))["bob@example.test"]; !r.Delivered() {
		t.Errorf("opportunistic: %+v", r)
	}
}

func TestRoutesAndBackends(t *testing.T) {
	t.Parallel()
	first, second, fallback, named := testservers.StartSink(t), testservers.StartSink(t), testservers.StartSink(t), testservers.StartSink(t)
	d := newDeliverer(t, Options{
		Routes: []Route{
			{Domains: []string{"example.test"}, To: "smtp://" + first.Addr},
			{Domains: []string{"example.test", "other.test"}, To: "smtp://" + second.Addr},
			{Domains: []string{"*"}, To: "smtp://" + fallback.Addr},
		},
		Backends: map[string]string{"store2": "smtp://" + named.Addr},
	})
	rs := rcpts("a@example.test", "b@other.test", "c@far.test", "d@example.test")
	rs[3].Backend = "store2"
	res := deliver(t, d, newMessage("q7", testBody), rs)
	for _, r := range res {
		if !r.Delivered() {
			t.Errorf("%+v", r)
		}
	}
	for name, tc := range map[string]struct {
		s    *testservers.Sink
		want string
	}{
		"first match": {first, "<a@example.test>"}, "second route": {second, "<b@other.test>"},
		"fallback": {fallback, "<c@far.test>"}, "backend": {named, "<d@example.test>"},
	} {
		msgs := sinkData(t, tc.s)
		if len(msgs) != 1 || len(msgs[0].RcptArgs) != 1 || msgs[0].RcptArgs[0] != tc.want {
			t.Errorf("%s: sink got %+v, want one message for %s", name, msgs, tc.want)
		}
	}
}

func TestNoRoute(t *testing.T) {
	t.Parallel()
	s := testservers.StartSink(t)
	d := newDeliverer(t, Options{Routes: []Route{{Domains: []string{"example.test"}, To: "smtp://" + s.Addr}}})
	res := deliver(t, d, newMessage("q8", testBody), rcpts("a@example.test", "b@nowhere.test"))
	if r := res["b@nowhere.test"]; !r.Permanent || r.Code != 554 || r.Enhanced != "5.4.4" {
		t.Errorf("no route: %+v", r)
	}
	if r := res["a@example.test"]; !r.Delivered() {
		t.Errorf("routed: %+v", r)
	}
}

func TestCancelled(t *testing.T) {
	t.Parallel()
	s := testservers.StartSink(t)
	d := newDeliverer(t, Options{Routes: []Route{sinkRoute(s, "")}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := d.Deliver(ctx, newMessage("q9", testBody), rcpts("a@example.test", "b@example.test"))
	if len(res) != 2 {
		t.Fatalf("%d results", len(res))
	}
	for _, r := range res {
		if r.Delivered() || r.Permanent {
			t.Errorf("cancelled: %+v, want temporary", r)
		}
	}
}
