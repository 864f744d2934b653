// Package dnsresolver is a small caching DNS stub resolver for mail
// delivery: MX, A/AAAA and PTR lookups against one recursive resolver
// (the configured one or the first nameserver of /etc/resolv.conf).
//
// Queries go over UDP and are repeated over TCP when the answer is
// truncated. Answers are cached for their TTL (clamped to MinTTL..MaxTTL),
// "does not exist" answers for the SOA minimum (or DefaultNegativeTTL).
// Errors say whether a name does not exist (ErrNotFound, ErrNoRecords,
// ErrNullMX: permanent) or the lookup failed (ErrTemporary).
package dnsresolver
