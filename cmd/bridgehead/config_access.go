package main

import (
	"fmt"
	"net/netip"
	"strings"

	"bridgehead.dev/bridgehead/gateway"
)

// AccessRuleConfig is one entry of a listener's access list: exactly one
// of allow or deny, a CIDR prefix or a single address. The list is
// ordered: the first entry matching a client decides, and clients
// matching none are allowed.
type AccessRuleConfig struct {
	Allow string `yaml:"allow"`
	Deny  string `yaml:"deny"`
}

// parseAccessPrefix reads a CIDR prefix or a single address (as /32 or
// /128).
func parseAccessPrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("parse address %q: %w", s, err)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	pr, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("parse prefix %q: %w", s, err)
	}
	return pr.Masked(), nil
}

// rule turns the entry into a gateway rule; validate has checked it.
func (r AccessRuleConfig) rule() (gateway.AccessRule, error) {
	allow, s := true, r.Allow
	switch {
	case r.Allow != "" && r.Deny != "":
		return gateway.AccessRule{}, fmt.Errorf("both allow and deny given")
	case r.Allow == "" && r.Deny == "":
		return gateway.AccessRule{}, fmt.Errorf("one of allow or deny is required")
	case r.Deny != "":
		allow, s = false, r.Deny
	}
	pr, err := parseAccessPrefix(s)
	if err != nil {
		return gateway.AccessRule{}, err
	}
	return gateway.AccessRule{Allow: allow, Prefix: pr}, nil
}

// accessRules are the listener's access list for the gateway; entries
// that don't parse (refused by validate) are left out.
func (l ListenerConfig) accessRules() []gateway.AccessRule {
	var rules []gateway.AccessRule
	for _, r := range l.Access {
		if ar, err := r.rule(); err == nil {
			rules = append(rules, ar)
		}
	}
	return rules
}

// validateAccess checks each access-list entry of listener i.
func validateAccess(add adder, i int, name string, l ListenerConfig) {
	for j, r := range l.Access {
		key := "allow"
		if r.Allow == "" {
			key = "deny"
		}
		if _, err := r.rule(); err != nil {
			add(p("listeners", i, "access", j, key), "listener %q: access entry %d: %v", name, j+1, err)
		}
	}
}
