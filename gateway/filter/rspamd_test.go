package filter

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

var testEnv = &Envelope{QueueID: "QID1", ClientIP: "192.0.2.7", Helo: "client.example",
	From: "alice@example.com", Rcpts: []string{"rcpt@example.org", "two@example.org"}, Login: "alice"}

func TestRspamdRequestAndActions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		action  string
		code    int
		headers int
	}{
		{"no action", 0, 0},
		{"add header", 0, 2},
		{"rewrite subject", 0, 2},
		{"greylist", 451, 0},
		{"soft reject", 451, 0},
		{"reject", 550, 0},
		{"something new", 451, 0},
	} {
		t.Run(tc.action, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				h := r.Header
				if r.Method != http.MethodPost || r.URL.Path != "/checkv2" || string(body) != "msg" ||
					h.Get("IP") != "192.0.2.7" || h.Get("Helo") != "client.example" || h.Get("From") != "alice@example.com" ||
					strings.Join(h.Values("Rcpt"), ",") != "rcpt@example.org,two@example.org" ||
					h.Get("User") != "alice" || h.Get("Queue-Id") != "QID1" {
					t.Errorf("request %s %s %v %q", r.Method, r.URL.Path, h, body)
				}
				json.NewEncoder(w).Encode(map[string]any{"action": tc.action, "score": 7.5, "required_score": 15,
					"symbols": map[string]any{"B_SYM": map[string]any{"score": 2.5}, "A_SYM": map[string]any{"score": 5}}})
			}))
			defer srv.Close()
			r, err := NewRspamd(RspamdOptions{URL: srv.URL + "/"})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Check(context.Background(), testEnv, []byte("msg"))
			if tc.code != 0 {
				wantRejection(t, err, tc.code, "")
				return
			}
			if err != nil || len(res.Headers) != tc.headers {
				t.Fatalf("%+v %v", res, err)
			}
			if tc.headers > 0 && (res.Headers[0] != "X-Spam-Status: Yes, score=7.50 required=15.00" ||
				res.Headers[1] != "X-Spamd-Result: default: True [7.50 / 15.00]; A_SYM(5.00); B_SYM(2.50)") {
				t.Errorf("headers %q", res.Headers)
			}
		})
	}
}

func TestRspamdFailures(t *testing.T) {
	t.Parallel()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Queue-Id") == "500" {
			http.Error(w, "oops", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("not json"))
	}))
	defer bad.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	for _, tc := range []struct {
		url, qid string
	}{{bad.URL, "500"}, {bad.URL, "json"}, {down.URL, ""}} {
		r, _ := NewRspamd(RspamdOptions{URL: tc.url})
		_, err := r.Check(context.Background(), &Envelope{QueueID: tc.qid}, []byte("m"))
		wantRejection(t, err, 451, "try again later")
		r, _ = NewRspamd(RspamdOptions{URL: tc.url, OnError: Accept})
		res, err := r.Check(context.Background(), &Envelope{QueueID: tc.qid}, []byte("m"))
		if err != nil || len(res.Headers) != 1 {
			t.Errorf("%s %s accept: %+v %v", tc.url, tc.qid, res, err)
		}
	}
	if _, err := NewRspamd(RspamdOptions{URL: "ftp://x"}); err == nil {
		t.Error("ftp URL accepted")
	}
}

// TestRspamdReal checks messages with a real rspamd.
func TestRspamdReal(t *testing.T) {
	t.Parallel()
	rs := testservers.StartRspamd(t)
	r, err := NewRspamd(RspamdOptions{URL: rs.URL})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(text string) []byte {
		return crlf("From: alice@example.com\nTo: rcpt@example.org\nSubject: hi\nMessage-ID: <1@example.com>\n" +
			"Date: Mon, 23 Nov 2026 10:00:00 +0000\n\n" + text + "\n")
	}
	rep, err := r.Score(context.Background(), testEnv, msg("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Action != "no action" {
		t.Errorf("clean message: action %q", rep.Action)
	}
	if _, ok := rep.Symbols[testservers.RspamdEnvSymbol]; !ok {
		t.Errorf("rspamd did not see the envelope (IP, HELO, user, queue id, rcpt): symbols %v", rep.Symbols)
	}
	if res, err := r.Check(context.Background(), testEnv, msg("hello")); err != nil || len(res.Headers) != 0 {
		t.Errorf("clean: %+v %v", res, err)
	}
	res, err := r.Check(context.Background(), testEnv, msg(testservers.RspamdAddHeader))
	if err != nil || len(res.Headers) != 2 || !strings.HasPrefix(res.Headers[0], "X-Spam-Status: Yes, score=7.") ||
		!strings.Contains(res.Headers[1], "BRIDGEHEAD_TEST_ADD_HEADER(7.00)") {
		t.Errorf("add header: %+v %v", res, err)
	}
	_, err = r.Check(context.Background(), testEnv, msg(testservers.RspamdGreylist))
	wantRejection(t, err, 451, "")
	_, err = r.Check(context.Background(), testEnv, msg(testservers.GTUBE))
	wantRejection(t, err, 550, "spam")
}
