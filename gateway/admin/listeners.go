package admin

import (
	"context"
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
	Stop(name string) error
	Start(ctx context.Context, name string) error
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
	s.mux.HandleFunc("POST /reload", s.reload)
}

// ReloadResult is the answer of POST /reload.
type ReloadResult struct {
	Reloaded bool `json:"reloaded"`
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reload == nil {
		writeError(w, http.StatusNotFound, "reload is not available")
		return
	}
	// A reload half done when the client goes away would still be applied
	// by the signal path; let it finish.
	if err := s.opts.Reload(context.WithoutCancel(r.Context())); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, ErrBadConfig) {
			status = http.StatusBadRequest
		}
		writeError(w, status, err.Error())
		return
	}
	s.log.Info("admin: reloaded")
	writeJSON(w, http.StatusOK, ReloadResult{Reloaded: true})
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
	case "stop":
		err = s.opts.Listeners.Stop(name)
	case "start":
		err = s.opts.Listeners.Start(r.Context(), name)
	default:
		writeError(w, http.StatusNotFound, "unknown listener action "+action+" (pause, resume, stop or start)")
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
