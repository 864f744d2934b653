package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// ErrNoListener means no configured listener has the given name.
var ErrNoListener = errors.New("gateway: no such listener")

// ErrNotRunning means the gateway does not serve (before Run or after it
// returned), so a listener cannot be started.
var ErrNotRunning = errors.New("gateway: not running")

// pausedReply is the answer to a connection made while its listener is
// paused.
const pausedReply = "421 4.3.2 Service not available, try again later\r\n"

// Listener states in ListenerStatus.State.
const (
	StateRunning = "running"
	StatePaused  = "paused"
	StateStopped = "stopped"
)

// ListenerStatus describes one configured listener.
type ListenerStatus struct {
	// Name and Address are the listener's configured name and bound
	// address (the configured one while stopped); Mode is its mode.
	Name    string `json:"name"`
	Address string `json:"address"`
	Mode    Mode   `json:"mode"`
	// State is running, paused (new connections refused 421 4.3.2) or
	// stopped (port closed).
	State string `json:"state"`
	// Paused listeners refuse new connections; a stopped listener may be
	// paused too, and is so once started.
	Paused bool `json:"paused"`
	// Connections counts the sessions open on it, including those still
	// draining after a stop or a reload.
	Connections int `json:"connections"`
}

// Listeners describes the configured listeners, in configuration order.
func (g *Gateway) Listeners() []ListenerStatus {
	ctl := g.ctl
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	drained := map[string]int{}
	for st := range ctl.drains {
		drained[st.lo.Name] += st.sessions()
	}
	out := make([]ListenerStatus, 0, len(ctl.vs))
	for _, v := range ctl.vs {
		st := ListenerStatus{Name: v.opts.Name, Address: v.opts.Address, Mode: v.opts.Mode, Paused: v.paused,
			State: StateStopped, Connections: drained[v.opts.Name]}
		if v.run != nil {
			st.Address = v.run.ln.Addr().String()
			st.Connections += v.run.cur.Load().sessions()
			st.State = StateRunning
			if v.paused {
				st.State = StatePaused
			}
		}
		out = append(out, st)
	}
	return out
}

// find returns the listener called name. ctl.mu is held.
func (g *Gateway) find(name string) (*vserver, error) {
	for _, v := range g.ctl.vs {
		if v.opts.Name == name {
			return v, nil
		}
	}
	return nil, fmt.Errorf("listener %q: %w", name, ErrNoListener)
}

// Pause makes listener name answer new connections with 421 4.3.2 and
// close them; sessions in progress go on. The state lasts until Resume,
// across Stop/Start and Update. It returns an error wrapping ErrNoListener
// when no listener has that name.
func (g *Gateway) Pause(name string) error { return g.setPaused(name, true) }

// Resume makes a paused listener accept connections again.
func (g *Gateway) Resume(name string) error { return g.setPaused(name, false) }

func (g *Gateway) setPaused(name string, paused bool) error {
	g.ctl.mu.Lock()
	defer g.ctl.mu.Unlock()
	v, err := g.find(name)
	if err != nil {
		return err
	}
	if v.run != nil {
		v.run.cur.Load().ll.paused.Store(paused)
	}
	if v.paused != paused {
		v.paused = paused
		g.current().log.Info("listener state changed", slog.String("listener", name), slog.Bool("paused", paused))
	}
	return nil
}

// Stop closes listener name's socket, so that connections to its port are
// refused, and drains its sessions in the background: they get
// ShutdownGrace to finish before their connections are closed. It returns
// once the port is closed. Stopping a stopped listener does nothing; the
// state lasts until Start, across Update.
func (g *Gateway) Stop(name string) error {
	g.ctl.mu.Lock()
	defer g.ctl.mu.Unlock()
	v, err := g.find(name)
	if err != nil {
		return err
	}
	v.stopped = true
	g.stopLocked(v, g.current().opts.ShutdownGrace)
	return nil
}

// Start makes a stopped listener listen again, with its current options;
// it returns an error when the address cannot be bound, or wrapping
// ErrNotRunning outside Run. Starting a running listener does nothing.
func (g *Gateway) Start(ctx context.Context, name string) error {
	g.ctl.mu.Lock()
	defer g.ctl.mu.Unlock()
	v, err := g.find(name)
	if err != nil {
		return err
	}
	if v.run != nil {
		v.stopped = false
		return nil
	}
	if !g.ctl.running {
		return fmt.Errorf("listener %q: %w", name, ErrNotRunning)
	}
	ln, err := listen(ctx, v.opts)
	if err != nil {
		return err
	}
	v.stopped = false
	g.startLocked(v, ln)
	return nil
}
