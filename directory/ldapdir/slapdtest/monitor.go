package slapdtest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// SearchCount returns how many search operations slapd has started, read
// from cn=Monitor (monitorOpInitiated: completed operations are counted only
// after the reply is sent, too late for a client that just got it). The read
// itself is one search, so the difference between two calls is the searches
// done in between plus one.
func (s *Server) SearchCount(t testing.TB) uint64 {
	t.Helper()
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatalf("slapdtest: monitor: %v", err)
	}
	defer c.Close()
	if err := c.Bind(RootDN, RootPassword); err != nil {
		t.Fatalf("slapdtest: monitor bind: %v", err)
	}
	res, err := c.Search(ldap.NewSearchRequest("cn=Search,cn=Operations,cn=Monitor",
		ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"monitorOpInitiated"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("slapdtest: monitor search: %v", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(res.Entries[0].GetAttributeValue("monitorOpInitiated")), 10, 64)
	if err != nil {
		t.Fatalf("slapdtest: monitor value: %v", err)
	}
	return n
}
