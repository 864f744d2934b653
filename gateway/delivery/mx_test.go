package delivery

import (
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/dnsresolver"
	"bridgehead.dev/bridgehead/gateway/testservers"
)

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

func mxRoute(port int) Route {
	return Route{Domains: []string{"*"}, To: "mx", MXPort: port, TLS: PolicyNone}
}

func TestMXPreferenceOrderSkipsDeadHost(t *testing.T) {
	t.Parallel()
	sink := testservers.StartSink(t)
	dns := &fakeDNS{
		mx: map[string][]dnsresolver.MX{"remote.test": {{Host: "mx1.remote.test", Pref: 10}, {Host: "mx2.remote.test", Pref: 20}}},
		// 127.0.0.2 on the sink's port: nothing listens there.
		ip: map[string][]string{"mx1.remote.test": {"127.0.0.2"}, "mx2.remote.test": {"127.0.0.1"}},
	}
	d := newDeliverer(t, Options{Resolver: dns, Routes: []Route{mxRoute(portOf(t, sink.Addr))}})
	r := deliver(t, d, newMessage("mx1", testBody), rcpts("bob@remote.test"))["bob@remote.test"]
	if !r.Delivered() || r.RemoteMTA != "mx2.remote.test" {
		t.Fatalf("not delivered through the second MX: %+v", r)
	}
	if n := len(sinkData(t, sink)); n != 1 {
		t.Fatalf("sink got %d messages", n)
	}
	if got := strings.Join(dns.lookup, ","); got != "MX remote.test,IP mx1.remote.test,IP mx2.remote.test" {
		t.Errorf("lookups %s", got)
	}
	// An address literal needs no DNS.
	r = deliver(t, d, newMessage("mx1b", testBody), rcpts("bob@[127.0.0.1]"))["bob@[127.0.0.1]"]
	if !r.Delivered() || len(dns.lookup) != 3 {
		t.Fatalf("address literal: %+v, lookups %v", r, dns.lookup)
	}
}

func TestMXImplicitAndPerDomain(t *testing.T) {
	t.Parallel()
	a, b := testservers.StartSink(t), testservers.StartSink(t)
	if portOf(t, a.Addr) == portOf(t, b.Addr) {
		t.Fatal("same port")
	}
	// Both sinks listen on 127.0.0.1: a route per domain gives each its
	// own MX port. two.test has no MX, only an address (implicit MX).
	dns := &fakeDNS{
		mx: map[string][]dnsresolver.MX{"one.test": {{Host: "mx.one.test", Pref: 0}}},
		ip: map[string][]string{"mx.one.test": {"127.0.0.1"}, "two.test": {"::ffff:127.0.0.1"}},
	}
	d := newDeliverer(t, Options{Resolver: dns, Routes: []Route{
		{Domains: []string{"one.test"}, To: "mx", MXPort: portOf(t, a.Addr), TLS: PolicyNone},
		{Domains: []string{"two.test"}, To: "mx", MXPort: portOf(t, b.Addr), TLS: PolicyNone},
	}})
	res := deliver(t, d, newMessage("mx2", testBody), rcpts("x@one.test", "y@two.test", "z@one.test"))
	for _, r := range res {
		if !r.Delivered() {
			t.Fatalf("not delivered: %+v", r)
		}
	}
	if res["y@two.test"].RemoteMTA != "two.test" {
		t.Errorf("implicit MX: remote %q", res["y@two.test"].RemoteMTA)
	}
	ma, mb := sinkData(t, a), sinkData(t, b)
	if len(ma) != 1 || len(ma[0].RcptArgs) != 2 || len(mb) != 1 || len(mb[0].RcptArgs) != 1 {
		t.Fatalf("sink a %+v, sink b %+v", ma, mb)
	}
}

