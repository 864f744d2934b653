package queue

import (
	"testing"
	"time"
)

func TestNewID(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	prev := ""
	for i := range 2000 {
		id := newID(t0.Add(time.Duration(i) * time.Millisecond))
		if len(id) != 16 || !validID(id) {
			t.Fatalf("id %q: length %d, valid %v", id, len(id), validID(id))
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		if id <= prev {
			t.Fatalf("id %q made after %q sorts before it", id, prev)
		}
		prev = id
	}
	for _, bad := range []string{"", "a/b", "..", "a.json", "a b", string(make([]byte, 65))} {
		if validID(bad) {
			t.Errorf("validID(%q) = true", bad)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	o := Options{Dir: "/q", Deliverer: nopDeliverer{}}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(o.Retry) != 4 || o.Expire != 48*time.Hour || o.Workers != 32 || o.ShutdownGrace != 30*time.Second ||
		o.Logger == nil || o.Now == nil || o.CreateTemp == nil {
		t.Errorf("defaults not filled: %+v", o)
	}
	for n, want := range map[int]time.Duration{0: 15 * time.Minute, 1: 15 * time.Minute, 2: 30 * time.Minute, 4: 4 * time.Hour, 9: 4 * time.Hour} {
		if got := o.retryAfter(n); got != want {
			t.Errorf("retryAfter(%d) = %v, want %v", n, got, want)
		}
	}
	for name, bad := range map[string]Options{
		"no dir":       {Deliverer: nopDeliverer{}},
		"no deliverer": {Dir: "/q"},
		"bad retry":    {Dir: "/q", Deliverer: nopDeliverer{}, Retry: []time.Duration{time.Minute, 0}},
		"bad expire":   {Dir: "/q", Deliverer: nopDeliverer{}, Expire: -time.Hour},
		"bad workers":  {Dir: "/q", Deliverer: nopDeliverer{}, Workers: -1},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: Validate succeeded", name)
		}
	}
}
