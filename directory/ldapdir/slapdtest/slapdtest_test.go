package slapdtest_test

import (
	"testing"

	"bridgehead.dev/bridgehead/directory/ldapdir/slapdtest"
	"github.com/go-ldap/ldap/v3"
)

const seed = `dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people

dn: uid=locked,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: locked
cn: Locked
sn: Locked
userPassword: pw
pwdAccountLockedTime: 000001010000Z

dn: uid=ok,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: user
uid: ok
cn: Ok
sn: Ok
sAMAccountName: ok
userAccountControl: 512
userPassword: pw
`

func TestServer(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Config{LDIF: seed, ADSchema: true})
	bind := func(dn string) error {
		c, err := ldap.DialURL(s.URL)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Bind(dn, "pw")
	}
	if err := bind("uid=ok,ou=people,dc=example,dc=test"); err != nil {
		t.Fatalf("bind ok: %v", err)
	}
	if err := bind("uid=locked,ou=people,dc=example,dc=test"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind locked: got %v, want 49", err)
	}
	a := s.SearchCount(t)
	b := s.SearchCount(t)
	if b != a+1 {
		t.Fatalf("monitor counts %d then %d", a, b)
	}
	s.Stop(t)
	if err := bind("uid=ok,ou=people,dc=example,dc=test"); err == nil {
		t.Fatal("bind while stopped succeeded")
	}
	s.Start(t)
	if err := bind("uid=ok,ou=people,dc=example,dc=test"); err != nil {
		t.Fatalf("bind after restart: %v", err)
	}
}
