// Package ldapdir is the LDAP directory: logins, send-as addresses,
// recipients and their back ends, read from OpenLDAP or Active Directory
// with go-ldap, through a small pool of service connections and an
// expirable LRU cache.
package ldapdir

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Schema presets.
const (
	// SchemaOpenLDAP reads inetOrgPerson entries with misc.schema's
	// inetLocalMailRecipient (mailLocalAddress, mailHost) and ppolicy.
	SchemaOpenLDAP = "openldap"
	// SchemaActiveDirectory reads AD users, groups and contacts
	// (sAMAccountName, proxyAddresses, userAccountControl).
	SchemaActiveDirectory = "activedirectory"
)

// Options configure a Directory. Zero values take the defaults given in each
// field's comment; filters and attributes left empty come from the Schema
// preset.
type Options struct {
	// URLs are the servers, tried in order (ldap:// or ldaps://). Required.
	URLs []string
	// BindDN is the service account used for searches ("" = anonymous).
	BindDN string
	// BindPasswordFile holds BindDN's password (trailing newline ignored).
	// It is read at every new connection, so a rotated file is picked up at
	// reconnect. Required when BindDN is set.
	BindPasswordFile string
	// BaseDN is where searches start. Required.
	BaseDN string
	// Schema is SchemaOpenLDAP (default) or SchemaActiveDirectory.
	Schema string

	// UserFilter finds a login; every %s is replaced by the login escaped
	// per RFC 4515. openldap: (&(objectClass=inetOrgPerson)(uid=%s));
	// activedirectory: users by sAMAccountName or userPrincipalName.
	UserFilter string
	// RecipientFilter finds the user, group or contact owning an address
	// (%s as in UserFilter). openldap: mail or mailLocalAddress;
	// activedirectory: proxyAddresses (smtp:%s) or mail.
	RecipientFilter string
	// GroupFilter finds the groups a user is a member of, for send-as; %s is
	// the user's DN, escaped. openldap: (&(objectClass=groupOfNames)(member=%s));
	// activedirectory: (&(objectClass=group)(member=%s)). For nested AD groups
	// use (member:1.2.840.113556.1.4.1941:=%s).
	GroupFilter string
	// GroupClasses are the objectClass values that make a recipient a group.
	// openldap: groupOfNames, groupOfUniqueNames; activedirectory: group.
	GroupClasses []string
	// AddressAttributes hold plain addresses, the primary first.
	// openldap: mail, mailLocalAddress; activedirectory: mail.
	AddressAttributes []string
	// ProxyAddressesAttribute holds AD-style typed addresses: "SMTP:" the
	// primary, "smtp:" secondaries, other types ignored.
	// activedirectory: proxyAddresses; openldap: none.
	ProxyAddressesAttribute string
	// LoginAttribute holds the canonical login of a user entry; an entry
	// found by RecipientFilter without it is a contact.
	// openldap: uid; activedirectory: sAMAccountName.
	LoginAttribute string
	// RoutingAttribute names the back end holding a mailbox. An X.500-style
	// value (/o=…/cn=NAME, as in msExchHomeServerName) gives its last cn.
	// openldap: mailHost; activedirectory: msExchHomeServerName.
	RoutingAttribute string
	// DisabledAttribute marks disabled accounts: the account is disabled
	// when the attribute is present (DisabledValue and DisabledBits empty),
	// equals DisabledValue (ignoring case), or has one of DisabledBits set.
	// openldap: pwdAccountLockedTime (ppolicy); activedirectory:
	// userAccountControl with DisabledBits 0x2.
	DisabledAttribute string
	// DisabledValue: see DisabledAttribute.
	DisabledValue string
	// DisabledBits: see DisabledAttribute.
	DisabledBits uint64
	// SendAsGroups lets a user send as the addresses of the groups found by
	// GroupFilter (shared mailboxes). Default false.
	SendAsGroups bool

	// StartTLS upgrades ldap:// connections before binding.
	StartTLS bool
	// CAFile is a PEM bundle trusted for ldaps:// and StartTLS ("" = the
	// system roots).
	CAFile string
	// InsecureSkipVerify turns certificate verification off. Default false;
	// for tests only.
	InsecureSkipVerify bool
	// Timeout bounds every dial, bind and search. Default 5s.
	Timeout time.Duration
	// PoolSize is the number of service connections. Default 4.
	PoolSize int
	// Cache configures the lookup cache.
	Cache CacheOptions
	// Logger receives warnings and errors (nil = discard).
	Logger *slog.Logger
	// Now is the clock for cache freshness (nil = time.Now); for tests.
	Now func() time.Time
	// OnCacheLookup, if set, is told whether each LookupUser and
	// LookupRecipient was answered from the cache (for metrics). It must
	// be quick and safe for concurrent use.
	OnCacheLookup func(hit bool)
	// OnRequest, if set, is told how long each LDAP search ("search") and
	// password check ("bind") took (for metrics). It must be quick and
	// safe for concurrent use.
	OnRequest func(op string, took time.Duration)
}

// CacheOptions configure the cache of LookupUser and LookupRecipient
// answers. Password checks are never cached.
type CacheOptions struct {
	// Disabled turns the cache off.
	Disabled bool
	// Size is the number of answers kept, found and not found each.
	// Default 10000.
	Size int
	// TTL is how long a found answer is used. Default 5m.
	TTL time.Duration
	// NegativeTTL is how long a not-found answer is used. Default 1m.
	NegativeTTL time.Duration
	// StaleFor is how long past its TTL a found answer may still be served
	// while LDAP is unavailable. Default 0: never serve stale answers.
	// Not-found answers are never served stale.
	StaleFor time.Duration
}

