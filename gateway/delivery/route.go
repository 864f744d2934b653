package delivery

import (
	"slices"
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
	senders []string // empty: any sender
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
	return r.lookupFrom(backend, "", addr)
}

// lookupFrom is lookup for a message from sender: routes restricted to
// sender domains match only senders of those domains.
func (r *router) lookupFrom(backend, sender, addr string) (t *target, unknownBackend bool) {
	if backend != "" {
		if t, ok := r.backends[backend]; ok {
			return t, false
		}
		unknownBackend = true
	}
	return r.match(domainOf(sender), domainOf(addr)), unknownBackend
}

// match returns the target of the first route matching the sender and
// recipient domains, or nil.
func (r *router) match(senderDomain, domain string) *target {
	for _, e := range r.routes {
		if len(e.senders) > 0 && (senderDomain == "" || !slices.Contains(e.senders, senderDomain)) {
			continue
		}
		for _, d := range e.domains {
			if d == "*" || d == domain {
				return e.target
			}
		}
	}
	return nil
}
