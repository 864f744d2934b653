package authn_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
	"bridgehead.dev/bridgehead/gateway/testservers"
)

// testCert is the test certificate: see testservers.TLSPair.
func testCert(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	return testservers.TLSPair(t, "")
}

// tlsProxy terminates implicit TLS on loopback and forwards to a plain
// back end, as a TLS front of Dovecot would. t.Cleanup closes it.
func tlsProxy(t *testing.T, backend string, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	dial := freshSource(2)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				b, err := dial(context.Background(), "tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				done := make(chan struct{})
				go func() { _, _ = io.Copy(b, c); b.(*net.TCPConn).CloseWrite(); close(done) }()
				_, _ = io.Copy(c, b)
				_ = c.(*tls.Conn).CloseWrite()
				<-done
			})
		}
	})
	return ln.Addr().String()
}

// fakeResolver knows carol@example.test only, and fails on cue.
type fakeResolver struct{ err error }

func (r fakeResolver) LookupUser(_ context.Context, login string) (*directory.User, error) {
	if r.err != nil {
		return nil, r.err
	}
	if login == "carol@example.test" {
		return &directory.User{Login: login, Addresses: []string{"carol@example.test", "c.jones@example.test"}}, nil
	}
	return nil, directory.ErrNotFound
}

func (r fakeResolver) LookupRecipient(context.Context, string) (*directory.Recipient, error) {
	return nil, directory.ErrNotFound
}

// countingAuth counts the checks that reach an authenticator.
type countingAuth struct {
	inner directory.Authenticator
	n     atomic.Int64
}

func (c *countingAuth) Authenticate(ctx context.Context, login, password string) (*directory.User, error) {
	c.n.Add(1)
	return c.inner.Authenticate(ctx, login, password)
}

// freshSource dials from a new loopback address each time: Dovecot makes
// an address that failed to log in wait seconds before its next login.
// Each test's dialer counts on its own from first, a byte apart from the
// others'.
func freshSource(first byte) func(ctx context.Context, network, address string) (net.Conn, error) {
	var n atomic.Int64
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		i := n.Add(1)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, first, byte(i/250), byte(1+i%250))}}
		return d.DialContext(ctx, network, address)
	}
}

func newIMAP(t *testing.T, o authn.IMAPOptions) *authn.IMAPVerifier {
	t.Helper()
	if o.Dial == nil {
		o.Dial = freshSource(1)
	}
	v, err := authn.NewIMAPVerifier(o)
	if err != nil {
		t.Fatalf("NewIMAPVerifier: %v", err)
	}
	return v
}

// plainAuth runs one AUTH PLAIN exchange and returns its error.
func plainAuth(a *authn.Authenticator, user, pw string) (*directory.User, error) {
	var got *directory.User
	info := authn.ConnInfo{RemoteIP: netip.MustParseAddr("192.0.2.7"), Listener: "submission", TLS: true}
	srv, err := a.NewServer(context.Background(), sasl.Plain, info, func(u *directory.User) { got = u })
	if err != nil {
		return nil, err
	}
	_, _, err = srv.Next([]byte("\x00" + user + "\x00" + pw))
	return got, err
}

