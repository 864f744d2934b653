package ldapdir

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"bridgehead.dev/bridgehead/directory"
)

func TestDefaultsAndPresets(t *testing.T) {
	t.Parallel()
	o := Options{URLs: []string{"ldap://a"}, BaseDN: "dc=x"}.withDefaults()
	if o.Schema != SchemaOpenLDAP || o.Timeout != 5*time.Second || o.PoolSize != 4 ||
		o.Cache.Size != 10000 || o.Cache.TTL != 5*time.Minute || o.Cache.NegativeTTL != time.Minute ||
		o.Cache.StaleFor != 0 || o.InsecureSkipVerify || o.LoginAttribute != "uid" || o.RoutingAttribute != "mailHost" {
		t.Errorf("openldap defaults: %+v", o)
	}
	ad := Options{Schema: "ActiveDirectory", UserFilter: "(cn=%s)", RoutingAttribute: "homeMDB"}.withDefaults()
	if ad.UserFilter != "(cn=%s)" || ad.RoutingAttribute != "homeMDB" || ad.DisabledBits != 2 ||
		ad.ProxyAddressesAttribute != "proxyAddresses" || ad.LoginAttribute != "sAMAccountName" {
		t.Errorf("activedirectory with overrides: %+v", ad)
	}
	own := Options{Schema: SchemaActiveDirectory, DisabledAttribute: "accountStatus", DisabledValue: "inactive"}.withDefaults()
	if own.DisabledBits != 0 {
		t.Errorf("own disabled attribute kept the preset's bits: %+v", own)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := Options{URLs: []string{"ldaps://dc1.example.test", "ldap://dc2.example.test:389"}, BaseDN: "dc=example,dc=test",
		BindDN: "cn=svc", BindPasswordFile: "/run/secrets/ldap"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good options: %v", err)
	}
	for _, tc := range []struct {
		change func(*Options)
		want   string
	}{
		{func(o *Options) { o.URLs = nil }, "urls"},
		{func(o *Options) { o.URLs = []string{"http://x"} }, "scheme"},
		{func(o *Options) { o.URLs = []string{"ldap://"} }, "no host"},
		{func(o *Options) { o.StartTLS = true }, "start_tls on an ldaps"},
		{func(o *Options) { o.BaseDN = "" }, "base_dn"},
		{func(o *Options) { o.BindPasswordFile = "" }, "bind_password_file"},
		{func(o *Options) { o.Schema = "novell" }, "schema"},
		{func(o *Options) { o.UserFilter = "(uid=alice)" }, "user_filter"},
		{func(o *Options) { o.SendAsGroups = true; o.GroupFilter = "(cn=x)" }, "group_filter"},
		{func(o *Options) { o.PoolSize = -1 }, "pool_size"},
		{func(o *Options) { o.Cache.TTL = -time.Second }, "cache"},
	} {
		o := good
		o.URLs = slices.Clone(good.URLs)
		tc.change(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error with %q, got %v", tc.want, err)
		}
	}
}

func TestFilterEscaping(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"alice":         "(|(uid=alice)(mail=alice))",
		"*":             `(|(uid=\2a)(mail=\2a))`,
		"a)(uid=*":      `(|(uid=a\29\28uid=\2a)(mail=a\29\28uid=\2a))`,
		`\`:             `(|(uid=\5c)(mail=\5c))`,
		"a\x00":         `(|(uid=a\00)(mail=a\00))`,
		"%s":            "(|(uid=%s)(mail=%s))",
		"cn=Smith\\, A": `(|(uid=cn=Smith\5c, A)(mail=cn=Smith\5c, A))`,
	} {
		got := filter("(|(uid=%s)(mail=%s))", in)
		if got != want {
			t.Errorf("filter(%q) = %s, want %s", in, got, want)
		}
		if _, err := ldap.CompileFilter(got); err != nil {
			t.Errorf("filter(%q) does not compile: %v", in, err)
		}
	}
}

func entry(attrs map[string][]string) *ldap.Entry {
	return ldap.NewEntry("cn=x", attrs)
}

func TestAddresses(t *testing.T) {
	t.Parallel()
	ad := Options{Schema: SchemaActiveDirectory}.withDefaults()
	e := entry(map[string][]string{
		"mail":           {"Alice@example.test"},
		"proxyAddresses": {"smtp:a.smith@example.test", "X500:/o=Corp/cn=alice", "SIP:alice@example.test", "SMTP:alice@example.test", "smtp:alice@example.test", "smtp:", "x400:c=US;a= ;p=Corp"},
	})
	if got := ad.addresses(e); !slices.Equal(got, []string{"alice@example.test", "a.smith@example.test"}) {
		t.Errorf("AD addresses = %q", got)
	}
	ol := Options{}.withDefaults()
	e = entry(map[string][]string{"mail": {"bob@example.test"}, "mailLocalAddress": {"b@example.test", "BOB@example.test"}})
	if got := ol.addresses(e); !slices.Equal(got, []string{"bob@example.test", "b@example.test"}) {
		t.Errorf("openldap addresses = %q", got)
	}
}

func TestDisabled(t *testing.T) {
	t.Parallel()
	ad := Options{Schema: SchemaActiveDirectory}.withDefaults()
	for uac, want := range map[string]bool{"512": false, "514": true, "2": true, "66048": false, "66050": true, "junk": false} {
		if got := ad.disabled(entry(map[string][]string{"userAccountControl": {uac}})); got != want {
			t.Errorf("userAccountControl %s: disabled = %v", uac, got)
		}
	}
	ol := Options{}.withDefaults()
	if ol.disabled(entry(nil)) || !ol.disabled(entry(map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}})) {
		t.Error("ppolicy lock not recognised")
	}
	val := Options{DisabledAttribute: "accountStatus", DisabledValue: "inactive"}.withDefaults()
	if !val.disabled(entry(map[string][]string{"accountStatus": {"Inactive"}})) || val.disabled(entry(map[string][]string{"accountStatus": {"active"}})) {
		t.Error("disabled by value")
	}
}

func TestBackendAndKind(t *testing.T) {
	t.Parallel()
	ad := Options{Schema: SchemaActiveDirectory}.withDefaults()
	if got := ad.backend(entry(map[string][]string{"msExchHomeServerName": {"/o=Corp/ou=Exchange/cn=Configuration/cn=Servers/cn=MAIL1"}})); got != "MAIL1" {
		t.Errorf("X.500 backend = %q", got)
	}
	ol := Options{}.withDefaults()
	if got := ol.backend(entry(map[string][]string{"mailHost": {"mailstore1"}})); got != "mailstore1" {
		t.Errorf("backend = %q", got)
	}
	for _, tc := range []struct {
		attrs map[string][]string
		want  directory.RecipientKind
	}{
		{map[string][]string{"objectClass": {"top", "GroupOfNames"}, "uid": {"x"}}, directory.KindGroup},
		{map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {"x"}}, directory.KindUser},
		{map[string][]string{"objectClass": {"inetOrgPerson"}}, directory.KindContact},
	} {
		if got := ol.kind(entry(tc.attrs)); got != tc.want {
			t.Errorf("kind(%v) = %s, want %s", tc.attrs, got, tc.want)
		}
	}
}

func TestValidInput(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"alice": true, "a@b": true, "": false, "a\x00": false, "a\nb": false, strings.Repeat("a", 321): false, "Ünïcode": true} {
		if validInput(s) != want {
			t.Errorf("validInput(%q) != %v", s, want)
		}
	}
}
