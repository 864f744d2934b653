package main

import (
	"bridgehead.dev/bridgehead/directory/ldapdir"
)

// ldapConfig is directory.ldap: the LDAP directory. Keys left out take the
// defaults of ldapdir.Options and its schema preset.
type ldapConfig struct {
	URLs                    []string        `yaml:"urls"`
	BindDN                  string          `yaml:"bind_dn"`
	BindPasswordFile        string          `yaml:"bind_password_file"`
	BaseDN                  string          `yaml:"base_dn"`
	Schema                  string          `yaml:"schema"` // openldap | activedirectory
	StartTLS                bool            `yaml:"start_tls"`
	CAFile                  string          `yaml:"ca_file"`
	InsecureSkipVerify      bool            `yaml:"insecure_skip_verify"`
	Timeout                 Duration        `yaml:"timeout"`   // default 5s
	PoolSize                int             `yaml:"pool_size"` // default 4
	UserFilter              string          `yaml:"user_filter"`
	RecipientFilter         string          `yaml:"recipient_filter"`
	GroupFilter             string          `yaml:"group_filter"`
	GroupClasses            []string        `yaml:"group_classes"`
	AddressAttributes       []string        `yaml:"address_attributes"`
	ProxyAddressesAttribute string          `yaml:"proxy_addresses_attribute"`
	LoginAttribute          string          `yaml:"login_attribute"`
	RoutingAttribute        string          `yaml:"routing_attribute"`
	DisabledAttribute       string          `yaml:"disabled_attribute"`
	DisabledValue           string          `yaml:"disabled_value"`
	DisabledBits            uint64          `yaml:"disabled_bits"`
	SendAsGroups            bool            `yaml:"send_as_groups"`
	Cache                   ldapCacheConfig `yaml:"cache"`
}

// ldapCacheConfig is directory.ldap.cache.
type ldapCacheConfig struct {
	Disabled    bool     `yaml:"disabled"`
	Size        int      `yaml:"size"`         // default 10000
	TTL         Duration `yaml:"ttl"`          // default 5m
	NegativeTTL Duration `yaml:"negative_ttl"` // default 1m
	StaleFor    Duration `yaml:"stale_for"`    // default 0: never stale
}

// options maps c onto ldapdir.Options; the caller adds Logger.
func (c *ldapConfig) options() ldapdir.Options {
	return ldapdir.Options{
		URLs:                    append([]string(nil), c.URLs...),
		BindDN:                  c.BindDN,
		BindPasswordFile:        c.BindPasswordFile,
		BaseDN:                  c.BaseDN,
		Schema:                  c.Schema,
		UserFilter:              c.UserFilter,
		RecipientFilter:         c.RecipientFilter,
		GroupFilter:             c.GroupFilter,
		GroupClasses:            append([]string(nil), c.GroupClasses...),
		AddressAttributes:       append([]string(nil), c.AddressAttributes...),
		ProxyAddressesAttribute: c.ProxyAddressesAttribute,
		LoginAttribute:          c.LoginAttribute,
		RoutingAttribute:        c.RoutingAttribute,
		DisabledAttribute:       c.DisabledAttribute,
		DisabledValue:           c.DisabledValue,
		DisabledBits:            c.DisabledBits,
		SendAsGroups:            c.SendAsGroups,
		StartTLS:                c.StartTLS,
		CAFile:                  c.CAFile,
		InsecureSkipVerify:      c.InsecureSkipVerify,
		Timeout:                 c.Timeout.D(),
		PoolSize:                c.PoolSize,
		Cache: ldapdir.CacheOptions{
			Disabled:    c.Cache.Disabled,
			Size:        c.Cache.Size,
			TTL:         c.Cache.TTL.D(),
			NegativeTTL: c.Cache.NegativeTTL.D(),
			StaleFor:    c.Cache.StaleFor.D(),
		},
	}
}

// ldapKeyOf names the config key an ldapdir.Options.Validate message is
// about (its messages start with the key), so its line can be found.
func ldapKeyOf(msg string) string {
	for _, k := range []string{
		"schema", "urls", "base_dn", "bind_password_file", "user_filter",
		"recipient_filter", "group_filter", "address_attributes",
		"login_attribute", "timeout", "pool_size", "cache",
	} {
		if len(msg) >= len(k) && msg[:len(k)] == k {
			return k
		}
	}
	return ""
}
