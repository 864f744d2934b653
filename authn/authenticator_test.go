package authn_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
)

// step is one call of Next: the client's response (nil: none) and what the
// server should answer.
type step struct {
	response  []byte
	challenge string
	done      bool
	kind      authn.Kind // 0: no error
}

func ok(response string) step { return step{response: []byte(response), done: true} }

func refuse(response string, kind authn.Kind) step {
	return step{response: []byte(response), done: true, kind: kind}
}

func prompt(response []byte, challenge string) step {
	return step{response: response, challenge: challenge}
}

type exchange struct {
	name      string
	steps     []step
	dirErr    error
	dirCalls  int    // calls the directory should see
	reason    string // in the log on failure
	loggedAs  string // login= in the log on failure; "" = not checked
	succeeded bool
}

// run plays an exchange and checks every answer, the directory calls, the
// success callback, the failure delay and the log.
func run(t *testing.T, mech string, ex exchange) {
	t.Helper()
	r := newRig(t)
	r.dir.err = ex.dirErr
	var got *directory.User
	calls := 0
	srv, err := r.auth.NewServer(context.Background(), mech, testConn, func(u *directory.User) { got = u; calls++ })
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	for i, s := range ex.steps {
		challenge, done, err := srv.Next(s.response)
		if s.kind != 0 {
			var ae *authn.Error
			if !errors.As(err, &ae) || ae.Kind != s.kind {
				t.Fatalf("step %d: err = %#v, want *authn.Error of kind %v", i, err, s.kind)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: Next: %v (%#v)", i, err, err)
		}
		if string(challenge) != s.challenge || done != s.done {
			t.Fatalf("step %d: Next = %q, %v; want %q, %v", i, challenge, done, s.challenge, s.done)
		}
		if done && calls != 1 {
			t.Fatalf("step %d: done before onSuccess was called", i)
		}
	}
	if n := r.dir.callCount(); n != ex.dirCalls {
		t.Errorf("directory called %d times, want %d", n, ex.dirCalls)
	}
	log := r.log.String()
	if ex.succeeded {
		if calls != 1 || got == nil || got.Login != "alice" {
			t.Errorf("onSuccess called %d times with %+v, want once with alice", calls, got)
		}
		if len(r.sleeps.all()) != 0 {
			t.Errorf("success delayed by %v", r.sleeps.all())
		}
		if !strings.Contains(log, `level=INFO msg="auth ok" client_ip=192.0.2.7 login=alice mechanism=`+mech+` listener=submission tls=true user=alice`) {
			t.Errorf("log lacks the success line:\n%s", log)
		}
		return
	}
	if calls != 0 {
		t.Errorf("onSuccess called on a failure")
	}
	if d := r.sleeps.all(); len(d) != 1 || d[0] != authn.DefaultFailureDelay {
		t.Errorf("failure delays = %v, want [%v]", d, authn.DefaultFailureDelay)
	}
	want := `level=WARN msg="auth failed" client_ip=192.0.2.7 login=` + ex.loggedAs + ` mechanism=` + mech + ` listener=submission tls=true reason=`
	if ex.loggedAs != "" && !strings.Contains(log, want) {
		t.Errorf("log lacks %q:\n%s", want, log)
	}
	if !strings.Contains(log, ex.reason) {
		t.Errorf("log lacks reason %q:\n%s", ex.reason, log)
	}
	if strings.Count(log, "\n") != 1 {
		t.Errorf("want exactly one log line per attempt:\n%s", log)
	}
}

func TestPlain(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", authn.MaxCredentialLength+1)
	tests := []exchange{
		{name: "initial response", steps: []step{ok("\x00alice\x00alice-pw")}, dirCalls: 1, succeeded: true},
		{name: "authzid equals login", steps: []step{ok("alice\x00alice\x00alice-pw")}, dirCalls: 1, succeeded: true},
		{name: "no initial response", steps: []step{prompt(nil, ""), ok("\x00alice\x00alice-pw")}, dirCalls: 1, succeeded: true},
		{name: "answer after done", steps: []step{ok("\x00alice\x00alice-pw"), refuse("x", authn.KindMalformed)}, dirCalls: 1, succeeded: true},
		{name: "authzid mismatch", steps: []step{refuse("bob\x00alice\x00alice-pw", authn.KindInvalidCredentials)},
			loggedAs: "alice", reason: `authorization identity \"bob\" differs from login`},
		{name: "wrong password", steps: []step{refuse("\x00alice\x00guess", authn.KindInvalidCredentials)},
			dirCalls: 1, loggedAs: "alice", reason: `reason="invalid credentials"`},
		{name: "unknown user", steps: []step{refuse("\x00carol\x00alice-pw", authn.KindInvalidCredentials)},
			dirCalls: 1, loggedAs: "carol", reason: `reason="invalid credentials"`},
		{name: "disabled", steps: []step{refuse("\x00bob\x00bob-pw", authn.KindInvalidCredentials)},
			dirCalls: 1, loggedAs: "bob", reason: `reason="account disabled"`},
		{name: "empty password", steps: []step{refuse("\x00alice\x00", authn.KindInvalidCredentials)},
			loggedAs: "alice", reason: `reason="empty password"`},
		{name: "unavailable", steps: []step{refuse("\x00alice\x00alice-pw", authn.KindUnavailable)},
			dirErr: directory.ErrUnavailable, dirCalls: 1, loggedAs: "alice", reason: `reason="directory unavailable"`},
		{name: "unknown directory error", steps: []step{refuse("\x00alice\x00alice-pw", authn.KindUnavailable)},
			dirErr: errors.New("boom"), dirCalls: 1, loggedAs: "alice", reason: `reason="directory error"`},
		{name: "no NUL", steps: []step{refuse("alicealice-pw", authn.KindMalformed)}, reason: "PLAIN response not understood"},
		{name: "one NUL", steps: []step{refuse("alice\x00alice-pw", authn.KindMalformed)}, reason: "PLAIN response not understood"},
		{name: "three NULs", steps: []step{refuse("\x00alice\x00alice-pw\x00", authn.KindMalformed)}, reason: "PLAIN response not understood"},
		{name: "empty response", steps: []step{refuse("", authn.KindMalformed)}, reason: "PLAIN response not understood"},
		{name: "empty username", steps: []step{refuse("\x00\x00alice-pw", authn.KindMalformed)}, reason: "empty username"},
		{name: "control character in username", steps: []step{refuse("\x00al\nice\x00alice-pw", authn.KindMalformed)}, reason: "control characters"},
		{name: "username too long", steps: []step{refuse("\x00"+long+"\x00pw", authn.KindMalformed)}, reason: "username longer than 1024 bytes"},
		{name: "password too long", steps: []step{refuse("\x00alice\x00"+long, authn.KindMalformed)},
			loggedAs: "alice", reason: "password longer than 1024 bytes"},
		{name: "authzid too long", steps: []step{refuse(long+"\x00alice\x00pw", authn.KindMalformed)}, reason: "authorization identity longer"},
		{name: "response too long", steps: []step{refuse(long+long+long+"\x00\x00", authn.KindMalformed)}, reason: "PLAIN response longer than 3074 bytes"},
	}
	for _, ex := range tests {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			run(t, "PLAIN", ex)
		})
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	long := []byte(strings.Repeat("x", authn.MaxCredentialLength+1))
	tests := []exchange{
		{name: "prompts", steps: []step{prompt(nil, "Username:"), prompt([]byte("alice"), "Password:"), ok("alice-pw")}, dirCalls: 1, succeeded: true},
		{name: "initial response is the username", steps: []step{prompt([]byte("alice"), "Password:"), ok("alice-pw")}, dirCalls: 1, succeeded: true},
		{name: "empty initial response", steps: []step{prompt([]byte{}, "Username:"), prompt([]byte("alice"), "Password:"), ok("alice-pw")}, dirCalls: 1, succeeded: true},
		{name: "answer after done", steps: []step{prompt([]byte("alice"), "Password:"), ok("alice-pw"), refuse("more", authn.KindMalformed)}, dirCalls: 1, succeeded: true},
		{name: "wrong password", steps: []step{prompt(nil, "Username:"), prompt([]byte("alice"), "Password:"), refuse("guess", authn.KindInvalidCredentials)},
			dirCalls: 1, loggedAs: "alice", reason: `reason="invalid credentials"`},
		{name: "disabled", steps: []step{prompt([]byte("bob"), "Password:"), refuse("bob-pw", authn.KindInvalidCredentials)},
			dirCalls: 1, loggedAs: "bob", reason: `reason="account disabled"`},
		{name: "empty password", steps: []step{prompt([]byte("alice"), "Password:"), refuse("", authn.KindInvalidCredentials)},
			loggedAs: "alice", reason: `reason="empty password"`},
		{name: "empty username", steps: []step{prompt(nil, "Username:"), prompt([]byte{}, "Password:"), refuse("alice-pw", authn.KindMalformed)},
			reason: "empty username"},
		{name: "unavailable", steps: []step{prompt([]byte("alice"), "Password:"), refuse("alice-pw", authn.KindUnavailable)},
			dirErr: directory.ErrUnavailable, dirCalls: 1, loggedAs: "alice", reason: `reason="directory unavailable"`},
		{name: "username too long", steps: []step{prompt(nil, "Username:"), {response: long, done: true, kind: authn.KindMalformed}},
			reason: "response longer than 1024 bytes"},
		{name: "password too long", steps: []step{prompt([]byte("alice"), "Password:"), {response: long, done: true, kind: authn.KindMalformed}},
			reason: "response longer than 1024 bytes"},
	}
	for _, ex := range tests {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			run(t, "LOGIN", ex)
		})
	}
}

