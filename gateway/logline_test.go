package gateway

import (
	"log/slog"
	"testing"

	"bridgehead.dev/bridgehead/internal/logtest"
)

// An accepted message is logged once, by the queue, with what the session
// knows of its client: listener, address, login, HELO name and TLS.
func TestQueuedLoggedOnceWithSession(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	tg := startGateway(t, func(st *setup) {
		st.Opts.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		st.Queue.Logger = st.Opts.Logger
	})
	c := tg.authenticated(t, lnSubmission)
	if r := c.send1(alice, []string{bob}, message(alice, "logged")); !r.is(250, "2.0.0") {
		t.Fatalf("DATA = %v, want 250 2.0.0", r)
	}
	id := tg.onlyQueued(t).env.ID

	var queued []map[string]any
	for _, l := range logs.Records(t) {
		if l["queue_id"] == id && (l["msg"] == "queued" || l["msg"] == "message queued") {
			queued = append(queued, l)
		}
	}
	if len(queued) != 1 {
		t.Fatalf("%d lines log the acceptance of %s, want 1: %v", len(queued), id, queued)
	}
	want := map[string]any{
		"msg": "queued", "listener": lnSubmission, "client_ip": "127.0.0.1", "login": aliceLogin,
		"helo": "client.example.net", "tls": "TLSv1.3", "from": alice, "rcpts": float64(1),
	}
	for k, v := range want {
		if queued[0][k] != v {
			t.Errorf("queued line %s = %v, want %v (line %v)", k, queued[0][k], v, queued[0])
		}
	}
}
