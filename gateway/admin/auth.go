package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
)

// authorize requires the bearer token, when one is set, on every request
// but the probes. The comparison takes the same time whatever the token
// given.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := *s.token.Load()
		if want == "" || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		gh, wh := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256([]byte(want))
		if !ok || subtle.ConstantTimeCompare(gh[:], wh[:]) != 1 {
			s.log.Warn("admin: unauthorized request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.String("client", r.RemoteAddr), slog.Bool("token_given", ok))
			w.Header().Set("WWW-Authenticate", `Bearer realm="bridgehead admin"`)
			writeError(w, http.StatusUnauthorized, "a valid bearer token is required")
			return
		}
		next.ServeHTTP(w, r)
	})
}
