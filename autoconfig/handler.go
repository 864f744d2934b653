package autoconfig

import (
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"slices"
	"strings"
)

// Paths served.
const (
	// PathThunderbird is where Thunderbird looks on the mail domain itself.
	PathThunderbird = "/.well-known/autoconfig/mail/config-v1.1.xml"
	// PathThunderbirdHost is where Thunderbird looks on autoconfig.DOMAIN.
	PathThunderbirdHost = "/mail/config-v1.1.xml"
	// PathAutodiscover is Outlook's POX Autodiscover (also served with a
	// capitalised path, as Outlook sends it).
	PathAutodiscover = "/autodiscover/autodiscover.xml"
	// PathMobileconfig is the Apple profile; ?email=ADDRESS is required.
	PathMobileconfig = "/apple/bridgehead.mobileconfig"
)

// Handler answers client autoconfiguration requests; make one with New.
type Handler struct {
	o   Options
	mux *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler for o.
func New(o Options) (*Handler, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{o: o.withDefaults(), mux: http.NewServeMux()}
	h.mux.HandleFunc("GET "+PathThunderbird, h.thunderbird)
	h.mux.HandleFunc("GET "+PathThunderbirdHost, h.thunderbird)
	h.mux.HandleFunc(PathAutodiscover, h.autodiscover)
	h.mux.HandleFunc("/Autodiscover/Autodiscover.xml", h.autodiscover)
	h.mux.HandleFunc("GET "+PathMobileconfig, h.mobileconfig)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// hasDomain reports whether d is one of the configured domains.
func (h *Handler) hasDomain(d string) bool {
	return slices.Contains(h.o.Domains, strings.ToLower(strings.TrimSuffix(d, ".")))
}

// parseAddress checks an e-mail address given by a client and returns it
// with its local part and (lower-case) domain.
func parseAddress(s string) (addr, local, domain string, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 320 {
		return "", "", "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", "", "", false
	}
	i := strings.LastIndexByte(s, '@')
	if i <= 0 || i == len(s)-1 {
		return "", "", "", false
	}
	return s, s[:i], strings.ToLower(s[i+1:]), true
}

// loginFor is the login of address under the configured Username.
func (h *Handler) loginFor(addr, local string) string {
	if h.o.Username == UsernameLocalPart {
		return local
	}
	return addr
}

// requestHostDomain returns D when the request was made to
// autoconfig.D or autodiscover.D, else "".
func requestHostDomain(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, prefix := range []string{"autoconfig.", "autodiscover."} {
		if d, ok := strings.CutPrefix(host, prefix); ok {
			return d
		}
	}
	return ""
}

// refuse answers a request with a plain-text error and logs why.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, code int, why string) {
	h.o.Logger.LogAttrs(r.Context(), slog.LevelDebug, "autoconfig request refused",
		slog.String("path", r.URL.Path), slog.Int("status", code), slog.String("reason", why))
	http.Error(w, http.StatusText(code), code)
}
