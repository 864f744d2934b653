package main

import (
	"log/slog"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/gateway"
	"bridgehead.dev/bridgehead/gateway/queue"
)

func TestQueueStats(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	if st := queueStats(nil, now); st.Messages != 0 || st.OldestAge != 0 {
		t.Errorf("empty queue: %+v", st)
	}
	envs := []*queue.Envelope{{Received: now.Add(-time.Minute)}, {Received: now.Add(-time.Hour)}, {Received: now}}
	if st := queueStats(envs, now); st.Messages != 3 || st.OldestAge != time.Hour {
		t.Errorf("queue stats %+v, want 3 messages, oldest 1h", st)
	}
}

// A nil observability (metrics off) wires nothing and does not panic.
func TestNilObservability(t *testing.T) {
	t.Parallel()
	var o *observability
	var gopts gateway.Options
	o.gatewayOptions(&gopts, &Config{})
	o.close()
	if o.reportHook() != nil || gopts.Metrics != nil {
		t.Error("nil observability wired something")
	}
}

// The same protocol log directory gets the same log at reload.
func TestProtocolLogReused(t *testing.T) {
	t.Parallel()
	o := newObservability(slog.New(slog.DiscardHandler))
	defer o.close()
	cfg := &Config{Hostname: "gw.example.test", Listeners: []ListenerConfig{
		{Name: "submission", ProtocolLog: ProtocolLogConfig{Dir: t.TempDir()}},
		{Name: "inbound"},
	}}
	build := func() gateway.Options {
		g := gateway.Options{Listeners: []gateway.ListenerOptions{{Name: "submission"}, {Name: "inbound"}}}
		o.gatewayOptions(&g, cfg)
		return g
	}
	first, second := build(), build()
	if first.Metrics == nil || first.Listeners[0].ProtocolLog == nil || first.Listeners[1].ProtocolLog != nil {
		t.Fatalf("options not wired: %+v", first)
	}
	if first.Listeners[0].ProtocolLog != second.Listeners[0].ProtocolLog {
		t.Error("reload opened a second log for the same directory")
	}
}