func TestMXAnswers(t *testing.T) {
	t.Parallel()
	dead := testservers.FreePort(t)
	dns := &fakeDNS{
		mx: map[string][]dnsresolver.MX{
			"down.test":   {{Host: "a.down.test", Pref: 1}, {Host: "b.down.test", Pref: 2}},
			"noaddr.test": {{Host: "gone.noaddr.test", Pref: 1}},
			"flaky.test":  {{Host: "mx.flaky.test", Pref: 1}},
		},
		ip: map[string][]string{"a.down.test": {"127.0.0.1"}, "b.down.test": {"127.0.0.2", "127.0.0.3"}},
		errs: map[string]error{
			"MX null.test":     fmt.Errorf("x: %w", dnsresolver.ErrNullMX),
			"MX servfail.test": fmt.Errorf("x: %w", dnsresolver.ErrTemporary),
			"IP mx.flaky.test": fmt.Errorf("x: %w", dnsresolver.ErrTemporary),
		},
	}
	d := newDeliverer(t, Options{Resolver: dns, Routes: []Route{mxRoute(dead)}, DialTimeout: 5 * time.Second})
	for _, c := range []struct {
		rcpt     string
		code     int
		enhanced string
		perm     bool
	}{
		{"a@null.test", 556, "5.1.10", true},
		{"a@nxdomain.test", 550, "5.1.2", true},
		{"a@servfail.test", 451, "4.4.3", false},
		{"a@flaky.test", 451, "4.4.3", false},
		{"a@down.test", 451, "4.4.1", false},
		{"a@noaddr.test", 550, "5.4.4", true},
	} {
		r := deliver(t, d, newMessage("mx3", testBody), rcpts(c.rcpt))[c.rcpt]
		if r.Code != c.code || r.Enhanced != c.enhanced || r.Permanent != c.perm {
			t.Errorf("%s: %+v, want %d %s permanent=%v", c.rcpt, r, c.code, c.enhanced, c.perm)
		}
	}
	if !strings.Contains(strings.Join(dns.lookup, ","), "IP b.down.test") {
		t.Errorf("second MX not tried: %v", dns.lookup)
	}
}

func TestMXLoop(t *testing.T) {
	t.Parallel()
	sink := testservers.StartSink(t)
	port := portOf(t, sink.Addr)
	dns := &fakeDNS{
		mx: map[string][]dnsresolver.MX{
			"byname.test": {{Host: "GW.example.test", Pref: 10}},
			"byaddr.test": {{Host: "mx.byaddr.test", Pref: 10}},
			"backup.test": {{Host: "primary.backup.test", Pref: 10}, {Host: "gw.example.test", Pref: 20}},
		},
		ip: map[string][]string{"mx.byaddr.test": {"127.0.0.1"}, "primary.backup.test": {"127.0.0.1"}},
	}
	for _, listen := range []string{"127.0.0.1:" + strconv.Itoa(port), "0.0.0.0:" + strconv.Itoa(port)} {
		d := newDeliverer(t, Options{Resolver: dns, Routes: []Route{mxRoute(port)}, ListenAddrs: []string{listen}})
		for _, rcpt := range []string{"a@byname.test", "a@byaddr.test"} {
			r := deliver(t, d, newMessage("loop", testBody), rcpts(rcpt))[rcpt]
			want := "mail for " + rcpt[2:] + " loops back to myself"
			if r.Code != 554 || r.Enhanced != "5.4.6" || !r.Permanent || r.Text != want {
				t.Errorf("listen %s, %s: %+v, want 554 5.4.6 %s", listen, rcpt, r, want)
			}
		}
	}
	// We are a backup MX: the better one is tried, ourselves never.
	d := newDeliverer(t, Options{Resolver: dns, Routes: []Route{mxRoute(port)}})
	if r := deliver(t, d, newMessage("backup", testBody), rcpts("a@backup.test"))["a@backup.test"]; !r.Delivered() {
		t.Errorf("backup MX: %+v", r)
	}
	if n := len(sinkData(t, sink)); n != 1 {
		t.Fatalf("sink got %d messages, want 1 (only the backup-MX case)", n)
	}
}