func TestNewLoginServer(t *testing.T) {
	t.Parallel()
	sentinel := errors.New("no")
	var gotUser, gotPass string
	srv := authn.NewLoginServer(func(u, p string) error { gotUser, gotPass = u, p; return sentinel })
	if c, done, err := srv.Next(nil); string(c) != "Username:" || done || err != nil {
		t.Fatalf("Next(nil) = %q, %v, %v", c, done, err)
	}
	if c, done, err := srv.Next([]byte("u\x00x")); string(c) != "Password:" || done || err != nil {
		t.Fatalf("Next(username) = %q, %v, %v", c, done, err)
	}
	if _, done, err := srv.Next([]byte("p\x00w")); !done || err != sentinel {
		t.Fatalf("Next(password) = %v, %v; want done and check's own error", done, err)
	}
	if gotUser != "u\x00x" || gotPass != "p\x00w" {
		t.Errorf("check got %q, %q", gotUser, gotPass)
	}
	// Oversized input never reaches check.
	srv = authn.NewLoginServer(func(u, p string) error { t.Error("check called"); return nil })
	var ae *authn.Error
	if _, _, err := srv.Next(make([]byte, authn.MaxCredentialLength+1)); !errors.As(err, &ae) || ae.Kind != authn.KindMalformed {
		t.Errorf("long username: err = %v, want KindMalformed", err)
	}
	srv = authn.NewLoginServer(func(u, p string) error { t.Error("check called"); return nil })
	_, _, _ = srv.Next([]byte("u"))
	if _, _, err := srv.Next(make([]byte, authn.MaxCredentialLength+1)); !errors.As(err, &ae) || ae.Kind != authn.KindMalformed {
		t.Errorf("long password: err = %v, want KindMalformed", err)
	}
}

