package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"

	"bridgehead.dev/bridgehead/gateway/queue"
)

// routes registers the endpoints.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /api/status", s.status)
	s.mux.HandleFunc("GET /api/queue", s.queueList)
	s.mux.HandleFunc("POST /api/queue/retry", s.queueRetryAll)
	s.mux.HandleFunc("GET /api/queue/{id}", s.queueShow)
	s.mux.HandleFunc("POST /api/queue/{id}/{action}", s.queueAction)
	s.listenerRoutes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// notReady returns why the process is not ready, or "".
func (s *Server) notReady() string {
	switch {
	case s.draining.Load():
		return "draining"
	case !s.ready.Load():
		return "starting"
	}
	if err := s.queueWritable(); err != nil {
		return err.Error()
	}
	return ""
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if why := s.notReady(); why != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + why + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Status is the answer of GET /api/status.
type Status struct {
	Ready    bool   `json:"ready"`
	Draining bool   `json:"draining"`
	Reason   string `json:"reason,omitempty"`
	// Queue sums up the queue.
	Queue QueueSummary `json:"queue"`
}

// QueueSummary counts the queued messages.
type QueueSummary struct {
	Messages      int     `json:"messages"`
	Held          int     `json:"held"`
	Recipients    int     `json:"pending_recipients"`
	OldestSeconds float64 `json:"oldest_age_seconds"`
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	why := s.notReady()
	st := Status{Ready: why == "", Draining: s.draining.Load(), Reason: why}
	now := s.opts.Now()
	for _, env := range s.opts.Queue.List() {
		st.Queue.Messages++
		if env.Held {
			st.Queue.Held++
		}
		st.Queue.Recipients += len(env.Pending())
		st.Queue.OldestSeconds = max(st.Queue.OldestSeconds, now.Sub(env.Received).Seconds())
	}
	writeJSON(w, http.StatusOK, st)
}

// queueRetryAll retries every message not held now, or with ?route=NAME
// those with a pending recipient on that route.
func (s *Server) queueRetryAll(w http.ResponseWriter, r *http.Request) {
	route := r.URL.Query().Get("route")
	if route == "" {
		n := s.opts.Queue.RetryAll()
		s.log.Info("admin: retry all", slog.Int("messages", n))
		writeJSON(w, http.StatusOK, ActionResult{Action: "retry", Messages: n})
		return
	}
	if s.opts.RouteOf == nil {
		writeError(w, http.StatusNotFound, "routes are not known to the admin API")
		return
	}
	n := 0
	for _, env := range s.opts.Queue.List() {
		if env.Held || !slices.ContainsFunc(env.Pending(), func(rc *queue.Recipient) bool { return s.routeOf(env, rc) == route }) {
			continue
		}
		// A message being delivered right now is busy: it is being retried.
		if err := s.opts.Queue.RetryNow(env.ID); err == nil || errors.Is(err, queue.ErrBusy) {
			n++
		}
	}
	s.log.Info("admin: retry by route", slog.String("route", route), slog.Int("messages", n))
	writeJSON(w, http.StatusOK, ActionResult{Action: "retry", Route: route, Messages: n})
}

// ActionResult is the answer of a POST on the queue.
type ActionResult struct {
	ID     string `json:"id,omitempty"`
	Action string `json:"action"`
	// Route is the route a retry selected by.
	Route string `json:"route,omitempty"`
	// Messages is how many messages the action touched.
	Messages int `json:"messages"`
}

func (s *Server) queueAction(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	q := s.opts.Queue
	ops := map[string]func(context.Context, string) error{
		"retry":   func(_ context.Context, id string) error { return q.RetryNow(id) },
		"hold":    func(_ context.Context, id string) error { return q.Hold(id) },
		"release": func(_ context.Context, id string) error { return q.Release(id) },
		"delete":  func(_ context.Context, id string) error { return q.Delete(id) },
		"bounce":  q.Bounce,
	}
	// delete?ndr=1 reports to the sender, as bounce does.
	if action == "delete" && r.URL.Query().Get("ndr") != "" && r.URL.Query().Get("ndr") != "0" {
		action = "bounce"
	}
	op, ok := ops[action]
	if !ok {
		writeError(w, http.StatusNotFound, "unknown queue action "+action)
		return
	}
	// A bounce's report is queued under this context: a client going away
	// must not cut it short.
	if err := op(context.WithoutCancel(r.Context()), id); err != nil {
		s.log.Warn("admin: queue action failed", slog.String("action", action),
			slog.String("queue_id", id), slog.Any("error", err))
		writeError(w, errorStatus(err), err.Error())
		return
	}
	s.log.Info("admin: queue action", slog.String("action", action), slog.String("queue_id", id))
	writeJSON(w, http.StatusOK, ActionResult{ID: id, Action: action, Messages: 1})
}

// errorStatus maps a queue error to an HTTP status.
func errorStatus(err error) int {
	switch {
	case errors.Is(err, queue.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, queue.ErrBusy), errors.Is(err, queue.ErrHeld):
		return http.StatusConflict
	case errors.Is(err, queue.ErrClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Error is the JSON body of every error answer.
type Error struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
