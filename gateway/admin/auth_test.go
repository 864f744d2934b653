package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"bridgehead.dev/bridgehead/gateway/admin"
	"bridgehead.dev/bridgehead/gateway/testservers"
)

// serveTLS runs an admin API with token and TLS on loopback and returns
// its https base URL and a client trusting its certificate.
func serveTLS(t *testing.T, opts admin.Options) (string, *http.Client) {
	t.Helper()
	server, client := testservers.TLSPair(t, "localhost")
	opts.TLSConfig = server
	if opts.Logger == nil {
		opts.Logger = logger(t)
	}
	srv, err := admin.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	_, port, _ := net.SplitHostPort(serve(t, srv))
	return "https://localhost:" + port, &http.Client{Transport: &http.Transport{TLSClientConfig: client}}
}

// get does method url with token (none when "") and returns the status
// and the WWW-Authenticate header.
func get(t *testing.T, hc *http.Client, method, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// With a token, every endpoint but the probes needs it, over TLS;
// endpoints added later (e.g. /metrics) are behind it too.
func TestTokenOverTLS(t *testing.T) {
	t.Parallel()
	e := start(t)
	srv := admin.Options{Queue: e.q, Token: "s3cret-token"}
	base, hc := serveTLS(t, srv)
	for _, p := range []string{"/healthz", "/readyz"} {
		if st, _ := get(t, hc, "GET", base+p, ""); st != 200 {
			t.Errorf("%s without token: %d", p, st)
		}
	}
	for _, p := range []string{"/api/status", "/api/queue", "/metrics"} {
		st, wa := get(t, hc, "GET", base+p, "")
		if st != http.StatusUnauthorized || !strings.HasPrefix(wa, "Bearer") {
			t.Errorf("%s without token: %d %q, want 401 with WWW-Authenticate", p, st, wa)
		}
		if st, _ := get(t, hc, "GET", base+p, "wrong"); st != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: %d", p, st)
		}
	}
	if st, _ := get(t, hc, "GET", base+"/api/status", "s3cret-token"); st != 200 {
		t.Errorf("status with the token: %d", st)
	}
	if st, _ := get(t, hc, "POST", base+"/api/queue/retry", "s3cret-token"); st != 200 {
		t.Errorf("retry with the token: %d", st)
	}
	// Plain HTTP to the TLS port does not get through.
	plain := strings.Replace(base, "https://", "http://", 1)
	if resp, err := http.Get(plain + "/api/status"); err == nil {
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP answered 200")
		}
		resp.Body.Close()
	}
}

// Off loopback Serve refuses to run without a token and TLS.
func TestServeOffLoopbackNeedsTokenAndTLS(t *testing.T) {
	t.Parallel()
	e := start(t)
	server, _ := testservers.TLSPair(t, "localhost")
	for _, o := range []admin.Options{
		{Queue: e.q},
		{Queue: e.q, Token: "x"},
		{Queue: e.q, TLSConfig: server},
	} {
		o.Logger = logger(t)
		srv, err := admin.New(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Serve(t.Context(), fakeListener{}); !errors.Is(err, admin.ErrNotLoopback) {
			t.Errorf("Serve off loopback with token %q, TLS %v = %v, want ErrNotLoopback", o.Token, o.TLSConfig != nil, err)
		}
	}
}

// fakeListener claims an address off loopback; Serve must not accept on it.
type fakeListener struct{}

func (fakeListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (fakeListener) Close() error              { return nil }
func (fakeListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 8025}
}

// POST /reload answers 200, 400 for a bad config with its message, 500
// otherwise.
func TestReloadEndpoint(t *testing.T) {
	t.Parallel()
	e := start(t)
	var (
		mu   sync.Mutex
		next error
	)
	set := func(err error) { mu.Lock(); next = err; mu.Unlock() }
	base, hc := serveTLS(t, admin.Options{Queue: e.q, Token: "tok", Reload: func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return next
	}})
	if st, _ := get(t, hc, "POST", base+"/reload", ""); st != http.StatusUnauthorized {
		t.Errorf("reload without token: %d", st)
	}
	if st, _ := get(t, hc, "POST", base+"/reload", "tok"); st != 200 {
		t.Errorf("reload: %d", st)
	}
	set(fmt.Errorf("%w: bridgehead.yaml:3: hostname is required", admin.ErrBadConfig))
	if st, _ := get(t, hc, "POST", base+"/reload", "tok"); st != http.StatusBadRequest {
		t.Errorf("reload of a bad config: %d", st)
	}
	set(errors.New("listen: address in use"))
	if st, _ := get(t, hc, "POST", base+"/reload", "tok"); st != http.StatusInternalServerError {
		t.Errorf("reload failing: %d", st)
	}
}
