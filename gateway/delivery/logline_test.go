package delivery

import (
	"log/slog"
	"testing"

	"bridgehead.dev/bridgehead/gateway/testservers"
	"bridgehead.dev/bridgehead/internal/logtest"
)

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
			var logs logtest.Buffer
			d := newDeliverer(t, Options{Routes: []Route{sinkRoute(s, "")},
				Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
			deliver(t, d, newMessage("q1", testBody), rcpts("bob@example.test"))
			got := logs.Messages(t, "delivery")
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
