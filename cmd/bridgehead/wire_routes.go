package main

import "strings"

// lowerAll returns the domains lower-cased without a trailing dot, as the
// delivery routes compare them.
func lowerAll(domains []string) []string {
	if len(domains) == 0 {
		return nil
	}
	out := make([]string, len(domains))
	for i, d := range domains {
		out[i] = strings.ToLower(strings.TrimSuffix(d, "."))
	}
	return out
}
