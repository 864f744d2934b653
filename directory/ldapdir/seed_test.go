package ldapdir_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"bridgehead.dev/bridgehead/directory/ldapdir"
	"bridgehead.dev/bridgehead/directory/ldapdir/slapdtest"
)

// Passwords of the seeded accounts.
const (
	alicePW  = "alice-pw"
	lockedPW = "locked-pw"
	weirdPW  = "weird-pw"
)

func openldapSeed() string {
	return strings.NewReplacer("ALICE", slapdtest.SSHA(alicePW), "LOCKED", slapdtest.SSHA(lockedPW),
		"WEIRD", slapdtest.SSHA(weirdPW)).Replace(`
dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=test
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
uid: alice
cn: Alice Smith
sn: Smith
mail: alice@example.test
mailLocalAddress: a.smith@example.test
mailHost: mailstore1
userPassword: ALICE

dn: uid=bob,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
uid: bob
cn: Bob Jones
sn: Jones
mail: bob@example.test
mailHost: mailstore2
userPassword: ALICE

dn: uid=locked,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: locked
cn: Locked Out
sn: Out
mail: locked@example.test
userPassword: LOCKED
pwdAccountLockedTime: 000001010000Z

dn: uid=weird(1)\5c*,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: weird(1)\*
cn: Weird
sn: Weird
mail: weird@example.test
userPassword: WEIRD

dn: cn=Carol Contact,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
cn: Carol Contact
sn: Contact
mail: carol@example.test

dn: cn=dup1,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
cn: dup1
sn: dup
mailLocalAddress: dup@example.test

dn: cn=dup2,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
cn: dup2
sn: dup
mailLocalAddress: dup@example.test

dn: cn=sales,ou=groups,dc=example,dc=test
objectClass: groupOfNames
objectClass: inetLocalMailRecipient
cn: sales
mailLocalAddress: sales@example.test
mailHost: mailstore1
member: uid=alice,ou=people,dc=example,dc=test

dn: cn=support,ou=groups,dc=example,dc=test
objectClass: groupOfNames
objectClass: inetLocalMailRecipient
cn: support
mailLocalAddress: support@example.test
member: uid=bob,ou=people,dc=example,dc=test
`)
}

func adSeed() string {
	return strings.NewReplacer("ALICE", slapdtest.SSHA(alicePW), "LOCKED", slapdtest.SSHA(lockedPW)).Replace(`
dn: ou=corp,dc=example,dc=test
objectClass: organizationalUnit
ou: corp

dn: cn=Smith\2C Alice,ou=corp,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: user
cn: Smith, Alice
sn: Smith
sAMAccountName: asmith
userPrincipalName: asmith@corp.example.test
mail: alice@example.test
proxyAddresses: smtp:a.smith@example.test
proxyAddresses: SMTP:alice@example.test
proxyAddresses: X500:/o=Corp/ou=Exchange/cn=Recipients/cn=asmith
proxyAddresses: SIP:alice@example.test
userAccountControl: 512
msExchHomeServerName: /o=Corp/ou=Exchange/cn=Configuration/cn=Servers/cn=MAIL1
userPassword: ALICE

dn: cn=Disabled User,ou=corp,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: user
cn: Disabled User
sn: User
sAMAccountName: dis
userPrincipalName: dis@corp.example.test
proxyAddresses: SMTP:dis@example.test
userAccountControl: 514
userPassword: LOCKED

dn: cn=WS01,ou=corp,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: user
objectClass: computer
cn: WS01
sn: WS01
sAMAccountName: ws01$
userAccountControl: 4096
userPassword: ALICE

dn: cn=Shared Mailbox,ou=corp,dc=example,dc=test
objectClass: groupOfNames
objectClass: group
cn: Shared Mailbox
sAMAccountName: shared
proxyAddresses: SMTP:shared@example.test
proxyAddresses: smtp:info@example.test
member: cn=Smith\2C Alice,ou=corp,dc=example,dc=test

dn: cn=Vendor,ou=corp,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: contact
cn: Vendor
sn: Vendor
mail: sales@vendor.example
proxyAddresses: SMTP:vendor@example.test
`)
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func baseOptions(t testing.TB, s *slapdtest.Server, schema string) ldapdir.Options {
	return ldapdir.Options{
		URLs:             []string{s.URL},
		BindDN:           slapdtest.ServiceDN,
		BindPasswordFile: s.ServicePasswordFile,
		BaseDN:           slapdtest.Suffix,
		Schema:           schema,
		SendAsGroups:     true,
		Timeout:          5 * time.Second,
		Logger:           testLogger(t),
	}
}

func newDir(t testing.TB, opts ldapdir.Options) *ldapdir.Directory {
	t.Helper()
	d, err := ldapdir.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
