package logtest

import (
	"log/slog"
	"sync"
	"testing"
)

// Records written from many goroutines come back whole, one per line, and
// Messages picks those with one msg.
func TestConcurrentRecords(t *testing.T) {
	var b Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := "even"
			if i%2 == 1 {
				msg = "odd"
			}
			log.Info(msg, "i", i)
		}()
	}
	wg.Wait()
	if n := len(b.Records(t)); n != 50 {
		t.Errorf("%d records, want 50", n)
	}
	odd := b.Messages(t, "odd")
	if len(odd) != 25 {
		t.Fatalf("%d odd records, want 25", len(odd))
	}
	for _, r := range odd {
		if int(r["i"].(float64))%2 != 1 {
			t.Errorf("odd record %v has an even i", r)
		}
	}
}
