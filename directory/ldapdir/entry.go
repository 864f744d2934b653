package ldapdir

import (
	"slices"
	"strconv"
	"strings"

	"bridgehead.dev/bridgehead/directory"
	"github.com/go-ldap/ldap/v3"
)

// filter substitutes value, escaped per RFC 4515, for every %s in tmpl.
func filter(tmpl, value string) string {
	return strings.ReplaceAll(tmpl, "%s", ldap.EscapeFilter(value))
}

// attributes lists what searches ask for.
func (o *Options) attributes() []string {
	attrs := []string{"objectClass", o.LoginAttribute}
	attrs = append(attrs, o.AddressAttributes...)
	for _, a := range []string{o.ProxyAddressesAttribute, o.RoutingAttribute, o.DisabledAttribute} {
		if a != "" {
			attrs = append(attrs, a)
		}
	}
	return attrs
}

// addresses returns the entry's addresses, the primary first, without
// duplicates (ignoring case). An AD "SMTP:" proxy address is the primary;
// then the plain attributes in order; then "smtp:" proxy addresses. Other
// proxy address types (X500:, SIP:, …) are ignored.
func (o *Options) addresses(e *ldap.Entry) []string {
	var primary, secondary []string
	if o.ProxyAddressesAttribute != "" {
		for _, v := range e.GetAttributeValues(o.ProxyAddressesAttribute) {
			typ, addr, ok := strings.Cut(v, ":")
			if !ok || !strings.EqualFold(typ, "smtp") || !strings.Contains(addr, "@") {
				continue
			}
			if typ == "SMTP" {
				primary = append(primary, addr)
			} else {
				secondary = append(secondary, addr)
			}
		}
	}
	var out []string
	add := func(list []string) {
		for _, a := range list {
			a = strings.TrimSpace(a)
			if a != "" && !slices.ContainsFunc(out, func(b string) bool { return strings.EqualFold(a, b) }) {
				out = append(out, a)
			}
		}
	}
	add(primary)
	for _, attr := range o.AddressAttributes {
		add(e.GetAttributeValues(attr))
	}
	add(secondary)
	return out
}

// disabled reports whether the entry's account may not log in.
func (o *Options) disabled(e *ldap.Entry) bool {
	if o.DisabledAttribute == "" {
		return false
	}
	for _, v := range e.GetAttributeValues(o.DisabledAttribute) {
		switch {
		case o.DisabledBits != 0:
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil && uint64(n)&o.DisabledBits != 0 {
				return true
			}
		case o.DisabledValue != "":
			if strings.EqualFold(strings.TrimSpace(v), o.DisabledValue) {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// backend returns the back-end name from the routing attribute: the value,
// or the last cn= of an X.500-style value such as
// /o=Org/ou=Site/cn=Configuration/cn=Servers/cn=MAIL1.
func (o *Options) backend(e *ldap.Entry) string {
	if o.RoutingAttribute == "" {
		return ""
	}
	v := strings.TrimSpace(e.GetAttributeValue(o.RoutingAttribute))
	if strings.HasPrefix(v, "/") {
		if i := strings.LastIndex(strings.ToLower(v), "/cn="); i >= 0 {
			return v[i+len("/cn="):]
		}
	}
	return v
}

// kind classifies a recipient entry: a group by objectClass, a user when it
// has a login, a contact otherwise.
func (o *Options) kind(e *ldap.Entry) directory.RecipientKind {
	for _, c := range e.GetAttributeValues("objectClass") {
		if slices.ContainsFunc(o.GroupClasses, func(g string) bool { return strings.EqualFold(c, g) }) {
			return directory.KindGroup
		}
	}
	if e.GetAttributeValue(o.LoginAttribute) != "" {
		return directory.KindUser
	}
	return directory.KindContact
}