func kindOf(err error) authn.Kind {
	var e *authn.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// TestIMAPVerifierDovecot checks passwords against a real Dovecot: in the
// clear, over implicit TLS (through a TLS front), STARTTLS refused by a
// server that does not offer it, the cache in front, and Dovecot down.
func TestIMAPVerifierDovecot(t *testing.T) {
	t.Parallel()
	dc := testservers.StartDovecot(t, map[string]string{
		"carol@example.test": "carol-pw",
		"dave":               "dave-pw",
	})
	serverTLS, clientTLS := testCert(t)
	tlsAddr := tlsProxy(t, dc.IMAPAddr, serverTLS)
	dial := freshSource(1)
	ctx := context.Background()

	plain := newIMAP(t, authn.IMAPOptions{Dial: dial, Address: dc.IMAPAddr, TLS: authn.IMAPPlaintext, Resolver: fakeResolver{}, Domain: "example.test"})
	implicit := newIMAP(t, authn.IMAPOptions{Dial: dial, Address: tlsAddr, TLS: authn.IMAPImplicitTLS, TLSConfig: clientTLS, Resolver: fakeResolver{}, Domain: "example.test"})

	for name, v := range map[string]*authn.IMAPVerifier{"plaintext": plain, "implicit TLS": implicit} {
		u, err := v.Authenticate(ctx, "carol@example.test", "carol-pw")
		if err != nil {
			t.Fatalf("%s: good password: %v", name, err)
		}
		if len(u.Addresses) != 2 || u.Addresses[1] != "c.jones@example.test" {
			t.Errorf("%s: addresses %v, want the directory's", name, u.Addresses)
		}
		u, err = v.Authenticate(ctx, "dave", "dave-pw")
		if err != nil || len(u.Addresses) != 1 || u.Addresses[0] != "dave@example.test" {
			t.Errorf("%s: dave: %v %v, want dave@example.test by the domain rule", name, u, err)
		}
		if _, err := v.Authenticate(ctx, "carol@example.test", "wrong"); !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Errorf("%s: wrong password: %v", name, err)
		}
		if _, err := v.Authenticate(ctx, "nobody@example.test", "x"); !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Errorf("%s: unknown user: %v", name, err)
		}
	}

	// The directory down while looking up addresses: temporary.
	down := newIMAP(t, authn.IMAPOptions{Dial: dial, Address: dc.IMAPAddr, TLS: authn.IMAPPlaintext, Resolver: fakeResolver{err: directory.ErrUnavailable}})
	if _, err := down.Authenticate(ctx, "carol@example.test", "carol-pw"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("resolver down: %v", err)
	}

	// Certificate not trusted: no password sent, temporary failure.
	untrusted := newIMAP(t, authn.IMAPOptions{Dial: dial, Address: tlsAddr, TLS: authn.IMAPImplicitTLS})
	if _, err := untrusted.Authenticate(ctx, "carol@example.test", "carol-pw"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("untrusted certificate: %v", err)
	}
	// STARTTLS against a server that does not offer it: never in the clear.
	starttls := newIMAP(t, authn.IMAPOptions{Dial: dial, Address: dc.IMAPAddr, TLS: authn.IMAPStartTLS, TLSConfig: clientTLS})
	if _, err := starttls.Authenticate(ctx, "carol@example.test", "carol-pw"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("STARTTLS not offered: %v", err)
	}

	// Through an Authenticator with a cache in front: the second login does
	// not reach Dovecot, a wrong password does.
	counted := &countingAuth{inner: implicit}
	cache, err := authn.NewCache(counted, authn.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := authn.New(cache, authn.Options{NoFailureDelay: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if u, err := plainAuth(a, "carol@example.test", "carol-pw"); err != nil || u == nil {
			t.Fatalf("AUTH PLAIN through the cache: %v", err)
		}
	}
	if n := counted.n.Load(); n != 1 {
		t.Errorf("Dovecot asked %d times for two logins, want 1", n)
	}
	if _, err := plainAuth(a, "carol@example.test", "carol-pW"); kindOf(err) != authn.KindInvalidCredentials {
		t.Errorf("wrong password through the cache: %v", err)
	}
	if n := counted.n.Load(); n != 2 {
		t.Errorf("Dovecot asked %d times, want 2", n)
	}

	// Dovecot down: 454 4.7.0, not 535.
	dc.Stop(t)
	cache.Forget("carol@example.test")
	_, err = plainAuth(a, "carol@example.test", "carol-pw")
	if kindOf(err) != authn.KindUnavailable {
		t.Fatalf("Dovecot down: %v, want KindUnavailable", err)
	}
	if code, enh, _ := err.(*authn.Error).Reply(); code != 454 || enh != [3]int{4, 7, 0} {
		t.Errorf("Dovecot down: reply %d %v, want 454 4.7.0", code, enh)
	}
}

func TestNewIMAPVerifierRefusesBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []authn.IMAPOptions{
		{Address: "no-port"},
		{Address: "127.0.0.1:993", TLS: authn.IMAPTLS(9)},
		{Address: "127.0.0.1:993", Timeout: -1},
	} {
		if _, err := authn.NewIMAPVerifier(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestIMAPVerifierTimeout(t *testing.T) {
	t.Parallel()
	// A server that accepts and never greets.
	addr := testservers.StartSilent(t)
	v := newIMAP(t, authn.IMAPOptions{Address: addr, TLS: authn.IMAPPlaintext})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Authenticate(ctx, "carol", "pw"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("cancelled: %v", err)
	}
	v = newIMAP(t, authn.IMAPOptions{Address: addr, TLS: authn.IMAPPlaintext, Timeout: 50 * time.Millisecond})
	if _, err := v.Authenticate(context.Background(), "carol", "pw"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("silent server: %v", err)
	}
}

// TestIMAPVerifierDovecotTLS turns on Dovecot's own TLS (ssl = yes, with a
// certificate made here) and logs in with STARTTLS and over implicit TLS
// on its imaps port.
func TestIMAPVerifierDovecotTLS(t *testing.T) {
	t.Parallel()
	dc := testservers.StartDovecot(t, map[string]string{"carol@example.test": "carol-pw"})
	serverTLS, clientTLS := testCert(t)
	dc.Stop(t)
	cert := serverTLS.Certificates[0]
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dc.Dir, "tls.crt"), filepath.Join(dc.Dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(dc.Conf)
	if err != nil {
		t.Fatal(err)
	}
	imapsAddr := "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	_, imapsPort, _ := net.SplitHostPort(imapsAddr)
	c := strings.Replace(string(conf), "ssl = no", "ssl = yes\nssl_cert = <"+certFile+"\nssl_key = <"+keyFile, 1)
	// A fresh state_dir: the killed instance's lock there would hold up
	// the restart for seconds.
	c = strings.Replace(c, "state_dir = "+dc.Dir+"/state", "state_dir = "+dc.Dir+"/state2", 1)
	c = strings.Replace(c, "inet_listener imaps {\n    port = 0", "inet_listener imaps {\n    address = 127.0.0.1\n    port = "+imapsPort, 1)
	if !strings.Contains(c, "ssl = yes") || !strings.Contains(c, "/state2") || !strings.Contains(c, "port = "+imapsPort) {
		t.Fatalf("dovecot.conf not as expected:\n%s", conf)
	}
	if err := os.WriteFile(dc.Conf, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	dc.Start(t)

	ctx := context.Background()
	dial := freshSource(3)
	for name, v := range map[string]*authn.IMAPVerifier{
		"STARTTLS":     newIMAP(t, authn.IMAPOptions{Dial: dial, Address: dc.IMAPAddr, TLS: authn.IMAPStartTLS, TLSConfig: clientTLS}),
		"implicit TLS": newIMAP(t, authn.IMAPOptions{Dial: dial, Address: imapsAddr, TLS: authn.IMAPImplicitTLS, TLSConfig: clientTLS}),
	} {
		if u, err := v.Authenticate(ctx, "carol@example.test", "carol-pw"); err != nil || u.Addresses[0] != "carol@example.test" {
			t.Errorf("%s: good password: %v %v", name, u, err)
		}
		if _, err := v.Authenticate(ctx, "carol@example.test", "wrong"); !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Errorf("%s: wrong password: %v", name, err)
		}
	}
}
