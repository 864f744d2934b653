package gateway

import (
	"errors"
	"fmt"
	"log/slog"
)

// ErrNoListener means no running listener has the given name.
var ErrNoListener = errors.New("gateway: no such listener")

// pausedReply is the answer to a connection made while its listener is
// paused.
const pausedReply = "421 4.3.2 Service not available, try again later\r\n"

// ListenerStatus describes one running listener.
type ListenerStatus struct {
	// Name and Address are the listener's configured name and bound
	// address; Mode is its mode.
	Name    string `json:"name"`
	Address string `json:"address"`
	Mode    Mode   `json:"mode"`
	// Paused listeners refuse new connections.
	Paused bool `json:"paused"`
	// Connections counts the sessions open on it.
	Connections int `json:"connections"`
}

// Listeners describes the running listeners, in configuration order; none
// before Run has bound them.
func (g *Gateway) Listeners() []ListenerStatus {
	g.mu.Lock()
	lls := g.listeners
	g.mu.Unlock()
	out := make([]ListenerStatus, 0, len(lls))
	for _, l := range lls {
		st := ListenerStatus{Name: l.name, Address: l.Addr().String(), Paused: l.paused.Load()}
		for _, lo := range g.opts.Listeners {
			if lo.Name == l.name {
				st.Mode = lo.Mode
			}
		}
		l.mu.Lock()
		st.Connections = l.total
		l.mu.Unlock()
		out = append(out, st)
	}
	return out
}

// Pause makes listener name answer new connections with 421 4.3.2 and
// close them; sessions in progress go on. The state lasts until Resume or
// the end of Run. It returns an error wrapping ErrNoListener when no
// running listener has that name.
func (g *Gateway) Pause(name string) error { return g.setPaused(name, true) }

// Resume makes a paused listener accept connections again.
func (g *Gateway) Resume(name string) error { return g.setPaused(name, false) }

func (g *Gateway) setPaused(name string, paused bool) error {
	g.mu.Lock()
	lls := g.listeners
	g.mu.Unlock()
	for _, l := range lls {
		if l.name == name {
			if l.paused.Swap(paused) != paused {
				g.log.Info("listener state changed", slog.String("listener", name), slog.Bool("paused", paused))
			}
			return nil
		}
	}
	return fmt.Errorf("listener %q: %w", name, ErrNoListener)
}
