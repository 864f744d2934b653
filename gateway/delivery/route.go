package delivery

import (
	"strings"
)

// router picks a target for a recipient.
type router struct {
	routes   []routeEntry
	backends map[string]*target
	// next holds the failover targets after a route's first target.
	next map[*target][]*target
}

type routeEntry struct {
	domains []string
	target  *target
}

// domainOf returns the lower-case domain of an address ("" when none).
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

// lookup returns the target for a recipient: the named back end when it
// exists, else the first route whose domains match, else nil. It reports
// whether an unknown back end name was skipped.
func (r *router) lookup(backend, addr string) (t *target, unknownBackend bool) {
	if backend != "" {
		if t, ok := r.backends[backend]; ok {
			return t, false
		}
		unknownBackend = true
	}
	return r.match(domainOf(addr)), unknownBackend
}

// match returns the target of the first route matching domain, or nil.
func (r *router) match(domain string) *target {
	for _, e := range r.routes {
		for _, d := range e.domains {
			if d == "*" || d == domain {
				return e.target
			}
		}
	}
	return nil
}
