package delivery

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway/testservers"
)

// BenchmarkRelayReused relays one message at a time to a real smtp-sink
// over one pooled connection, reused for every message.
func BenchmarkRelayReused(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"100KiB", 100 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			s := testservers.StartSink(b)
			d, err := New(Options{Hostname: "gw.example.test", Logger: slog.New(slog.DiscardHandler), MaxPerRoute: 1, CommandTimeout: 20 * time.Second,
				Routes: []Route{{Domains: []string{"*"}, To: "smtp://" + s.Addr, TLS: PolicyNone}}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { d.Close() })
			// Every tenth line starts with a dot to stuff.
			unit := "." + strings.Repeat("x", 73) + "\r\n" + strings.Repeat(strings.Repeat("x", 74)+"\r\n", 9)
			body := "Subject: bench\r\n\r\n" + strings.Repeat(unit, size.n/len(unit))
			msg := newMessage("b1", body)
			rs := rcpts("bob@example.test")
			ctx := context.Background()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if res := d.Deliver(ctx, msg, rs); !res[0].Delivered() {
					b.Fatalf("%+v", res[0])
				}
			}
		})
	}
}