func TestFailureLogNeverShowsPassword(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const password = "Tr0ub4dor&3-unique"
	payload := "\x00alice\x00" + password
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		srv, err := r.auth.NewServer(context.Background(), mech, testConn, nil)
		if err != nil {
			t.Fatal(err)
		}
		if mech == "PLAIN" {
			_, _, err = srv.Next([]byte(payload))
		} else {
			_, _, _ = srv.Next([]byte("alice"))
			_, _, err = srv.Next([]byte(password))
		}
		if err == nil {
			t.Fatalf("%s: wrong password accepted", mech)
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("%s: error text %q holds the password", mech, err)
		}
	}
	log := r.log.String()
	for _, secret := range []string{password, "Tr0ub4dor", "AGFsaWNlAFRyMHViNGRvciYzLXVuaXF1ZQ"} {
		if strings.Contains(log, secret) {
			t.Errorf("log holds %q:\n%s", secret, log)
		}
	}
	for _, want := range []string{"client_ip=192.0.2.7", "login=alice", "mechanism=PLAIN", "mechanism=LOGIN", `msg="auth failed"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestFailureDelay(t *testing.T) {
	t.Parallel()
	type ctxKey struct{}
	tests := []struct {
		name string
		opts authn.Options
		want []time.Duration
	}{
		{"default", authn.Options{}, []time.Duration{time.Second}},
		{"explicit", authn.Options{FailureDelay: 3 * time.Second}, []time.Duration{3 * time.Second}},
		{"none", authn.Options{NoFailureDelay: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rec sleeps
			ctx := context.WithValue(context.Background(), ctxKey{}, "attempt")
			tt.opts.Logger = slog.New(slog.DiscardHandler)
			tt.opts.Sleep = func(c context.Context, d time.Duration) error {
				if c.Value(ctxKey{}) != "attempt" {
					t.Error("Sleep did not get the attempt's context")
				}
				return rec.sleep(c, d)
			}
			a, err := authn.New(&fakeDir{}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			srv, _ := a.NewServer(ctx, "PLAIN", testConn, nil)
			if _, _, err := srv.Next([]byte("\x00alice\x00guess")); err == nil {
				t.Fatal("wrong password accepted")
			}
			if got := rec.all(); len(got) != len(tt.want) || (len(got) == 1 && got[0] != tt.want[0]) {
				t.Errorf("delays = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFailureDelayEndsWithContext(t *testing.T) {
	t.Parallel()
	// A real timer an hour long: the test ends only because the context is
	// done.
	a, err := authn.New(&fakeDir{}, authn.Options{FailureDelay: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, _ := a.NewServer(ctx, "LOGIN", testConn, nil)
	_, _, _ = srv.Next([]byte("alice"))
	cancel()
	var ae *authn.Error
	if _, _, err := srv.Next([]byte("guess")); !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *authn.Error", err)
	}
	// The directory saw the cancelled context and could not answer.
	if ae.Kind != authn.KindUnavailable || !errors.Is(ae, context.Canceled) {
		t.Errorf("err = %v (%s), want KindUnavailable wrapping context.Canceled", ae.Kind, ae.Reason)
	}
}

func TestUnsupportedMechanism(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	srv, err := r.auth.NewServer(context.Background(), "CRAM-MD5", testConn, nil)
	var ae *authn.Error
	if srv != nil || !errors.As(err, &ae) || ae.Kind != authn.KindUnsupported {
		t.Fatalf("NewServer(CRAM-MD5) = %v, %v; want KindUnsupported", srv, err)
	}
	if strings.Contains(r.log.String(), "auth failed") {
		t.Errorf("an unsupported mechanism is logged as a failed attempt:\n%s", r.log)
	}
	if len(r.sleeps.all()) != 0 {
		t.Error("an unsupported mechanism is delayed")
	}
	// Mechanism names ignore case.
	if _, err := r.auth.NewServer(context.Background(), "plain", testConn, nil); err != nil {
		t.Errorf("NewServer(plain): %v", err)
	}
}

func TestMechanisms(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	got := r.auth.Mechanisms()
	if len(got) != 2 || got[0] != sasl.Plain || got[1] != sasl.Login {
		t.Errorf("Mechanisms() = %v", got)
	}
	got[0] = "changed"
	if r.auth.Mechanisms()[0] != sasl.Plain {
		t.Error("Mechanisms returns shared state")
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	if _, err := authn.New(nil, authn.Options{}); err == nil {
		t.Error("New(nil directory) succeeded")
	}
	for _, o := range []authn.Options{
		{FailureDelay: -time.Second},
		{FailureDelay: time.Second, NoFailureDelay: true},
	} {
		if _, err := authn.New(&fakeDir{}, o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

func TestIPv4MappedLoggedAsIPv4(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	info := testConn
	info.RemoteIP = netip.AddrFrom16(info.RemoteIP.As16()) // ::ffff:192.0.2.7
	srv, _ := r.auth.NewServer(context.Background(), "PLAIN", info, nil)
	_, _, _ = srv.Next([]byte("\x00alice\x00guess"))
	if !strings.Contains(r.log.String(), "client_ip=192.0.2.7 ") {
		t.Errorf("log: %s", r.log)
	}
}