func TestMXVerifyChecksHostName(t *testing.T) {
	t.Parallel()
	srvTLS, _ := testservers.TLSPair(t, "mx.remote.test")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	leaf := srvTLS.Certificates[0].Leaf
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := startRecorder(t, recorderConfig{tls: srvTLS})
	dns := &fakeDNS{
		mx: map[string][]dnsresolver.MX{"remote.test": {{Host: "mx.remote.test"}}, "other.test": {{Host: "mx.other.test"}}},
		ip: map[string][]string{"mx.remote.test": {"127.0.0.1"}, "mx.other.test": {"127.0.0.1"}},
	}
	d := newDeliverer(t, Options{Resolver: dns, Routes: []Route{{Domains: []string{"*"}, To: "mx",
		MXPort: portOf(t, rec.Addr), TLS: PolicyVerify, CAFile: caFile}}})
	if r := deliver(t, d, newMessage("v1", testBody), rcpts("a@remote.test"))["a@remote.test"]; !r.Delivered() {
		t.Fatalf("verified MX: %+v", r)
	}
	r := deliver(t, d, newMessage("v2", testBody), rcpts("a@other.test"))["a@other.test"]
	if r.Delivered() || r.Permanent || r.Enhanced != "4.4.1" {
		t.Fatalf("certificate for another name: %+v, want a deferral", r)
	}
	if msgs := rec.received(); len(msgs) != 1 || !msgs[0].tls {
		t.Fatalf("recorder got %d messages", len(msgs))
	}
}

func TestMXOptionsValidate(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]Options{
		"no resolver":    {Routes: []Route{{Domains: []string{"*"}, To: "mx"}}},
		"auth":           {Resolver: &fakeDNS{}, Routes: []Route{{Domains: []string{"*"}, To: "mx", TLS: PolicyRequired, Auth: &Auth{Username: "u"}}}},
		"port on smtp":   {Routes: []Route{{Domains: []string{"*"}, To: "smtp://a", MXPort: 2525}}},
		"port range":     {Resolver: &fakeDNS{}, Routes: []Route{{Domains: []string{"*"}, To: "mx", MXPort: 70000}}},
		"listen address": {ListenAddrs: []string{"587"}},
		"mx with a path": {Resolver: &fakeDNS{}, Routes: []Route{{Domains: []string{"*"}, To: "mx://a"}}},
		"mx and mailbox": {Resolver: &fakeDNS{}, Routes: []Route{{Domains: []string{"*"}, Targets: []string{"mx", "mailbox:"}}}},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	ok := Options{Resolver: &fakeDNS{}, Routes: []Route{{Domains: []string{"*"}, Targets: []string{"mx", "smtp://relay.test"}, MXPort: 2525,
		TLS: PolicyRequired, Auth: &Auth{Username: "gw"}}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("mx with a fallback relay that wants a login: %v", err)
	}
}

func TestOnAttempt(t *testing.T) {
	t.Parallel()
	sink := testservers.StartSink(t, "-f", "rcpt", "-B", "550 5.1.1 No such user")
	good := testservers.StartSink(t)
	type call struct{ route, result string }
	var mu sync.Mutex
	var calls []call
	d := newDeliverer(t, Options{Resolver: &fakeDNS{}, OnAttempt: func(route, result string, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if took < 0 {
			t.Errorf("negative duration")
		}
		calls = append(calls, call{route, result})
	}, Routes: []Route{
		{Domains: []string{"bad.test"}, To: "smtp://" + sink.Addr, TLS: PolicyNone},
		{Domains: []string{"good.test"}, To: "smtp://" + good.Addr, TLS: PolicyNone},
		{Domains: []string{"*"}, To: "mx"},
	}})
	deliver(t, d, newMessage("o1", testBody), rcpts("a@bad.test"))
	deliver(t, d, newMessage("o2", testBody), rcpts("a@good.test"))
	deliver(t, d, newMessage("o3", testBody), rcpts("a@nxdomain.test"))
	mu.Lock()
	defer mu.Unlock()
	want := []call{{"smtp://" + sink.Addr, "failed"}, {"smtp://" + good.Addr, "delivered"}, {"mx", "failed"}}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("calls %v, want %v", calls, want)
	}
}
