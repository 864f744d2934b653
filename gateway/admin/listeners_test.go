package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"bridgehead.dev/bridgehead/gateway"
	"bridgehead.dev/bridgehead/gateway/admin"
)

// fakeListeners records pauses; the real thing is tested in gateway and
// end to end in cmd/bridgehead.
type fakeListeners struct {
	mu      sync.Mutex
	paused  map[string]bool
	stopped bool
}

func (f *fakeListeners) Listeners() []gateway.ListenerStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := gateway.ListenerStatus{Name: "submission", Address: "127.0.0.1:587", Mode: gateway.ModeSubmission, Paused: f.paused["submission"], State: gateway.StateRunning}
	if f.stopped {
		st.State = gateway.StateStopped
	}
	return []gateway.ListenerStatus{st}
}

func (f *fakeListeners) set(name string, p bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != "submission" {
		return fmt.Errorf("listener %q: %w", name, gateway.ErrNoListener)
	}
	f.paused[name] = p
	return nil
}

func (f *fakeListeners) Pause(name string) error  { return f.set(name, true) }
func (f *fakeListeners) Resume(name string) error { return f.set(name, false) }

func (f *fakeListeners) Stop(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	return nil
}

func (f *fakeListeners) Start(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = false
	return nil
}

func TestListeners(t *testing.T) {
	t.Parallel()
	e := start(t)
	fl := &fakeListeners{paused: map[string]bool{}}
	srv, err := admin.New(admin.Options{Queue: e.q, Listeners: fl, Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + serve(t, srv)

	var res admin.ListenerResult
	if st := call(t, "POST", base+"/api/listeners/submission/pause", &res); st != 200 || res.Action != "pause" {
		t.Fatalf("pause: %d %+v", st, res)
	}
	var ls []gateway.ListenerStatus
	if st := call(t, "GET", base+"/api/listeners", &ls); st != 200 || len(ls) != 1 || !ls[0].Paused {
		t.Errorf("list: %d %+v", st, ls)
	}
	if st := call(t, "POST", base+"/api/listeners/submission/resume", &res); st != 200 {
		t.Errorf("resume: %d", st)
	}
	if st := call(t, "POST", base+"/api/listeners/submission/stop", &res); st != 200 || res.Action != "stop" {
		t.Errorf("stop: %d %+v", st, res)
	}
	if st := call(t, "GET", base+"/api/listeners", &ls); st != 200 || len(ls) != 1 || ls[0].State != gateway.StateStopped {
		t.Errorf("list after stop: %d %+v", st, ls)
	}
	if st := call(t, "POST", base+"/api/listeners/submission/start", &res); st != 200 || res.Action != "start" {
		t.Errorf("start: %d %+v", st, res)
	}
	var er admin.Error
	if st := call(t, "POST", base+"/api/listeners/nosuch/pause", &er); st != http.StatusNotFound || er.Error == "" {
		t.Errorf("pause nosuch: %d %+v", st, er)
	}
	if st := call(t, "POST", base+"/api/listeners/submission/explode", &er); st != http.StatusNotFound {
		t.Errorf("unknown action: %d", st)
	}
	// Without listener control the endpoints say so.
	if st := call(t, "GET", e.base+"/api/listeners", &er); st != http.StatusNotFound {
		t.Errorf("list without control: %d", st)
	}
}
