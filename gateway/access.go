package gateway

import "net/netip"

// accessDeniedReply answers a client refused by the listener's access list.
const accessDeniedReply = "554 5.7.1 Access denied\r\n"

// AccessRule allows or denies clients whose address is within Prefix.
type AccessRule struct {
	// Allow admits matching clients; false refuses them.
	Allow bool
	// Prefix is the client address range the rule matches.
	Prefix netip.Prefix
}

// allowed reports whether ip may connect under rules: the first rule
// whose prefix contains ip decides; with no match the client is allowed.
func allowed(rules []AccessRule, ip netip.Addr) bool {
	for _, r := range rules {
		if r.Prefix.Contains(ip) {
			return r.Allow
		}
	}
	return true
}
