package delivery

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// records returns the log records with message msg.
func (l *lockedBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(l.b.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// The per-transaction summary repeats what the queue logs per recipient
// when everything was delivered, so it is a debug line then; a transaction
// that left a recipient undelivered is a warning naming the route.
func TestDeliverySummaryLevel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		sinkArgs  []string
		wantLevel string // "" for no line at Info and above
	}{
		{"delivered", nil, ""},
		{"refused", []string{"-f", "rcpt", "-B", "550 5.1.1 No such user"}, "WARN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := testservers.StartSink(t, tc.sinkArgs...)
			var logs lockedBuffer
			d := newDeliverer(t, Options{Routes: []Route{sinkRoute(s, "")},
				Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
			deliver(t, d, newMessage("q1", testBody), rcpts("bob@example.test"))
			got := logs.records(t, "delivery")
			switch {
			case tc.wantLevel == "" && len(got) != 0:
				t.Errorf("delivery summary logged at Info or above: %v", got)
			case tc.wantLevel != "" && len(got) != 1:
				t.Errorf("%d delivery summaries, want 1", len(got))
			case tc.wantLevel != "" && (got[0]["level"] != tc.wantLevel || got[0]["route"] != "smtp://"+s.Addr || got[0]["queue_id"] != "q1"):
				t.Errorf("summary %v, want level %s, route smtp://%s, queue_id q1", got[0], tc.wantLevel, s.Addr)
			}
		})
	}
}