var presets = map[string]Options{
	SchemaOpenLDAP: {
		UserFilter:        "(&(objectClass=inetOrgPerson)(uid=%s))",
		RecipientFilter:   "(|(mail=%s)(mailLocalAddress=%s))",
		GroupFilter:       "(&(objectClass=groupOfNames)(member=%s))",
		GroupClasses:      []string{"groupOfNames", "groupOfUniqueNames"},
		AddressAttributes: []string{"mail", "mailLocalAddress"},
		LoginAttribute:    "uid",
		RoutingAttribute:  "mailHost",
		DisabledAttribute: "pwdAccountLockedTime",
	},
	SchemaActiveDirectory: {
		UserFilter:              "(&(objectClass=user)(!(objectClass=computer))(|(sAMAccountName=%s)(userPrincipalName=%s)))",
		RecipientFilter:         "(|(proxyAddresses=smtp:%s)(mail=%s))",
		GroupFilter:             "(&(objectClass=group)(member=%s))",
		GroupClasses:            []string{"group"},
		AddressAttributes:       []string{"mail"},
		ProxyAddressesAttribute: "proxyAddresses",
		LoginAttribute:          "sAMAccountName",
		RoutingAttribute:        "msExchHomeServerName",
		DisabledAttribute:       "userAccountControl",
		DisabledBits:            0x2,
	},
}

// withDefaults returns o with defaults and the preset filled in.
func (o Options) withDefaults() Options {
	if o.Schema == "" {
		o.Schema = SchemaOpenLDAP
	}
	o.Schema = strings.ToLower(o.Schema)
	if p, ok := presets[o.Schema]; ok {
		fill := func(dst *string, v string) {
			if *dst == "" {
				*dst = v
			}
		}
		fill(&o.UserFilter, p.UserFilter)
		fill(&o.RecipientFilter, p.RecipientFilter)
		fill(&o.GroupFilter, p.GroupFilter)
		fill(&o.ProxyAddressesAttribute, p.ProxyAddressesAttribute)
		fill(&o.LoginAttribute, p.LoginAttribute)
		fill(&o.RoutingAttribute, p.RoutingAttribute)
		if o.DisabledAttribute == "" {
			o.DisabledAttribute = p.DisabledAttribute
			if o.DisabledValue == "" && o.DisabledBits == 0 {
				o.DisabledBits = p.DisabledBits
			}
		}
		if len(o.GroupClasses) == 0 {
			o.GroupClasses = p.GroupClasses
		}
		if len(o.AddressAttributes) == 0 {
			o.AddressAttributes = p.AddressAttributes
		}
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.PoolSize == 0 {
		o.PoolSize = 4
	}
	if o.Cache.Size == 0 {
		o.Cache.Size = 10000
	}
	if o.Cache.TTL == 0 {
		o.Cache.TTL = 5 * time.Minute
	}
	if o.Cache.NegativeTTL == 0 {
		o.Cache.NegativeTTL = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports what is wrong with o after defaults are applied; nil
// when New may use it.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if _, ok := presets[o.Schema]; !ok {
		errs = append(errs, fmt.Errorf("schema %q: want %q or %q", o.Schema, SchemaOpenLDAP, SchemaActiveDirectory))
	}
	if len(o.URLs) == 0 {
		errs = append(errs, errors.New("urls: at least one server is required"))
	}
	for _, s := range o.URLs {
		u, err := url.Parse(s)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("urls: %q: %w", s, err))
		case u.Scheme != "ldap" && u.Scheme != "ldaps":
			errs = append(errs, fmt.Errorf("urls: %q: scheme must be ldap or ldaps", s))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("urls: %q: no host", s))
		case u.Scheme == "ldaps" && o.StartTLS:
			errs = append(errs, fmt.Errorf("urls: %q: start_tls on an ldaps URL", s))
		}
	}
	if o.BaseDN == "" {
		errs = append(errs, errors.New("base_dn is required"))
	}
	if o.BindDN != "" && o.BindPasswordFile == "" {
		errs = append(errs, errors.New("bind_password_file is required with bind_dn"))
	}
	for name, f := range map[string]string{"user_filter": o.UserFilter, "recipient_filter": o.RecipientFilter} {
		if !strings.Contains(f, "%s") {
			errs = append(errs, fmt.Errorf("%s %q: no %%s", name, f))
		}
	}
	if o.SendAsGroups && !strings.Contains(o.GroupFilter, "%s") {
		errs = append(errs, fmt.Errorf("group_filter %q: no %%s", o.GroupFilter))
	}
	if len(o.AddressAttributes) == 0 && o.ProxyAddressesAttribute == "" {
		errs = append(errs, errors.New("address_attributes: none"))
	}
	if o.LoginAttribute == "" {
		errs = append(errs, errors.New("login_attribute is required"))
	}
	if o.Timeout < 0 {
		errs = append(errs, errors.New("timeout must be positive"))
	}
	if o.PoolSize < 1 {
		errs = append(errs, errors.New("pool_size must be at least 1"))
	}
	if o.Cache.Size < 0 || o.Cache.TTL < 0 || o.Cache.NegativeTTL < 0 || o.Cache.StaleFor < 0 {
		errs = append(errs, errors.New("cache: size and durations must not be negative"))
	}
	return errors.Join(errs...)
}
