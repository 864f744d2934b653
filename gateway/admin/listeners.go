package admin

import (
	"errors"
	"log/slog"
	"net/http"

	"bridgehead.dev/bridgehead/gateway"
)

// Listeners is what the admin API needs to control the SMTP listeners;
// *gateway.Gateway has it.
type Listeners interface {
	Listeners() []gateway.ListenerStatus
	Pause(name string) error
	Resume(name string) error
}

var _ Listeners = (*gateway.Gateway)(nil)

// ListenerResult is the answer of a POST on a listener.
type ListenerResult struct {
	Name   string `json:"name"`
	Action string `json:"action"`
}

// listenerRoutes registers the listener endpoints.
func (s *Server) listenerRoutes() {
	s.mux.HandleFunc("GET /api/listeners", s.listenerList)
	s.mux.HandleFunc("POST /api/listeners/{name}/{action}", s.listenerAction)
}

func (s *Server) listenerList(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Listeners == nil {
		writeError(w, http.StatusNotFound, "listener control is not available")
		return
	}
	out := s.opts.Listeners.Listeners()
	if out == nil {
		out = []gateway.ListenerStatus{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listenerAction(w http.ResponseWriter, r *http.Request) {
	if s.opts.Listeners == nil {
		writeError(w, http.StatusNotFound, "listener control is not available")
		return
	}
	name, action := r.PathValue("name"), r.PathValue("action")
	var err error
	switch action {
	case "pause":
		err = s.opts.Listeners.Pause(name)
	case "resume":
		err = s.opts.Listeners.Resume(name)
	default:
		writeError(w, http.StatusNotFound, "unknown listener action "+action+" (this version has pause and resume)")
		return
	}
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, gateway.ErrNoListener) {
			status = http.StatusNotFound
		}
		writeError(w, status, err.Error())
		return
	}
	s.log.Info("admin: listener action", slog.String("action", action), slog.String("listener", name))
	writeJSON(w, http.StatusOK, ListenerResult{Name: name, Action: action})
}
